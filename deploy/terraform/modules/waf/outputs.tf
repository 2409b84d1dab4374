# SPDX-License-Identifier: MIT
output "web_acl_arn" {
  description = "Web ACL ARN"
  value       = aws_wafv2_web_acl.this.arn
}
