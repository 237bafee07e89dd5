# Audio in S3 (AES-256, private, TLS only, versioned) behind CloudFront. The CloudFlare rules the
# project promises, in CloudFront terms:
#   audio (/audio/*): edge and browser TTL 30 days       -> cache policy + Cache-Control header
#   static assets (/static/*): 1 year                      -> cache policy + Cache-Control header
#   API (/api/*, and everything else from the ALB): bypass -> managed CachingDisabled policy
#   100 requests per minute per address                    -> WAF rate rule (module waf)
#   security headers (HSTS, nosniff, frame deny, ...)      -> response headers policy
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.80" }
  }
}

variable "name" {
  type = string
}

variable "aliases" {
  type        = list(string)
  description = "CDN host names, e.g. cdn.newstalk.example.com"
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate in us-east-1 covering the aliases"
}

variable "api_origin_domain" {
  type        = string
  description = "The ALB's host name (api.<domain>) that serves the API with TLS"
}

variable "web_acl_arn" {
  type        = string
  description = "WAF web ACL with scope CLOUDFRONT"
}

variable "price_class" {
  type    = string
  default = "PriceClass_200"
}

locals {
  audio_ttl_s  = 30 * 24 * 3600
  static_ttl_s = 365 * 24 * 3600
  # AWS managed policies: CachingDisabled, AllViewerExceptHostHeader.
  caching_disabled_id       = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  all_viewer_except_host_id = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
  audio_origin              = "audio-s3"
  api_origin                = "api-alb"
}

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:this is the log bucket; logging it into itself would loop
  #checkov:skip=CKV_AWS_144:access logs are not replicated to a second region (cost; losing them loses no data)
  #checkov:skip=CKV_AWS_145:CloudFront standard logging cannot write to an SSE-KMS bucket; AES-256 (SSE-S3)
  #checkov:skip=CKV2_AWS_62:nothing consumes events of new log objects
  bucket = "${var.name}-logs"
}

resource "aws_s3_bucket" "audio" {
  #checkov:skip=CKV_AWS_144:audio is public content the speech stage can render again; no second region
  #checkov:skip=CKV_AWS_145:AES-256 (SSE-S3) as promised; public audio behind CloudFront gains nothing from a CMK but a KMS call per cache miss
  #checkov:skip=CKV2_AWS_62:nothing consumes events of new audio objects
  bucket = "${var.name}-audio"
}

resource "aws_s3_bucket_ownership_controls" "audio" {
  bucket = aws_s3_bucket.audio.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# CloudFront standard logs need ACLs on their bucket.
resource "aws_s3_bucket_ownership_controls" "logs" {
  #checkov:skip=CKV2_AWS_65:CloudFront standard logging needs ACLs on its bucket
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = { audio = aws_s3_bucket.audio.id, logs = aws_s3_bucket.logs.id }
  bucket                  = each.value
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

#trivy:ignore:AVD-AWS-0132 AES-256 (SSE-S3) as promised; CloudFront standard logs cannot use SSE-KMS, public audio gains nothing from a CMK
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = { audio = aws_s3_bucket.audio.id, logs = aws_s3_bucket.logs.id }
  bucket   = each.value
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = { audio = aws_s3_bucket.audio.id, logs = aws_s3_bucket.logs.id }
  bucket   = each.value
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "audio" {
  bucket = aws_s3_bucket.audio.id
  rule {
    id     = "old-versions-and-uploads"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = 365
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_logging" "audio" {
  bucket        = aws_s3_bucket.audio.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/audio/"
}

resource "aws_cloudfront_origin_access_control" "audio" {
  name                              = "${var.name}-audio"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_cache_policy" "audio" {
  name        = "${var.name}-audio-30d"
  min_ttl     = local.audio_ttl_s
  default_ttl = local.audio_ttl_s
  max_ttl     = local.audio_ttl_s
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_cache_policy" "static" {
  name        = "${var.name}-static-1y"
  min_ttl     = local.static_ttl_s
  default_ttl = local.static_ttl_s
  max_ttl     = local.static_ttl_s
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

# Security headers on every response; audio and static files also get the browser TTL.
resource "aws_cloudfront_response_headers_policy" "this" {
  for_each = {
    default = null
    audio   = "public, max-age=${local.audio_ttl_s}, immutable"
    static  = "public, max-age=${local.static_ttl_s}, immutable"
  }
  name = "${var.name}-${each.key}"

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }
    xss_protection {
      protection = true
      mode_block = true
      override   = true
    }
  }

  dynamic "custom_headers_config" {
    for_each = each.value == null ? [] : [each.value]
    content {
      items {
        header   = "Cache-Control"
        value    = custom_headers_config.value
        override = true
      }
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_305:the default behaviour is the API origin, which serves / itself
  #checkov:skip=CKV_AWS_310:one origin per path in one region; an outage falls back to the API serving audio itself (NEWSTALK_AUDIO_PUBLIC_BASE_URL unset)
  #checkov:skip=CKV2_AWS_47:web_acl_arn is module waf_cdn, which has AWSManagedRulesKnownBadInputsRuleSet (Log4j); checkov cannot follow the module variable
  #checkov:skip=CKV_AWS_374:news for listeners anywhere; no country is restricted
  enabled         = true
  is_ipv6_enabled = true
  comment         = "${var.name} audio, static files and API"
  aliases         = var.aliases
  price_class     = var.price_class
  web_acl_id      = var.web_acl_arn

  origin {
    origin_id                = local.audio_origin
    domain_name              = aws_s3_bucket.audio.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.audio.id
  }

  origin {
    origin_id   = local.api_origin
    domain_name = var.api_origin_domain
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  default_cache_behavior {
    target_origin_id           = local.api_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = local.caching_disabled_id
    origin_request_policy_id   = local.all_viewer_except_host_id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this["default"].id
    compress                   = true
  }

  ordered_cache_behavior {
    path_pattern               = "/api/*"
    target_origin_id           = local.api_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = local.caching_disabled_id
    origin_request_policy_id   = local.all_viewer_except_host_id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this["default"].id
    compress                   = true
  }

  ordered_cache_behavior {
    path_pattern               = "/audio/*"
    target_origin_id           = local.audio_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = aws_cloudfront_cache_policy.audio.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this["audio"].id
    compress                   = false
  }

  ordered_cache_behavior {
    path_pattern               = "/static/*"
    target_origin_id           = local.audio_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = aws_cloudfront_cache_policy.static.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this["static"].id
    compress                   = true
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  logging_config {
    bucket          = aws_s3_bucket.logs.bucket_domain_name
    prefix          = "cloudfront/"
    include_cookies = false
  }
}

data "aws_iam_policy_document" "audio" {
  statement {
    sid       = "CloudFrontReads"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.audio.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.audio.arn, "${aws_s3_bucket.audio.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "audio" {
  bucket = aws_s3_bucket.audio.id
  policy = data.aws_iam_policy_document.audio.json
}

output "audio_bucket" {
  value = aws_s3_bucket.audio.id
}

output "audio_bucket_arn" {
  value = aws_s3_bucket.audio.arn
}

output "distribution_domain" {
  value = aws_cloudfront_distribution.this.domain_name
}
