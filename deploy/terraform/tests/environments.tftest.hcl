# SPDX-License-Identifier: MIT
# The whole configuration planned against a mocked AWS provider, once per environment:
#   terraform test -filter=tests/environments.tftest.hcl -var-file=environments/<env>.tfvars
# (scripts/deploy-check.sh runs all three). Assertions depend on var.environment.
mock_provider "aws" {
  source = "./tests/mocks"
}

run "plan" {
  command = plan

  assert {
    condition     = output.settings.private_subnets >= 2
    error_message = "Private subnets must span at least two zones."
  }

  assert {
    condition     = var.environment != "prod" || (output.settings.db_multi_az && output.settings.db_backup_retention_days >= 30 && output.settings.db_deletion_protection)
    error_message = "prod needs Multi-AZ, >= 30 days of point-in-time recovery and deletion protection."
  }

  assert {
    condition     = var.environment == "prod" || !output.settings.db_multi_az
    error_message = "Only prod pays for a Multi-AZ standby."
  }

  assert {
    condition     = output.settings.db_backup_retention_days > 0
    error_message = "Point-in-time recovery needs a backup retention above 0."
  }

  assert {
    condition     = var.environment != "prod" || (output.settings.redis_failover && output.settings.nat_gateways == length(var.availability_zones))
    error_message = "prod needs Redis failover and a NAT gateway per zone."
  }

  assert {
    condition     = length(output.settings.services) == 11 && alltrue([for k in ["gateway", "auth", "users", "todos", "stores", "attendance", "reports", "notifications", "visits", "audits", "approvals"] : contains(keys(output.settings.services), k)])
    error_message = "Every dtm target runs as an ECS service."
  }

  assert {
    condition     = var.environment != "prod" || alltrue([for s in values(output.settings.services) : s.min >= 2])
    error_message = "prod runs at least two tasks of every target."
  }
}

# Input validation refuses a configuration without point-in-time recovery.
run "refuses_no_pitr" {
  command = plan
  variables {
    db_backup_retention_days = 0
  }
  expect_failures = [var.db_backup_retention_days]
}
