# SPDX-License-Identifier: MIT
variable "name" {
  description = "Name prefix"
  type        = string
}

variable "account_id" {
  description = "AWS account id (bucket names are global)"
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS"
  type        = string
}

variable "glacier_after_days" {
  description = "Days before transition to Glacier"
  type        = number
}

variable "expire_after_days" {
  description = "Days before expiry"
  type        = number
  validation {
    condition     = var.expire_after_days > 0
    error_message = "expire_after_days must be positive."
  }
}
