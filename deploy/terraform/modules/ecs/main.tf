# SPDX-License-Identifier: MIT
# ECS Fargate: one service per dtm target (one image, `dtm serve --target <name>`), the gateway
# behind an HTTPS ALB, the other services found through Cloud Map DNS, CPU step scaling
# (> 70 % up, < 30 % down, 300 s cooldown), rolling deploys with the circuit breaker and alarm
# rollback, shared EFS for uploads, the backup schedules (EventBridge Scheduler runs
# `dtm backup run [--full|--archive]` as one-off tasks), log groups and least-privilege IAM.
locals {
  ns          = "${var.name}.local"
  gateway     = "gateway"
  backends    = { for k, v in var.services : k => v if k != local.gateway }
  secret_arns = [var.database_secret_arn, var.jwt_secret_arn]

  upstream_env = [for k, v in local.backends : {
    name  = "DTM_UPSTREAM_${upper(k)}"
    value = "http://${k}.${local.ns}:${v.port}"
  }]
  common_env = concat([
    { name = "DTM_HOST", value = "0.0.0.0" },
    # /metrics only on a private port (404 through the ALB); no security group opens it: a
    # scraper in the VPC gets its own rule (docs/operations.md).
    { name = "DTM_METRICS_ADDR", value = "0.0.0.0:9464" },
    { name = "DTM_LOG_LEVEL", value = var.log_level },
    { name = "DTM_DATA_DIR", value = "/var/lib/dtm/data" },
    { name = "DTM_BACKUP_DIR", value = "/var/lib/dtm/backups" },
    { name = "DTM_TRUSTED_PROXIES", value = "10.0.0.0/8" },
  ], local.upstream_env)
  # Secrets Manager JSON keys injected as environment variables by the ECS agent: values never
  # appear in the task definition, the state or the console.
  secrets = [
    { name = "DATABASE_URL", valueFrom = "${var.database_secret_arn}:DATABASE_URL::" },
    { name = "DATABASE_URL_REPLICA", valueFrom = "${var.database_secret_arn}:DATABASE_URL_REPLICA::" },
    { name = "REDIS_URL", valueFrom = "${var.database_secret_arn}:REDIS_URL::" },
    { name = "DTM_JWT_SECRET", valueFrom = "${var.jwt_secret_arn}:DTM_JWT_SECRET::" },
    { name = "DTM_JWT_PREVIOUS_SECRETS", valueFrom = "${var.jwt_secret_arn}:DTM_JWT_PREVIOUS_SECRETS::" },
  ]

  # The guide's schedule. Daily, weekly and monthly all fire at 02:00, so on some days two or
  # three start together: the larger one wins (archive on the 1st, else full on Sundays), the
  # others exit 0 at once, as deploy/cron/dtm-backup and the Kubernetes CronJobs do.
  skip_if_monthly = "[ \"$(date -u +%d)\" = 01 ] && exit 0;"
  skip_if_weekly  = "[ \"$(date -u +%u)\" = 7 ] && exit 0;"
  backups = {
    daily   = { schedule = "cron(0 2 * * ? *)", script = "${local.skip_if_monthly} ${local.skip_if_weekly} exec dtm backup run" }
    weekly  = { schedule = "cron(0 2 ? * SUN *)", script = "${local.skip_if_monthly} exec dtm backup run --full" }
    monthly = { schedule = "cron(0 2 1 * ? *)", script = "exec dtm backup run --archive" }
    prune   = { schedule = "cron(30 5 * * ? *)", script = "exec dtm backup prune" }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = local.ns
  description = "dtm service-to-service names"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "this" {
  for_each = local.backends
  name     = each.key
  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }
  health_check_custom_config {
    failure_threshold = 1
  }
}

# --- logs: JSON lines from stdout, one group per target ---
resource "aws_cloudwatch_log_group" "service" {
  for_each          = merge(var.services, { backup = null })
  name              = "/dtm/${var.environment}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# --- IAM ---
data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:aws:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
}

# Execution role: what the ECS agent needs to start a task, nothing more.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "execution" {
  name = "start-dtm-tasks"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "PullImage"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = "*" # this action has no resource-level permissions
      },
      {
        Sid      = "PullImageLayers"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        Resource = "arn:aws:ecr:${var.region}:${data.aws_caller_identity.current.account_id}:repository/dtm*"
      },
      {
        Sid      = "WriteLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = [for g in aws_cloudwatch_log_group.service : "${g.arn}:*"]
      },
      {
        Sid      = "ReadDtmSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = local.secret_arns
      },
      {
        Sid      = "DecryptDtmSecrets"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

# Service task role: the services call no AWS API (they talk to PostgreSQL, Redis and each
# other), so the role only lets them mount the shared EFS volume.
resource "aws_iam_role" "service" {
  name               = "${var.name}-service"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "service_efs" {
  name = "mount-uploads"
  role = aws_iam_role.service.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "Uploads"
        Effect    = "Allow"
        Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        Resource  = aws_efs_file_system.data.arn
        Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.data.arn } }
      },
      {
        Sid       = "BackupCatalogueReadOnly"
        Effect    = "Allow"
        Action    = ["elasticfilesystem:ClientMount"]
        Resource  = aws_efs_file_system.data.arn
        Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.backups.arn } }
      },
    ]
  })
}

