# SPDX-License-Identifier: MIT
# Module-level tests against a mocked AWS provider (no credentials, no network):
#   terraform test -filter=tests/modules.tftest.hcl
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  services = {
    gateway       = { port = 3000, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6 }
    auth          = { port = 3001, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6 }
    users         = { port = 3002, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6 }
    todos         = { port = 3003, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6, uploads = true }
    stores        = { port = 3004, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6 }
    attendance    = { port = 3005, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6, uploads = true }
    reports       = { port = 3006, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6 }
    notifications = { port = 3007, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6 }
    visits        = { port = 3008, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6 }
    audits        = { port = 3009, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6, uploads = true }
    approvals     = { port = 3010, cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 6 }
  }
}

run "network_private_subnets" {
  command = apply
  module {
    source = "./modules/network"
  }
  variables {
    name               = "dtm-test"
    cidr               = "10.40.0.0/16"
    availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    single_nat_gateway = false
    log_retention_days = 7
  }
  assert {
    condition     = length(aws_subnet.private) == 3 && alltrue([for s in aws_subnet.private : !s.map_public_ip_on_launch])
    error_message = "One private subnet per zone, never with public IPs."
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 3
    error_message = "single_nat_gateway = false gives a NAT gateway per zone."
  }
  assert {
    condition     = alltrue([for r in aws_route_table.private : length([for x in r.route : x if x.nat_gateway_id != ""]) == 1])
    error_message = "Private subnets reach the internet only through NAT."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.tasks_from_alb.from_port == 3000 && aws_vpc_security_group_ingress_rule.tasks_from_tasks.from_port == 3001
    error_message = "Tasks accept the gateway port from the ALB and service ports only from tasks."
  }
}

