# SPDX-License-Identifier: MIT
terraform {
  # mock_provider in `terraform test` needs 1.7+.
  required_version = ">= 1.7.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State lives in S3 with DynamoDB locking; the bucket and table are per account and given at
  # init time: terraform init -backend-config=environments/<env>.backend.hcl
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "digital-tracking"
      Application = "dtm"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
