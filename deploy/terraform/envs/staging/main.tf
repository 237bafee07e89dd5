# NewsTalk staging. State: S3 (encrypted, versioned) with a DynamoDB lock table, created once per
# account by hand or by deploy/terraform/bootstrap (docs/deploy.md, first deployment).
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.80" }
    tls = { source = "hashicorp/tls", version = "~> 4.0" }
  }
  backend "s3" {
    bucket         = "newstalk-terraform-state"
    key            = "staging/terraform.tfstate"
    region         = "ap-northeast-2"
    dynamodb_table = "newstalk-terraform-locks"
    encrypt        = true
  }
}

provider "aws" {
  region = "ap-northeast-2"
  default_tags {
    tags = { Project = "newstalk", Environment = "staging", ManagedBy = "terraform" }
  }
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
  default_tags {
    tags = { Project = "newstalk", Environment = "staging", ManagedBy = "terraform" }
  }
}

# Secrets: scripts/deploy-production.sh exports them as TF_VAR_* from DB_PASSWORD,
# REDIS_AUTH_TOKEN, JWT_SECRET_KEY and GRAFANA_ADMIN_PASSWORD; nothing sensitive is in a file.
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

variable "cdn_certificate_arn" {
  type = string
}

variable "deployer_role_arns" {
  type    = list(string)
  default = []
}

variable "eks_public_access_cidrs" {
  type    = list(string)
  default = []
}

module "newstalk" {
  source    = "../../modules/stack"
  providers = { aws = aws, aws.us_east_1 = aws.us_east_1 }

  environment  = "staging"
  namespace    = "newstalk-ai-staging"
  azs          = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"]
  nat_gateways = 1
  node_groups = {
    general = { instance_types = ["m6i.large"], min_size = 2, desired_size = 2, max_size = 4, disk_gb = 50, taint = false }
    ai      = { instance_types = ["c6i.xlarge"], min_size = 1, desired_size = 1, max_size = 2, disk_gb = 80, taint = true }
    memory  = { instance_types = ["r6i.large"], min_size = 1, desired_size = 1, max_size = 2, disk_gb = 50, taint = false }
  }
  eks_public_access_cidrs    = var.eks_public_access_cidrs
  deployer_role_arns         = var.deployer_role_arns
  db_instance_class          = "db.r6g.large"
  db_deletion_protection     = false
  redis_node_type            = "cache.r7g.large"
  kafka_broker_instance_type = "kafka.m7g.large"
  domain                     = "staging.newstalk.example.com"
  cdn_certificate_arn        = var.cdn_certificate_arn
  db_password                = var.db_password
  redis_auth_token           = var.redis_auth_token
  jwt_secret                 = var.jwt_secret
  grafana_admin_password     = var.grafana_admin_password
}

output "cluster_name" {
  value = module.newstalk.cluster_name
}

output "ecr_repository_url" {
  value = module.newstalk.ecr_repository_url
}

output "audio_bucket" {
  value = module.newstalk.audio_bucket
}

output "cdn_domain" {
  value = module.newstalk.cdn_domain
}

output "api_waf_arn" {
  value = module.newstalk.api_waf_arn
}

output "alerts_topic_arns" {
  value = module.newstalk.alerts_topic_arns
}
