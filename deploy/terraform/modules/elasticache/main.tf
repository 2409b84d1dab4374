# SPDX-License-Identifier: MIT
# ElastiCache Redis 7: private, encrypted at rest, a replica with automatic failover when
# replicas >= 1 (prod). dtm's Redis client (hiredis 0.14) speaks plain TCP, so in-transit TLS
# stays off; the cache holds no only-copy data and is reachable only from the dtm tasks' group.
resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "Redis from dtm tasks only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from dtm tasks"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = var.client_security_group
}

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_elasticache_parameter_group" "this" {
  name   = "${var.name}-redis7"
  family = "redis7"
  parameter {
    name  = "maxmemory-policy"
    value = "allkeys-lru" # a cache: evict rather than refuse writes
  }
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "dtm cache, rate limits, token denylist, pub/sub"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.node_type
  num_cache_clusters         = 1 + var.replicas
  automatic_failover_enabled = var.replicas > 0
  multi_az_enabled           = var.replicas > 0
  port                       = 6379
  parameter_group_name       = aws_elasticache_parameter_group.this.name
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.redis.id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = false
  snapshot_retention_limit   = var.replicas > 0 ? 3 : 0
  apply_immediately          = false
  auto_minor_version_upgrade = true
}
