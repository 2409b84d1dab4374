# SPDX-License-Identifier: MIT
# RDS PostgreSQL 15: encrypted, private, TLS enforced, automated backups with point-in-time
# recovery (retention > 0), Multi-AZ and longer retention in prod (tfvars), deletion
# protection, and the database secret's value (DATABASE_URL) written once the endpoint exists.
resource "aws_security_group" "db" {
  name        = "${var.name}-db"
  description = "PostgreSQL from dtm tasks only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_tasks" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from dtm tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = var.client_security_group
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}-pg15"
  family = "postgres15"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "500" # ms: slow queries reach CloudWatch
  }
  parameter {
    name  = "log_connections"
    value = "1"
  }
  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }
}

resource "aws_db_instance" "this" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = "15"
  instance_class = var.instance_class

  db_name  = "dtm"
  username = "dtm"
  password = var.master_password

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.allocated_storage * 4
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.multi_az

  # Automated backups + WAL: point-in-time recovery anywhere in the retention window.
  backup_retention_period  = var.backup_retention_days
  backup_window            = "00:30-01:30" # before dtm's own 02:00 logical backups
  maintenance_window       = "sun:03:00-sun:04:00"
  copy_tags_to_snapshot    = true
  delete_automated_backups = false

  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${var.name}-final"

  auto_minor_version_upgrade          = true
  performance_insights_enabled        = var.performance_insights
  performance_insights_kms_key_id     = var.performance_insights ? var.kms_key_arn : null
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  iam_database_authentication_enabled = true

  lifecycle {
    ignore_changes = [password] # rotated out of band (docs/operations.md)
  }
}

# A streaming read replica for dtm's list and report reads (DATABASE_URL_REPLICA; dtm skips it
# when it lags past DTM_REPLICA_MAX_LAG_MS and keeps read-your-writes, docs/operations.md).
resource "aws_db_instance" "replica" {
  count               = var.read_replica ? 1 : 0
  identifier          = "${var.name}-replica"
  replicate_source_db = aws_db_instance.this.identifier
  instance_class      = var.instance_class

  storage_type      = "gp3"
  storage_encrypted = true
  kms_key_id        = var.kms_key_arn

  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = false

  backup_retention_period = 0 # the primary's backups and WAL are the copy
  skip_final_snapshot     = true
  deletion_protection     = false

  auto_minor_version_upgrade          = true
  performance_insights_enabled        = var.performance_insights
  performance_insights_kms_key_id     = var.performance_insights ? var.kms_key_arn : null
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  iam_database_authentication_enabled = true
}

resource "aws_secretsmanager_secret_version" "database" {
  secret_id = var.database_secret_id
  secret_string = jsonencode({
    username     = aws_db_instance.this.username
    password     = var.master_password
    host         = aws_db_instance.this.address
    port         = aws_db_instance.this.port
    DATABASE_URL = "postgresql://${aws_db_instance.this.username}:${var.master_password}@${aws_db_instance.this.endpoint}/dtm?sslmode=require"
    # Empty without a replica: dtm treats an empty DATABASE_URL_REPLICA as unset.
    DATABASE_URL_REPLICA = var.read_replica ? "postgresql://${aws_db_instance.this.username}:${var.master_password}@${aws_db_instance.replica[0].endpoint}/dtm?sslmode=require" : ""
    REDIS_URL            = var.redis_url
  })
  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_cloudwatch_metric_alarm" "storage" {
  alarm_name          = "${var.name}-db-free-storage"
  alarm_description   = "RDS free storage below 10 GiB"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 10 * 1024 * 1024 * 1024
  alarm_actions       = var.monitoring_sns_topic == "" ? [] : [var.monitoring_sns_topic]
}
