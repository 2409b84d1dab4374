# SPDX-License-Identifier: MIT
# Production: three zones, a NAT gateway per zone, Multi-AZ PostgreSQL with 35 days of
# point-in-time recovery, a Redis replica with failover, 3-20 tasks per target.
environment        = "prod"
region             = "eu-west-1"
availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
vpc_cidr           = "10.42.0.0/16"
single_nat_gateway = false
domain_name        = "digital-tracking.com"
certificate_arn    = "arn:aws:acm:eu-west-1:333333333333:certificate/00000000-0000-0000-0000-000000000003"
image              = "333333333333.dkr.ecr.eu-west-1.amazonaws.com/dtm:stable"
log_level          = "info"
log_retention_days = 90

services = {
  gateway       = { port = 3000, cpu = 1024, memory = 2048, desired_count = 3, min_count = 3, max_count = 20 }
  auth          = { port = 3001, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20 }
  users         = { port = 3002, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20 }
  todos         = { port = 3003, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20, uploads = true }
  stores        = { port = 3004, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20 }
  attendance    = { port = 3005, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20, uploads = true }
  reports       = { port = 3006, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20 }
  notifications = { port = 3007, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20 }
  visits        = { port = 3008, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20 }
  audits        = { port = 3009, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20, uploads = true }
  approvals     = { port = 3010, cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 20 }
}

db_instance_class        = "db.r6g.large"
db_allocated_storage     = 200
db_multi_az              = true
db_backup_retention_days = 35
db_deletion_protection   = true

redis_node_type = "cache.r6g.large"
redis_replicas  = 1

backup_glacier_after_days = 30
backup_expire_after_days  = 400
waf_rate_limit            = 5000
alarm_sns_topic_arn       = "arn:aws:sns:eu-west-1:333333333333:dtm-prod-oncall"
