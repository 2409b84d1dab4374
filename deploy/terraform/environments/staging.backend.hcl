# SPDX-License-Identifier: MIT
# terraform init -backend-config=environments/staging.backend.hcl
bucket         = "digital-tracking-terraform-state-staging"
key            = "dtm/staging/terraform.tfstate"
region         = "eu-west-1"
dynamodb_table = "digital-tracking-terraform-locks"
encrypt        = true