run "ecs_services_alb_autoscaling" {
  command = apply
  module {
    source = "./modules/ecs"
  }
  variables {
    name                    = "dtm-test"
    environment             = "staging"
    region                  = "eu-west-1"
    vpc_id                  = "vpc-123"
    public_subnet_ids       = ["subnet-pub-a", "subnet-pub-b"]
    private_subnet_ids      = ["subnet-priv-a", "subnet-priv-b"]
    alb_security_group_id   = "sg-alb"
    tasks_security_group_id = "sg-tasks"
    certificate_arn         = "arn:aws:acm:eu-west-1:111111111111:certificate/x"
    image                   = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/dtm:abc123"
    log_level               = "info"
    log_retention_days      = 30
    kms_key_arn             = "arn:aws:kms:eu-west-1:111111111111:key/k"
    database_secret_arn     = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:dtm-test/database-AbCdEf"
    jwt_secret_arn          = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:dtm-test/jwt-AbCdEf"
    backup_bucket_arn       = "arn:aws:s3:::dtm-test-backups-111111111111"
    backup_bucket_url       = "https://dtm-test-backups-111111111111.s3.eu-west-1.amazonaws.com"
    alarm_sns_topic_arn     = ""
  }

  assert {
    condition     = length(aws_ecs_service.this) == 11 && alltrue([for s in aws_ecs_service.this : s.launch_type == "FARGATE"])
    error_message = "A Fargate service per target."
  }
  assert {
    condition     = alltrue([for k, t in aws_ecs_task_definition.service : jsondecode(t.container_definitions)[0].command == ["serve", "--target", k]])
    error_message = "Every task runs the one image as `dtm serve --target <name>`."
  }
  assert {
    condition     = alltrue([for s in aws_ecs_service.this : s.network_configuration[0].assign_public_ip == false])
    error_message = "Tasks run in private subnets without public IPs."
  }
  assert {
    condition     = aws_lb_target_group.gateway.health_check[0].path == "/health" && aws_lb_target_group.gateway.health_check[0].interval == 30 && aws_lb_target_group.gateway.health_check[0].unhealthy_threshold == 3
    error_message = "ALB health check: /health every 30 s, 3 failures (the guide)."
  }
  assert {
    condition     = length([for s in aws_ecs_service.this : s if length(s.load_balancer) > 0]) == 1 && length(aws_ecs_service.this["gateway"].load_balancer) == 1
    error_message = "Only the gateway is behind the ALB."
  }
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.cpu_high : a.threshold == 70 && a.comparison_operator == "GreaterThanThreshold"]) && alltrue([for a in aws_cloudwatch_metric_alarm.cpu_low : a.threshold == 30 && a.comparison_operator == "LessThanThreshold"])
    error_message = "Scale up above 70 % CPU, down below 30 %."
  }
  assert {
    condition     = alltrue([for p in concat(values(aws_appautoscaling_policy.scale_up), values(aws_appautoscaling_policy.scale_down)) : p.step_scaling_policy_configuration[0].cooldown == 300])
    error_message = "300 s cooldown on every scaling policy."
  }
  assert {
    condition     = alltrue([for s in aws_ecs_service.this : s.deployment_circuit_breaker[0].rollback && s.alarms[0].rollback && s.deployment_minimum_healthy_percent == 100])
    error_message = "Rolling deploys keep full capacity and roll back automatically."
  }
  assert {
    condition = alltrue([for t in aws_ecs_task_definition.service : alltrue([
      for e in jsondecode(t.container_definitions)[0].environment : !can(regex("SECRET|PASSWORD|DATABASE_URL|REDIS_URL", e.name))
    ])])
    error_message = "No secret travels as a plain environment variable."
  }
  assert {
    condition     = alltrue([for t in aws_ecs_task_definition.service : length([for s in jsondecode(t.container_definitions)[0].secrets : s if startswith(s.valueFrom, "arn:aws:secretsmanager:")]) == 4])
    error_message = "DATABASE_URL, REDIS_URL and the JWT keys come from Secrets Manager."
  }
  assert {
    condition     = alltrue([for t in aws_ecs_task_definition.service : jsondecode(t.container_definitions)[0].readonlyRootFilesystem && jsondecode(t.container_definitions)[0].user == "10001:10001"])
    error_message = "Tasks run as the non-root dtm user on a read-only root filesystem."
  }
  assert {
    condition     = length([for m in jsondecode(aws_ecs_task_definition.backup.container_definitions)[0].mountPoints : m if m.containerPath == "/var/lib/dtm/backups" && !m.readOnly]) == 1 && length([for v in aws_ecs_task_definition.backup.volume : v if v.name == "backups" && length(v.efs_volume_configuration) == 1]) == 1
    error_message = "The backup catalogue lives on EFS (incrementals need the last full's manifest)."
  }
  assert {
    condition     = strcontains(jsondecode(aws_ecs_task_definition.service["gateway"].container_definitions)[0].healthCheck.command[1], "dtm health")
    error_message = "Container health checks use `dtm health`."
  }
  assert {
    condition     = toset([for s in aws_scheduler_schedule.backup : s.schedule_expression]) == toset(["cron(0 2 * * ? *)", "cron(0 2 ? * SUN *)", "cron(0 2 1 * ? *)", "cron(30 5 * * ? *)"])
    error_message = "Backups run daily, Sundays (full) and on the 1st (archive) at 02:00."
  }
  assert {
    condition     = endswith(jsondecode(aws_scheduler_schedule.backup["weekly"].target[0].input).containerOverrides[0].command[0], "exec dtm backup run --full") && endswith(jsondecode(aws_scheduler_schedule.backup["daily"].target[0].input).containerOverrides[0].command[0], "exec dtm backup run")
    error_message = "The weekly schedule runs a full backup, the daily one a daily backup."
  }
  assert {
    condition = alltrue([
      for st in jsondecode(aws_iam_role_policy.execution.policy).Statement :
      st.Resource != "*" || st.Action == ["ecr:GetAuthorizationToken"]
    ])
    error_message = "The execution role has no wildcard resources beyond ecr:GetAuthorizationToken."
  }
  assert {
    condition     = [for st in jsondecode(aws_iam_role_policy.execution.policy).Statement : st.Resource if st.Sid == "ReadDtmSecrets"][0] == [var.database_secret_arn, var.jwt_secret_arn]
    error_message = "Tasks may read exactly the two dtm secrets."
  }
  assert {
    condition     = alltrue([for st in jsondecode(aws_iam_role_policy.backup.policy).Statement : !contains(flatten([st.Action]), "s3:*")]) && length([for st in jsondecode(aws_iam_role_policy.backup.policy).Statement : st if can(regex("^${var.backup_bucket_arn}", flatten([st.Resource])[0]))]) == 2
    error_message = "The backup role is limited to its bucket."
  }
}