# Backup task role: write and read backup objects in its bucket, and read the uploads.
resource "aws_iam_role" "backup" {
  name               = "${var.name}-backup"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "backup" {
  name = "backups-bucket"
  role = aws_iam_role.backup.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ListBackups"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = var.backup_bucket_arn
      },
      {
        Sid      = "ReadWriteBackups"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
        Resource = "${var.backup_bucket_arn}/*"
      },
      {
        Sid      = "BucketKey"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = [var.kms_key_arn]
      },
      {
        Sid       = "MountUploadsReadOnly"
        Effect    = "Allow"
        Action    = ["elasticfilesystem:ClientMount"]
        Resource  = aws_efs_file_system.data.arn
        Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.data.arn } }
      },
      {
        Sid       = "WriteBackupCatalogue"
        Effect    = "Allow"
        Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        Resource  = aws_efs_file_system.data.arn
        Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.backups.arn } }
      },
    ]
  })
}

# --- shared uploads volume (DTM_DATA_DIR) ---
resource "aws_efs_file_system" "data" {
  creation_token   = "${var.name}-data"
  encrypted        = true
  kms_key_id       = var.kms_key_arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"
  tags             = { Name = "${var.name}-data" }
}

resource "aws_security_group" "efs" {
  name        = "${var.name}-efs"
  description = "NFS from dtm tasks only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_tasks" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from dtm tasks"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = var.tasks_security_group_id
}

resource "aws_efs_mount_target" "data" {
  count           = length(var.private_subnet_ids)
  file_system_id  = aws_efs_file_system.data.id
  subnet_id       = var.private_subnet_ids[count.index]
  security_groups = [aws_security_group.efs.id]
}

# The backup catalogue (manifests, local copies; incrementals need the last full's manifest)
# persists on EFS; S3 holds the off-site copies. The gateway reads it for the backup-age gauge.
resource "aws_efs_access_point" "backups" {
  file_system_id = aws_efs_file_system.data.id
  posix_user {
    uid = 10001
    gid = 10001
  }
  root_directory {
    path = "/dtm-backups"
    creation_info {
      owner_uid   = 10001
      owner_gid   = 10001
      permissions = "0750"
    }
  }
}

resource "aws_efs_access_point" "data" {
  file_system_id = aws_efs_file_system.data.id
  posix_user {
    uid = 10001
    gid = 10001
  }
  root_directory {
    path = "/dtm-data"
    creation_info {
      owner_uid   = 10001
      owner_gid   = 10001
      permissions = "0750"
    }
  }
}

