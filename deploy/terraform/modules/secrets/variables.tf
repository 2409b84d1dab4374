# SPDX-License-Identifier: MIT
variable "name" {
  description = "Name prefix"
  type        = string
}
