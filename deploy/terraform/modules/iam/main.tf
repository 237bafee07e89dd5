# IAM for the workloads. External Secrets reads this environment's secrets through IRSA. The audio
# store signs its S3 requests with static keys (src/newstalk/speech/storage.py has no web-identity
# credential chain yet), so a user limited to the bucket's audio/ prefix holds them; its key lives
# in Terraform state (encrypted, S3 + KMS) and in the app secret. See docs/deploy.md, rotation.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.80" }
  }
}

variable "name" {
  type = string
}

variable "namespace" {
  type = string
}

variable "oidc_provider_arn" {
  type = string
}

variable "oidc_issuer" {
  type        = string
  description = "Issuer host and path, without https://"
}

variable "app_secret_arns" {
  type = list(string)
}

variable "monitoring_secret_arns" {
  type        = list(string)
  description = "Secrets the monitoring namespace's External Secrets may read (Alertmanager receivers, Grafana admin)"
}

variable "monitoring_namespace" {
  type    = string
  default = "newstalk-ai-monitoring"
}

variable "secrets_kms_key_arn" {
  type = string
}

variable "audio_bucket_arn" {
  type = string
}

data "aws_iam_policy_document" "external_secrets_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:newstalk-external-secrets"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "external_secrets" {
  statement {
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = var.app_secret_arns
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]
  }
}

resource "aws_iam_role" "external_secrets" {
  name               = "${var.name}-external-secrets"
  assume_role_policy = data.aws_iam_policy_document.external_secrets_assume.json
}

resource "aws_iam_role_policy" "external_secrets" {
  role   = aws_iam_role.external_secrets.id
  policy = data.aws_iam_policy_document.external_secrets.json
}

# The monitoring namespace's SecretStore (deploy/monitoring/secrets.yaml): its own role, which
# may read the monitoring secrets only, never the app's.
data "aws_iam_policy_document" "monitoring_external_secrets_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.monitoring_namespace}:newstalk-external-secrets"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "monitoring_external_secrets" {
  statement {
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = var.monitoring_secret_arns
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]
  }
}

resource "aws_iam_role" "monitoring_external_secrets" {
  name               = "${var.name}-monitoring-external-secrets"
  assume_role_policy = data.aws_iam_policy_document.monitoring_external_secrets_assume.json
}

resource "aws_iam_role_policy" "monitoring_external_secrets" {
  role   = aws_iam_role.monitoring_external_secrets.id
  policy = data.aws_iam_policy_document.monitoring_external_secrets.json
}

data "aws_iam_policy_document" "audio" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.audio_bucket_arn}/audio/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [var.audio_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["audio/*"]
    }
  }
}

resource "aws_iam_group" "audio" {
  name = "${var.name}-audio-writers"
}

resource "aws_iam_group_policy" "audio" {
  group  = aws_iam_group.audio.name
  policy = data.aws_iam_policy_document.audio.json
}

resource "aws_iam_user" "audio" {
  #checkov:skip=CKV_AWS_273:the audio store signs with static keys (no web-identity chain in speech/storage.py yet)
  name = "${var.name}-audio"
}

resource "aws_iam_user_group_membership" "audio" {
  user   = aws_iam_user.audio.name
  groups = [aws_iam_group.audio.name]
}

resource "aws_iam_access_key" "audio" {
  user = aws_iam_user.audio.name
}

output "external_secrets_role_arn" {
  value = aws_iam_role.external_secrets.arn
}

output "monitoring_external_secrets_role_arn" {
  value = aws_iam_role.monitoring_external_secrets.arn
}

output "audio_access_key_id" {
  value = aws_iam_access_key.audio.id
}

output "audio_secret_access_key" {
  value     = aws_iam_access_key.audio.secret
  sensitive = true
}
