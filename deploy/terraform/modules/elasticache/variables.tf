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
  description = "Security group allowed to connect"
  type        = string
}

variable "node_type" {
  description = "Node type"
  type        = string
}

variable "replicas" {
  description = "Replicas besides the primary"
  type        = number
}