# --- ALB in front of the gateway ---
resource "aws_lb" "this" {
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [var.alb_security_group_id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.environment == "prod"
  idle_timeout               = 3600 # SSE streams (live events) stay open
}

resource "aws_lb_target_group" "gateway" {
  name                 = "${var.name}-gateway"
  port                 = var.services[local.gateway].port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30 # dtm drains in-flight requests on SIGTERM

  # The guide's load-balancer health check.
  health_check {
    path                = "/health"
    port                = "traffic-port"
    protocol            = "HTTP"
    interval            = 30
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
    matcher             = "200"
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.gateway.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

# --- task definitions: one per target, same image ---
resource "aws_ecs_task_definition" "service" {
  for_each                 = var.services
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.service.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "dtm"
    image                  = var.image
    essential              = true
    command                = ["serve", "--target", each.key]
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    portMappings           = [{ containerPort = each.value.port, protocol = "tcp", name = "http" }]
    environment            = concat(local.common_env, [{ name = "DTM_PORT", value = tostring(each.value.port) }])
    secrets                = local.secrets
    linuxParameters        = { capabilities = { drop = ["ALL"] }, initProcessEnabled = true }
    stopTimeout            = 30
    # The guide's container health check, with `dtm health` (exit 2 = down) instead of curl.
    healthCheck = {
      command     = ["CMD-SHELL", "dtm health --local >/dev/null 2>&1; [ $? -lt 2 ]"]
      interval    = 30
      timeout     = 10
      retries     = 3
      startPeriod = 40
    }
    mountPoints = concat(
      [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }],
      each.value.uploads ? [{ sourceVolume = "data", containerPath = "/var/lib/dtm/data", readOnly = false }] : [],
      each.key == local.gateway ? [{ sourceVolume = "backups", containerPath = "/var/lib/dtm/backups", readOnly = true }] : [],
    )
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
      }
    }
  }])

  volume {
    name = "tmp"
  }

  dynamic "volume" {
    for_each = each.value.uploads ? [1] : []
    content {
      name = "data"
      efs_volume_configuration {
        file_system_id     = aws_efs_file_system.data.id
        transit_encryption = "ENABLED"
        authorization_config {
          access_point_id = aws_efs_access_point.data.id
          iam             = "ENABLED"
        }
      }
    }
  }

  dynamic "volume" {
    for_each = each.key == local.gateway ? [1] : []
    content {
      name = "backups"
      efs_volume_configuration {
        file_system_id     = aws_efs_file_system.data.id
        transit_encryption = "ENABLED"
        authorization_config {
          access_point_id = aws_efs_access_point.backups.id
          iam             = "ENABLED"
        }
      }
    }
  }
}

# --- services ---
resource "aws_ecs_service" "this" {
  for_each               = var.services
  name                   = each.key
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.service[each.key].arn
  desired_count          = each.value.desired_count
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  # Rolling deploy: new tasks must pass their health checks before old ones stop; a deploy
  # whose tasks keep failing (circuit breaker) or that trips the 5xx alarm is rolled back.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  alarms {
    enable      = true
    rollback    = true
    alarm_names = [aws_cloudwatch_metric_alarm.gateway_5xx.alarm_name]
  }

  health_check_grace_period_seconds = each.key == local.gateway ? 60 : null

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.tasks_security_group_id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.key == local.gateway ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.gateway.arn
      container_name   = "dtm"
      container_port   = each.value.port
    }
  }

  dynamic "service_registries" {
    for_each = each.key == local.gateway ? [] : [1]
    content {
      registry_arn = aws_service_discovery_service.this[each.key].arn
    }
  }

  lifecycle {
    ignore_changes = [desired_count] # owned by autoscaling after creation
  }

  depends_on = [aws_lb_listener.https]
}

# --- autoscaling: the guide's CPU rules ---
resource "aws_appautoscaling_target" "this" {
  for_each           = var.services
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this[each.key].name}"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count
}

resource "aws_appautoscaling_policy" "scale_up" {
  for_each           = var.services
  name               = "${var.name}-${each.key}-scale-up"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id
  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 300
    metric_aggregation_type = "Average"
    step_adjustment {
      metric_interval_lower_bound = 0
      scaling_adjustment          = 1
    }
  }
}

