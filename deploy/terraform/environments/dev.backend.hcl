# SPDX-License-Identifier: MIT
# terraform init -backend-config=environments/dev.backend.hcl
bucket         = "digital-tracking-terraform-state-dev"
key            = "dtm/dev/terraform.tfstate"
region         = "eu-west-1"
dynamodb_table = "digital-tracking-terraform-locks"
encrypt        = true
