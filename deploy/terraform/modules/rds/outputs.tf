# SPDX-License-Identifier: MIT
output "endpoint" {
  description = "host:port"
  value       = aws_db_instance.this.endpoint
}

output "identifier" {
  description = "DB instance identifier (restore-db-instance-to-point-in-time source)"
  value       = aws_db_instance.this.identifier
}

output "multi_az" {
  description = "Multi-AZ standby"
  value       = aws_db_instance.this.multi_az
}

output "backup_retention_days" {
  description = "PITR window"
  value       = aws_db_instance.this.backup_retention_period
}

output "deletion_protection" {
  description = "Deletion protection"
  value       = aws_db_instance.this.deletion_protection
}

output "replica_endpoint" {
  description = "host:port of the read replica, or empty"
  value       = var.read_replica ? aws_db_instance.replica[0].endpoint : ""
}