resource "aws_appautoscaling_policy" "scale_down" {
  for_each           = var.services
  name               = "${var.name}-${each.key}-scale-down"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id
  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 300
    metric_aggregation_type = "Average"
    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = -1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "cpu_high" {
  for_each            = var.services
  alarm_name          = "${var.name}-${each.key}-cpu-high"
  alarm_description   = "avg_cpu_utilization > 70: scale ${each.key} up"
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.this[each.key].name }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 70
  alarm_actions       = [aws_appautoscaling_policy.scale_up[each.key].arn]
}

resource "aws_cloudwatch_metric_alarm" "cpu_low" {
  for_each            = var.services
  alarm_name          = "${var.name}-${each.key}-cpu-low"
  alarm_description   = "avg_cpu_utilization < 30: scale ${each.key} down"
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.this[each.key].name }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 10
  comparison_operator = "LessThanThreshold"
  threshold           = 30
  alarm_actions       = [aws_appautoscaling_policy.scale_down[each.key].arn]
}

# Drives the deployment rollback above and pages through SNS when configured.
resource "aws_cloudwatch_metric_alarm" "gateway_5xx" {
  alarm_name          = "${var.name}-gateway-5xx"
  alarm_description   = "The guide's HighErrorRate at the ALB: more than 0.1 5xx/s (30 per 5 min)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.gateway.arn_suffix }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 30
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arn == "" ? [] : [var.alarm_sns_topic_arn]
}

# --- backups: one-off tasks on the guide's schedule ---
resource "aws_ecs_task_definition" "backup" {
  family                   = "${var.name}-backup"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 1024
  memory                   = 2048
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.backup.arn
  ephemeral_storage {
    size_in_gib = 100 # scratch space (/tmp) for dumps and archives
  }

  container_definitions = jsonencode([{
    name                   = "dtm"
    image                  = var.image
    essential              = true
    entryPoint             = ["/bin/sh", "-c"]
    command                = ["exec dtm backup run"]
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    environment = concat(local.common_env, [
      { name = "DTM_BACKUP_S3_URL", value = var.backup_bucket_url },
      { name = "DTM_BACKUP_S3_REGION", value = var.region },
    ])
    secrets         = local.secrets
    linuxParameters = { capabilities = { drop = ["ALL"] } }
    mountPoints = [
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      { sourceVolume = "backups", containerPath = "/var/lib/dtm/backups", readOnly = false },
      { sourceVolume = "data", containerPath = "/var/lib/dtm/data", readOnly = true },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service["backup"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "backup"
      }
    }
  }])

  volume {
    name = "tmp"
  }
  volume {
    name = "backups"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.data.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.backups.id
        iam             = "ENABLED"
      }
    }
  }
  volume {
    name = "data"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.data.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.data.id
        iam             = "ENABLED"
      }
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name = "${var.name}-backup-scheduler"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "scheduler" {
  name = "run-backup-task"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Action    = ["ecs:RunTask"]
        Resource  = [aws_ecs_task_definition.backup.arn_without_revision, "${aws_ecs_task_definition.backup.arn_without_revision}:*"]
        Condition = { ArnEquals = { "ecs:cluster" = aws_ecs_cluster.this.arn } }
      },
      {
        Effect   = "Allow"
        Action   = ["iam:PassRole"]
        Resource = [aws_iam_role.execution.arn, aws_iam_role.backup.arn]
      },
    ]
  })
}

resource "aws_scheduler_schedule" "backup" {
  for_each                     = local.backups
  name                         = "${var.name}-backup-${each.key}"
  description                  = "dtm backup (${each.key})"
  schedule_expression          = each.value.schedule
  schedule_expression_timezone = "UTC"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_ecs_cluster.this.arn
    role_arn = aws_iam_role.scheduler.arn
    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.backup.arn_without_revision
      launch_type         = "FARGATE"
      network_configuration {
        subnets          = var.private_subnet_ids
        security_groups  = [var.tasks_security_group_id]
        assign_public_ip = false
      }
    }
    input = jsonencode({
      containerOverrides = [{ name = "dtm", command = [each.value.script] }]
    })
    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }
  }
}
