# SPDX-License-Identifier: MIT
output "cluster_name" {
  description = "ECS cluster"
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS service per target"
  value       = { for k, s in aws_ecs_service.this : k => s.name }
}

output "alb_arn" {
  description = "ALB ARN (WAF association)"
  value       = aws_lb.this.arn
}

output "alb_dns_name" {
  description = "ALB DNS name"
  value       = aws_lb.this.dns_name
}

output "target_group_arn" {
  description = "Gateway target group"
  value       = aws_lb_target_group.gateway.arn
}
