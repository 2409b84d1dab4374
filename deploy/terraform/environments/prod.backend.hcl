# SPDX-License-Identifier: MIT
# terraform init -backend-config=environments/prod.backend.hcl
bucket         = "digital-tracking-terraform-state-prod"
key            = "dtm/prod/terraform.tfstate"
region         = "eu-west-1"
dynamodb_table = "digital-tracking-terraform-locks"
encrypt        = true