run "rds_pitr_and_protection" {
  command = apply
  module {
    source = "./modules/rds"
  }
  variables {
    name                  = "dtm-test"
    vpc_id                = "vpc-123"
    subnet_ids            = ["subnet-a", "subnet-b"]
    client_security_group = "sg-tasks"
    instance_class        = "db.r6g.large"
    allocated_storage     = 100
    multi_az              = true
    backup_retention_days = 35
    deletion_protection   = true
    skip_final_snapshot   = false
    master_password       = "test-only-not-a-secret-0123456789"
    kms_key_arn           = "arn:aws:kms:eu-west-1:111111111111:key/k"
    database_secret_id    = "dtm-test/database"
    redis_url             = "redis://cache:6379/0"
    performance_insights  = true
    monitoring_sns_topic  = ""
  }
  assert {
    condition     = aws_db_instance.this.multi_az && aws_db_instance.this.backup_retention_period == 35 && aws_db_instance.this.deletion_protection
    error_message = "Multi-AZ, 35-day PITR window and deletion protection as configured."
  }
  assert {
    condition     = aws_db_instance.this.storage_encrypted && !aws_db_instance.this.publicly_accessible
    error_message = "Encrypted and private."
  }
  assert {
    condition     = one([for p in aws_db_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"]) == "1"
    error_message = "TLS is enforced."
  }
  assert {
    condition     = startswith(jsondecode(aws_secretsmanager_secret_version.database.secret_string).DATABASE_URL, "postgresql://dtm:") && endswith(jsondecode(aws_secretsmanager_secret_version.database.secret_string).DATABASE_URL, "/dtm?sslmode=require")
    error_message = "DATABASE_URL is written to the secret with TLS required."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.db_from_tasks.referenced_security_group_id == "sg-tasks" && aws_vpc_security_group_ingress_rule.db_from_tasks.from_port == 5432
    error_message = "PostgreSQL only from the tasks' security group."
  }
}

run "elasticache_failover" {
  command = apply
  module {
    source = "./modules/elasticache"
  }
  variables {
    name                  = "dtm-test"
    vpc_id                = "vpc-123"
    subnet_ids            = ["subnet-a", "subnet-b"]
    client_security_group = "sg-tasks"
    node_type             = "cache.r6g.large"
    replicas              = 1
  }
  assert {
    condition     = aws_elasticache_replication_group.this.automatic_failover_enabled && aws_elasticache_replication_group.this.num_cache_clusters == 2 && aws_elasticache_replication_group.this.at_rest_encryption_enabled
    error_message = "A replica with automatic failover, encrypted at rest."
  }
}

run "backups_bucket" {
  command = apply
  module {
    source = "./modules/backups"
  }
  variables {
    name               = "dtm-test"
    account_id         = "111111111111"
    kms_key_arn        = "arn:aws:kms:eu-west-1:111111111111:key/k"
    glacier_after_days = 30
    expire_after_days  = 400
  }
  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning on."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "SSE-KMS."
  }
  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.this.rule[0].transition).storage_class == "GLACIER" && one(aws_s3_bucket_lifecycle_configuration.this.rule[0].transition).days == 30
    error_message = "Lifecycle to Glacier after 30 days."
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets
    error_message = "No public access."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.this.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false"
    error_message = "TLS-only bucket policy."
  }
}

run "waf_on_alb" {
  command = apply
  module {
    source = "./modules/waf"
  }
  variables {
    name               = "dtm-test"
    alb_arn            = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/dtm-test/abc"
    rate_limit         = 2000
    log_retention_days = 30
  }
  assert {
    condition     = aws_wafv2_web_acl_association.alb.resource_arn == var.alb_arn
    error_message = "The web ACL is attached to the ALB."
  }
  assert {
    condition     = length(aws_wafv2_web_acl.this.rule) == 5
    error_message = "Rate limit plus four AWS managed rule groups."
  }
}
