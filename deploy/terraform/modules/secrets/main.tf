# Secrets Manager entries, encrypted with their own key. newstalk/<env>/app holds every property the
# pods mount as files (External Secrets, deploy/k8s/base/secrets.yaml); newstalk/<env>/grafana the
# monitoring stack's admin password and newstalk/<env>/alertmanager its receivers' keys
# (deploy/monitoring/secrets.yaml). Values come from the deploy script's environment, never a file.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.80" }
  }
}

variable "environment" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "app" {
  type        = map(string)
  sensitive   = true
  description = "Property name (file name in the pod) to value"
}

variable "grafana_admin_password" {
  type      = string
  sensitive = true
}

resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:rotated by the documented procedure (docs/deploy.md): the URLs embed the RDS and Redis credentials, which a rotation Lambda would change under running pods
  name                    = "newstalk/${var.environment}/app"
  description             = "NewsTalk settings that are secrets (database and Redis URLs, JWT key, audio store keys)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "app" {
  secret_id     = aws_secretsmanager_secret.app.id
  secret_string = jsonencode(var.app)
}

resource "aws_secretsmanager_secret" "grafana" {
  #checkov:skip=CKV2_AWS_57:a human login password, rotated by the documented procedure (docs/deploy.md)
  name                    = "newstalk/${var.environment}/grafana"
  description             = "Grafana admin password for newstalk-ai-monitoring"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "grafana" {
  secret_id     = aws_secretsmanager_secret.grafana.id
  secret_string = jsonencode({ "admin-password" = var.grafana_admin_password })
}

# The Alertmanager receivers' credentials (deploy/monitoring/secrets.yaml): created empty, the
# on-call puts the JSON {"pagerduty-routing-key", "slack-chat-webhook", "slack-info-webhook"} with
# `aws secretsmanager put-secret-value` (docs/deploy.md), so the keys never pass through Terraform
# state or the deploy script.
resource "aws_secretsmanager_secret" "alertmanager" {
  #checkov:skip=CKV2_AWS_57:third-party keys (PagerDuty, Slack) rotated at their issuer, then put here by hand (docs/deploy.md)
  name                    = "newstalk/${var.environment}/alertmanager"
  description             = "Alertmanager receivers for newstalk-ai-monitoring (PagerDuty routing key, Slack webhooks)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
}

output "app_secret_arn" {
  value = aws_secretsmanager_secret.app.arn
}

output "grafana_secret_arn" {
  value = aws_secretsmanager_secret.grafana.arn
}

output "alertmanager_secret_arn" {
  value = aws_secretsmanager_secret.alertmanager.arn
}
