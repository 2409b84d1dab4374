# SPDX-License-Identifier: MIT
variable "environment" {
  description = "dev, staging or prod"
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  description = "AWS region"
  type        = string
  default     = "eu-west-1"
}

variable "availability_zones" {
  description = "Availability zones to spread subnets over (at least 2: RDS and the ALB need two)"
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "At least two availability zones."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC"
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all private subnets (cheaper, not zone-redundant)"
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Public host name served by the ALB (the guide's digital-tracking.com per environment)"
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name (HTTPS listener)"
  type        = string
}

variable "image" {
  description = "Container image of dtm (registry/repository:tag); the same image runs every target"
  type        = string
}

variable "services" {
  description = "dtm targets run as ECS services: port, CPU units, memory (MiB), task counts. `gateway` sits behind the ALB"
  type = map(object({
    port          = number
    cpu           = number
    memory        = number
    desired_count = number
    min_count     = number
    max_count     = number
    uploads       = optional(bool, false)
  }))
  validation {
    condition     = contains(keys(var.services), "gateway")
    error_message = "services must contain the gateway."
  }
  validation {
    condition     = alltrue([for s in values(var.services) : s.min_count <= s.desired_count && s.desired_count <= s.max_count])
    error_message = "Each service needs min_count <= desired_count <= max_count."
  }
}

variable "log_level" {
  description = "DTM_LOG_LEVEL for every task"
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention"
  type        = number
  default     = 30
}

variable "db_instance_class" {
  description = "RDS instance class"
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage" {
  description = "RDS storage in GiB (autoscaling up to 4x)"
  type        = number
  default     = 50
}

variable "db_multi_az" {
  description = "Multi-AZ standby (prod)"
  type        = bool
  default     = false
}

variable "db_read_replica" {
  description = "A read replica for list/report reads (DATABASE_URL_REPLICA)"
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Automated backups / point-in-time recovery window in days (1-35)"
  type        = number
  default     = 7
  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "RDS keeps 1 to 35 days; 0 would turn point-in-time recovery off."
  }
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (prod)"
  type        = bool
  default     = true
}

variable "redis_node_type" {
  description = "ElastiCache node type"
  type        = string
  default     = "cache.t4g.small"
}

variable "redis_replicas" {
  description = "Read replicas besides the primary; >= 1 enables automatic failover and Multi-AZ"
  type        = number
  default     = 0
}

variable "backup_glacier_after_days" {
  description = "Move backup objects to Glacier Flexible Retrieval after this many days"
  type        = number
  default     = 30
}

variable "backup_expire_after_days" {
  description = "Delete backup objects after this many days (monthly archives: 12 months kept by dtm backup prune)"
  type        = number
  default     = 400
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes per client IP before WAF blocks"
  type        = number
  default     = 2000
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for CloudWatch alarms (optional)"
  type        = string
  default     = ""
}
