# One customer-managed key per data store, rotated yearly. The key policy leaves administration to
# the account (IAM policies decide who may use each key); services get grants through their roles.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.80" }
  }
}

variable "name" {
  type        = string
  description = "Prefix, e.g. newstalk-production"
}

variable "purposes" {
  type        = list(string)
  description = "One key per purpose"
  default     = ["eks", "rds", "elasticache", "msk", "secrets", "logs"]
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

data "aws_iam_policy_document" "key" {
  # A key policy's Resource "*" means this key only; the account root must administer it or it is lost.
  #checkov:skip=CKV_AWS_109:key policy, where the resource star is the key itself
  #checkov:skip=CKV_AWS_111:key policy, where the resource star is the key itself
  #checkov:skip=CKV_AWS_356:key policy, where the resource star is the key itself
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncrypt"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  for_each                = toset(var.purposes)
  description             = "${var.name} ${each.key}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  for_each      = aws_kms_key.this
  name          = "alias/${var.name}-${each.key}"
  target_key_id = each.value.key_id
}

output "key_arns" {
  value = { for k, v in aws_kms_key.this : k => v.arn }
}
