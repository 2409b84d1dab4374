# SPDX-License-Identifier: MIT
# Staging: production shape at a smaller scale (two tasks per target, Multi-AZ off).
environment        = "staging"
region             = "eu-west-1"
availability_zones = ["eu-west-1a", "eu-west-1b"]
vpc_cidr           = "10.41.0.0/16"
single_nat_gateway = true
domain_name        = "staging.digital-tracking.com"
certificate_arn    = "arn:aws:acm:eu-west-1:222222222222:certificate/00000000-0000-0000-0000-000000000002"
image              = "222222222222.dkr.ecr.eu-west-1.amazonaws.com/dtm:main"
log_level          = "info"
log_retention_days = 30

services = {
  gateway       = { port = 3000, cpu = 512, memory = 1024, desired_count = 2, min_count = 2, max_count = 4 }
  auth          = { port = 3001, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4 }
  users         = { port = 3002, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4 }
  todos         = { port = 3003, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4, uploads = true }
  stores        = { port = 3004, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4 }
  attendance    = { port = 3005, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4, uploads = true }
  reports       = { port = 3006, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4 }
  notifications = { port = 3007, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4 }
  visits        = { port = 3008, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4 }
  audits        = { port = 3009, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4, uploads = true }
  approvals     = { port = 3010, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4 }
}

db_instance_class        = "db.t4g.medium"
db_allocated_storage     = 50
db_multi_az              = false
db_backup_retention_days = 7
db_deletion_protection   = true

redis_node_type = "cache.t4g.small"
redis_replicas  = 0

backup_glacier_after_days = 30
backup_expire_after_days  = 180
waf_rate_limit            = 2000
