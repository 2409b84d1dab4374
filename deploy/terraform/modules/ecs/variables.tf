# SPDX-License-Identifier: MIT
variable "name" {
  description = "Name prefix"
  type        = string
}

variable "environment" {
  description = "dev, staging or prod"
  type        = string
}

variable "region" {
  description = "AWS region"
  type        = string
}

variable "vpc_id" {
  description = "VPC id"
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the ALB"
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks"
  type        = list(string)
}

variable "alb_security_group_id" {
  description = "Security group of the ALB"
  type        = string
}

variable "tasks_security_group_id" {
  description = "Security group of the tasks"
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener"
  type        = string
}

variable "image" {
  description = "dtm image"
  type        = string
}

variable "services" {
  description = "Targets: port, cpu, memory, counts, uploads"
  type = map(object({
    port          = number
    cpu           = number
    memory        = number
    desired_count = number
    min_count     = number
    max_count     = number
    uploads       = optional(bool, false)
  }))
}

variable "log_level" {
  description = "DTM_LOG_LEVEL"
  type        = string
}

variable "log_retention_days" {
  description = "Log retention"
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key of secrets, logs, EFS"
  type        = string
}

variable "database_secret_arn" {
  description = "Secret with DATABASE_URL and REDIS_URL"
  type        = string
}

variable "jwt_secret_arn" {
  description = "Secret with DTM_JWT_SECRET"
  type        = string
}

variable "backup_bucket_arn" {
  description = "Backups bucket ARN"
  type        = string
}

variable "backup_bucket_url" {
  description = "DTM_BACKUP_S3_URL"
  type        = string
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for alarms, or empty"
  type        = string
}
