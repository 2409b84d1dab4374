# SPDX-License-Identifier: MIT
variable "name" {
  description = "Name prefix"
  type        = string
}

variable "alb_arn" {
  description = "ALB to protect"
  type        = string
}

variable "rate_limit" {
  description = "Requests per 5 minutes per IP"
  type        = number
}

variable "log_retention_days" {
  description = "WAF log retention"
  type        = number
}
