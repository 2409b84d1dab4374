# SPDX-License-Identifier: MIT
# dtm on AWS: VPC with private subnets, ECS Fargate (one service per dtm target, the gateway
# behind an ALB with WAF), RDS PostgreSQL, ElastiCache Redis, an S3 bucket for backups,
# Secrets Manager for the JWT key and database credentials, CloudWatch log groups and
# least-privilege IAM. One root module; environments differ only by environments/<env>.tfvars:
#   terraform init -backend-config=environments/prod.backend.hcl
#   terraform plan -var-file=environments/prod.tfvars
locals {
  name = "dtm-${var.environment}"
}

data "aws_caller_identity" "current" {}

module "network" {
  source             = "./modules/network"
  name               = local.name
  cidr               = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  log_retention_days = var.log_retention_days
}

module "secrets" {
  source = "./modules/secrets"
  name   = local.name
}

module "rds" {
  source                = "./modules/rds"
  name                  = local.name
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  client_security_group = module.network.tasks_security_group_id
  instance_class        = var.db_instance_class
  allocated_storage     = var.db_allocated_storage
  multi_az              = var.db_multi_az
  read_replica          = var.db_read_replica
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.db_deletion_protection
  master_password       = module.secrets.db_password
  kms_key_arn           = module.secrets.kms_key_arn
  database_secret_id    = module.secrets.database_secret_id
  redis_url             = module.elasticache.redis_url
  performance_insights  = var.environment == "prod"
  skip_final_snapshot   = var.environment == "dev"
  monitoring_sns_topic  = var.alarm_sns_topic_arn
}

module "elasticache" {
  source                = "./modules/elasticache"
  name                  = local.name
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  client_security_group = module.network.tasks_security_group_id
  node_type             = var.redis_node_type
  replicas              = var.redis_replicas
}

module "backups" {
  source             = "./modules/backups"
  name               = local.name
  account_id         = data.aws_caller_identity.current.account_id
  kms_key_arn        = module.secrets.kms_key_arn
  glacier_after_days = var.backup_glacier_after_days
  expire_after_days  = var.backup_expire_after_days
}

module "ecs" {
  source                  = "./modules/ecs"
  name                    = local.name
  environment             = var.environment
  region                  = var.region
  vpc_id                  = module.network.vpc_id
  alb_security_group_id   = module.network.alb_security_group_id
  tasks_security_group_id = module.network.tasks_security_group_id
  public_subnet_ids       = module.network.public_subnet_ids
  private_subnet_ids      = module.network.private_subnet_ids
  certificate_arn         = var.certificate_arn
  image                   = var.image
  services                = var.services
  log_level               = var.log_level
  log_retention_days      = var.log_retention_days
  kms_key_arn             = module.secrets.kms_key_arn
  database_secret_arn     = module.secrets.database_secret_arn
  jwt_secret_arn          = module.secrets.jwt_secret_arn
  backup_bucket_arn       = module.backups.bucket_arn
  backup_bucket_url       = module.backups.bucket_url
  alarm_sns_topic_arn     = var.alarm_sns_topic_arn
}

module "waf" {
  source             = "./modules/waf"
  name               = local.name
  alb_arn            = module.ecs.alb_arn
  rate_limit         = var.waf_rate_limit
  log_retention_days = var.log_retention_days
}
