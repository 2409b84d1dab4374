# SPDX-License-Identifier: MIT
output "alb_dns_name" {
  description = "Point domain_name (CNAME / alias) here"
  value       = module.ecs.alb_dns_name
}

output "ecs_cluster_name" {
  description = "ECS cluster (deploy.yml updates its services)"
  value       = module.ecs.cluster_name
}

output "ecs_service_names" {
  description = "ECS service per dtm target"
  value       = module.ecs.service_names
}

output "db_endpoint" {
  description = "RDS endpoint (host:port)"
  value       = module.rds.endpoint
}

output "redis_endpoint" {
  description = "ElastiCache primary endpoint"
  value       = module.elasticache.primary_endpoint
}

output "backup_bucket" {
  description = "S3 bucket for dtm backups"
  value       = module.backups.bucket_name
}

output "secret_arns" {
  description = "Secrets Manager secrets (values never in state outputs)"
  value = {
    database = module.secrets.database_secret_arn
    jwt      = module.secrets.jwt_secret_arn
  }
}

output "settings" {
  description = "The environment's resilience settings at a glance (also asserted by tests/environments.tftest.hcl)"
  value = {
    db_multi_az              = module.rds.multi_az
    db_backup_retention_days = module.rds.backup_retention_days
    db_deletion_protection   = module.rds.deletion_protection
    redis_failover           = module.elasticache.automatic_failover
    nat_gateways             = module.network.nat_gateway_count
    private_subnets          = length(module.network.private_subnet_ids)
    services                 = { for k, v in var.services : k => { min = v.min_count, max = v.max_count } }
  }
}
