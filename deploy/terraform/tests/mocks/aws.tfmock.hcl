# SPDX-License-Identifier: MIT
# Values the mocked AWS provider returns for computed attributes that other resources
# validate as ARNs / JSON (random strings would fail the provider's own input validation).
mock_data "aws_caller_identity" {
  defaults = {
    account_id = "111111111111"
    arn        = "arn:aws:iam::111111111111:user/terraform-test"
  }
}

mock_data "aws_region" {
  defaults = {
    name = "eu-west-1"
  }
}

mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"}}]}"
  }
}

mock_data "aws_secretsmanager_random_password" {
  defaults = {
    random_password = "mockedRandomPassword0123456789abcdefABCDEF"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:eu-west-1:111111111111:log-group:/dtm/mock"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::111111111111:role/mock"
  }
}

mock_resource "aws_kms_key" {
  defaults = {
    arn    = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
    key_id = "00000000-0000-0000-0000-000000000000"
  }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = {
    arn = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:dtm/mock-AbCdEf"
  }
}

mock_resource "aws_lb" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/dtm/0123456789abcdef"
    arn_suffix = "app/dtm/0123456789abcdef"
    dns_name   = "dtm-123.eu-west-1.elb.amazonaws.com"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:targetgroup/dtm-gateway/0123456789abcdef"
    arn_suffix = "targetgroup/dtm-gateway/0123456789abcdef"
  }
}

mock_resource "aws_ecs_cluster" {
  defaults = {
    arn = "arn:aws:ecs:eu-west-1:111111111111:cluster/dtm"
  }
}

mock_resource "aws_ecs_task_definition" {
  defaults = {
    arn                  = "arn:aws:ecs:eu-west-1:111111111111:task-definition/dtm:1"
    arn_without_revision = "arn:aws:ecs:eu-west-1:111111111111:task-definition/dtm"
  }
}

mock_resource "aws_efs_file_system" {
  defaults = {
    arn = "arn:aws:elasticfilesystem:eu-west-1:111111111111:file-system/fs-0123456789abcdef0"
  }
}

mock_resource "aws_efs_access_point" {
  defaults = {
    arn = "arn:aws:elasticfilesystem:eu-west-1:111111111111:access-point/fsap-0123456789abcdef0"
  }
}

mock_resource "aws_service_discovery_service" {
  defaults = {
    arn = "arn:aws:servicediscovery:eu-west-1:111111111111:service/srv-0123456789abcdef"
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    arn                         = "arn:aws:s3:::dtm-mock-backups"
    bucket_regional_domain_name = "dtm-mock-backups.s3.eu-west-1.amazonaws.com"
  }
}

mock_resource "aws_wafv2_web_acl" {
  defaults = {
    arn = "arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/dtm/00000000-0000-0000-0000-000000000000"
  }
}

mock_resource "aws_appautoscaling_policy" {
  defaults = {
    arn = "arn:aws:autoscaling:eu-west-1:111111111111:scalingPolicy:00000000-0000-0000-0000-000000000000:resource/ecs/service/dtm/gateway:policyName/mock"
  }
}

mock_resource "aws_db_instance" {
  defaults = {
    address  = "dtm.abcdefghijkl.eu-west-1.rds.amazonaws.com"
    endpoint = "dtm.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432"
    port     = 5432
  }
}

mock_resource "aws_elasticache_replication_group" {
  defaults = {
    primary_endpoint_address = "dtm.abcdef.ng.0001.euw1.cache.amazonaws.com"
  }
}
