# The whole NewsTalk environment: the envs/ roots call this with their sizes.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = "~> 5.80"
      configuration_aliases = [aws.us_east_1]
    }
  }
}

variable "environment" {
  type = string
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment is staging or production."
  }
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace (deploy/k8s/overlays/<env>)"
}

variable "azs" {
  type = list(string)
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "nat_gateways" {
  type = number
}

variable "node_groups" {
  type = map(object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gb        = number
    taint          = bool
  }))
}

variable "eks_public_access_cidrs" {
  type    = list(string)
  default = []
}

variable "deployer_role_arns" {
  type    = list(string)
  default = []
}

variable "db_instance_class" {
  type = string
}

variable "db_deletion_protection" {
  type = bool
}

variable "redis_node_type" {
  type = string
}

variable "kafka_broker_instance_type" {
  type = string
}

variable "domain" {
  type        = string
  description = "e.g. newstalk.example.com: api.<domain> is the ALB, cdn.<domain> CloudFront"
}

variable "cdn_certificate_arn" {
  type        = string
  description = "ACM certificate in us-east-1 for cdn.<domain>"
}

variable "db_password" {
  type      = string
  sensitive = true
}

variable "redis_auth_token" {
  type      = string
  sensitive = true
}

variable "jwt_secret" {
  type      = string
  sensitive = true
}

variable "grafana_admin_password" {
  type      = string
  sensitive = true
}

locals {
  name = "newstalk-${var.environment}"
}

module "kms" {
  source = "../kms"
  name   = local.name
}

module "vpc" {
  source           = "../vpc"
  name             = local.name
  cidr             = var.vpc_cidr
  azs              = var.azs
  nat_gateways     = var.nat_gateways
  logs_kms_key_arn = module.kms.key_arns["logs"]
}

module "eks" {
  source              = "../eks"
  name                = local.name
  vpc_id              = module.vpc.vpc_id
  private_subnet_ids  = module.vpc.private_subnet_ids
  eks_kms_key_arn     = module.kms.key_arns["eks"]
  logs_kms_key_arn    = module.kms.key_arns["logs"]
  node_groups         = var.node_groups
  public_access_cidrs = var.eks_public_access_cidrs
  deployer_role_arns  = var.deployer_role_arns
}

module "rds" {
  source                   = "../rds"
  name                     = local.name
  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.data_subnet_ids
  client_security_group_id = module.eks.cluster_security_group_id
  kms_key_arn              = module.kms.key_arns["rds"]
  password                 = var.db_password
  instance_class           = var.db_instance_class
  deletion_protection      = var.db_deletion_protection
}

# Certificates, RDS backups and failures: AWS events to an SNS topic (modules/alerts). The
# CloudFront certificate lives in us-east-1, whose events stay there, hence a second topic.
module "alerts" {
  source          = "../alerts"
  name            = local.name
  db_instance_ids = [module.rds.identifier]
}

module "alerts_us_east_1" {
  source    = "../alerts"
  providers = { aws = aws.us_east_1 }
  name      = "${local.name}-edge"
}

module "elasticache" {
  source                   = "../elasticache"
  name                     = local.name
  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.data_subnet_ids
  client_security_group_id = module.eks.cluster_security_group_id
  kms_key_arn              = module.kms.key_arns["elasticache"]
  logs_kms_key_arn         = module.kms.key_arns["logs"]
  auth_token               = var.redis_auth_token
  node_type                = var.redis_node_type
}

module "msk" {
  source                   = "../msk"
  name                     = local.name
  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.data_subnet_ids
  client_security_group_id = module.eks.cluster_security_group_id
  kms_key_arn              = module.kms.key_arns["msk"]
  logs_kms_key_arn         = module.kms.key_arns["logs"]
  broker_instance_type     = var.kafka_broker_instance_type
}

module "waf_cdn" {
  source           = "../waf"
  providers        = { aws = aws.us_east_1 }
  name             = "${local.name}-cdn"
  scope            = "CLOUDFRONT"
  logs_kms_key_arn = module.kms_us_east_1.key_arns["logs"]
}

# CloudFront's WAF logs live in us-east-1, so they need a key there.
module "kms_us_east_1" {
  source    = "../kms"
  providers = { aws = aws.us_east_1 }
  name      = "${local.name}-edge"
  purposes  = ["logs"]
}

module "waf_api" {
  source           = "../waf"
  name             = "${local.name}-api"
  scope            = "REGIONAL"
  logs_kms_key_arn = module.kms.key_arns["logs"]
}

module "cdn" {
  source            = "../cdn"
  name              = local.name
  aliases           = ["cdn.${var.domain}"]
  certificate_arn   = var.cdn_certificate_arn
  api_origin_domain = "api.${var.domain}"
  web_acl_arn       = module.waf_cdn.arn
}

module "secrets" {
  source      = "../secrets"
  environment = var.environment
  kms_key_arn = module.kms.key_arns["secrets"]
  app = {
    "database-url"               = "postgresql://newstalk:${urlencode(var.db_password)}@${module.rds.endpoint}:${module.rds.port}/newstalk?sslmode=require"
    "redis-url"                  = "rediss://:${urlencode(var.redis_auth_token)}@${module.elasticache.primary_endpoint}:6379/0"
    "jwt-secret"                 = var.jwt_secret
    "audio-s3-access-key-id"     = module.iam.audio_access_key_id
    "audio-s3-secret-access-key" = module.iam.audio_secret_access_key
  }
  grafana_admin_password = var.grafana_admin_password
}

module "iam" {
  source            = "../iam"
  name              = local.name
  namespace         = var.namespace
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer       = module.eks.oidc_issuer
  app_secret_arns   = ["arn:aws:secretsmanager:*:*:secret:newstalk/${var.environment}/app-*"]
  monitoring_secret_arns = [
    "arn:aws:secretsmanager:*:*:secret:newstalk/${var.environment}/alertmanager-*",
    "arn:aws:secretsmanager:*:*:secret:newstalk/${var.environment}/grafana-*",
  ]
  secrets_kms_key_arn = module.kms.key_arns["secrets"]
  audio_bucket_arn    = module.cdn.audio_bucket_arn
}

resource "aws_ecr_repository" "newstalk" {
  name                 = "${local.name}/newstalk"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = module.kms.key_arns["secrets"]
  }
}

output "cluster_name" {
  value = module.eks.cluster_name
}

output "ecr_repository_url" {
  value = aws_ecr_repository.newstalk.repository_url
}

output "audio_bucket" {
  value = module.cdn.audio_bucket
}

output "cdn_domain" {
  value = module.cdn.distribution_domain
}

output "api_waf_arn" {
  value = module.waf_api.arn
}

output "external_secrets_role_arn" {
  value = module.iam.external_secrets_role_arn
}

output "kafka_bootstrap_brokers" {
  value = module.msk.bootstrap_brokers
}

output "alerts_topic_arns" {
  value = [module.alerts.topic_arn, module.alerts_us_east_1.topic_arn]
}
