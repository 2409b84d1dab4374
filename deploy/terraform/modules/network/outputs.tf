# SPDX-License-Identifier: MIT
output "vpc_id" {
  description = "VPC id"
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT)"
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (tasks, RDS, Redis)"
  value       = aws_subnet.private[*].id
}

output "alb_security_group_id" {
  description = "Security group of the ALB"
  value       = aws_security_group.alb.id
}

output "tasks_security_group_id" {
  description = "Security group of every dtm task"
  value       = aws_security_group.tasks.id
}

output "nat_gateway_count" {
  description = "Number of NAT gateways"
  value       = length(aws_nat_gateway.this)
}
