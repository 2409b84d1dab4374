# SPDX-License-Identifier: MIT
output "bucket_name" {
  description = "Bucket name"
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "Bucket ARN"
  value       = aws_s3_bucket.this.arn
}

output "bucket_url" {
  description = "DTM_BACKUP_S3_URL (path style)"
  value       = "https://${aws_s3_bucket.this.bucket_regional_domain_name}"
}
