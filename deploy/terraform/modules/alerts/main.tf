# Alerts about what Prometheus cannot see, from AWS's own events, on one SNS topic per region
# (docs/deploy.md, "Alerts outside Prometheus"; docs/operations.md):
# - ACM certificates (the ALB's and CloudFront's): issued or renewed, approaching expiry, renewal
#   needing action, expired. NewsTalkCertificateRenewed in deploy/monitoring reads cert-manager,
#   which this deployment does not use.
# - RDS backups and failures: the backup alerts in deploy/monitoring read the status file of a
#   self-hosted backup, absent on RDS.
# Subscribe the on-call's channels to the topic (PagerDuty's or AWS Chatbot's SNS integration,
# or e-mail); the endpoints hold credentials, so they are not in this repository.
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

variable "db_instance_ids" {
  type        = list(string)
  description = "RDS instances whose backup and failure events go to the topic (none outside their region)"
  default     = []
}

data "aws_caller_identity" "current" {}

# SNS needs a customer-managed key that lets EventBridge and RDS encrypt what they publish.
data "aws_iam_policy_document" "key" {
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
    sid       = "AwsEventsPublishEncrypted"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "events.rds.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "alerts" {
  description             = "${var.name} alerts topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "alerts" {
  name          = "alias/${var.name}-alerts"
  target_key_id = aws_kms_key.alerts.key_id
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = aws_kms_key.alerts.arn
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "AccountManages"
    actions   = ["sns:Subscribe", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic", "sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "AwsEventsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "events.rds.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.topic.json
}

# ACM publishes these to EventBridge in the certificate's own region.
resource "aws_cloudwatch_event_rule" "acm" {
  name        = "${var.name}-acm-certificates"
  description = "ACM certificates renewed, expiring, needing action or expired"
  event_pattern = jsonencode({
    source = ["aws.acm"]
    "detail-type" = [
      "ACM Certificate Available",
      "ACM Certificate Approaching Expiration",
      "ACM Certificate Renewal Action Required",
      "ACM Certificate Expired",
    ]
  })
}

resource "aws_cloudwatch_event_target" "acm" {
  rule = aws_cloudwatch_event_rule.acm.name
  arn  = aws_sns_topic.alerts.arn
}

# Backup: started and finished (the daily snapshot in 03:00-03:30 UTC) and failed; failure:
# the instance failed. A missing backup sends nothing, so docs/backup.md says how to look.
resource "aws_db_event_subscription" "rds" {
  count            = length(var.db_instance_ids) > 0 ? 1 : 0
  name             = "${var.name}-rds"
  sns_topic        = aws_sns_topic.alerts.arn
  source_type      = "db-instance"
  source_ids       = var.db_instance_ids
  event_categories = ["backup", "failure"]
}

output "topic_arn" {
  value = aws_sns_topic.alerts.arn
}
