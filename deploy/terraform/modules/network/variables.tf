# SPDX-License-Identifier: MIT
variable "name" {
  description = "Name prefix"
  type        = string
}

variable "cidr" {
  description = "VPC CIDR"
  type        = string
}

variable "availability_zones" {
  description = "Zones to spread subnets over"
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway for every private subnet"
  type        = bool
}

variable "log_retention_days" {
  description = "Flow log retention"
  type        = number
}
