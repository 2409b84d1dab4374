# SPDX-License-Identifier: MIT
# Development: smallest sizes, one task per target, single NAT, short retention.
environment        = "dev"
region             = "eu-west-1"
availability_zones = ["eu-west-1a", "eu-west-1b"]
vpc_cidr           = "10.40.0.0/16"
single_nat_gateway = true
domain_name        = "dev.digital-tracking.com"
certificate_arn    = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000001"
image              = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/dtm:develop"
log_level          = "debug"
log_retention_days = 14

services = {
  gateway       = { port = 3000, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
  auth          = { port = 3001, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
  users         = { port = 3002, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
  todos         = { port = 3003, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2, uploads = true }
  stores        = { port = 3004, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
  attendance    = { port = 3005, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2, uploads = true }
  reports       = { port = 3006, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
  notifications = { port = 3007, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
  visits        = { port = 3008, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
  audits        = { port = 3009, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2, uploads = true }
  approvals     = { port = 3010, cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
}

db_instance_class        = "db.t4g.micro"
db_allocated_storage     = 20
db_multi_az              = false
db_backup_retention_days = 7
db_deletion_protection   = false

redis_node_type = "cache.t4g.micro"
redis_replicas  = 0

backup_glacier_after_days = 30
backup_expire_after_days  = 90
waf_rate_limit            = 2000
