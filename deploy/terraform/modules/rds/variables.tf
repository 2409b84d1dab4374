# SPDX-License-Identifier: MIT
variable "name" {
  description = "Name prefix"
  type        = string
}

variable "vpc_id" {
  description = "VPC id"
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets"
  type        = list(string)
}

variable "client_security_group" {
  description = "Security group allowed to connect (the dtm tasks)"
  type        = string
}

variable "instance_class" {
  description = "Instance class"
  type        = string
}

variable "allocated_storage" {
  description = "GiB"
  type        = number
}

variable "multi_az" {
  description = "Multi-AZ standby"
  type        = bool
}

variable "backup_retention_days" {
  description = "PITR window (days)"
  type        = number
}

variable "deletion_protection" {
  description = "Deletion protection"
  type        = bool
}

variable "skip_final_snapshot" {
  description = "No final snapshot on destroy (dev only)"
  type        = bool
}

variable "master_password" {
  description = "Master password (creation only)"
  type        = string
  sensitive   = true
}

variable "kms_key_arn" {
  description = "KMS key for storage and Performance Insights"
  type        = string
}

variable "database_secret_id" {
  description = "Secret to write DATABASE_URL into"
  type        = string
}

variable "redis_url" {
  description = "REDIS_URL stored in the same secret"
  type        = string
}

variable "performance_insights" {
  description = "Performance Insights"
  type        = bool
}

variable "monitoring_sns_topic" {
  description = "SNS topic for alarms, or empty"
  type        = string
}

variable "read_replica" {
  description = "A streaming read replica (DATABASE_URL_REPLICA in the database secret)"
  type        = bool
  default     = false
}
