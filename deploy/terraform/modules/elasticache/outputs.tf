# SPDX-License-Identifier: MIT
output "primary_endpoint" {
  description = "Primary endpoint address"
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "redis_url" {
  description = "REDIS_URL for dtm"
  value       = "redis://${aws_elasticache_replication_group.this.primary_endpoint_address}:6379/0"
}

output "automatic_failover" {
  description = "Automatic failover to a replica"
  value       = aws_elasticache_replication_group.this.automatic_failover_enabled
}
