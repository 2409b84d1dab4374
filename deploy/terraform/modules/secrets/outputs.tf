# SPDX-License-Identifier: MIT
output "kms_key_arn" {
  description = "KMS key for secrets, backups and logs"
  value       = aws_kms_key.this.arn
}

output "jwt_secret_arn" {
  description = "Secret holding DTM_JWT_SECRET"
  value       = aws_secretsmanager_secret.jwt.arn
}

output "database_secret_arn" {
  description = "Secret holding DATABASE_URL and REDIS_URL"
  value       = aws_secretsmanager_secret.database.arn
}

output "database_secret_id" {
  description = "Id of the database secret (the rds module writes its value)"
  value       = aws_secretsmanager_secret.database.id
}

output "db_password" {
  description = "Generated master password (creation only)"
  value       = data.aws_secretsmanager_random_password.db.random_password
  sensitive   = true
}
