"""The promises of deploy/terraform, read from the HCL with python-hcl2 (providers cannot be
downloaded here, so `terraform validate` and `plan` cannot run; docs/deploy.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

TF = Path(__file__).resolve().parents[2] / "deploy" / "terraform"
DAY = 24 * 3600


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def load(path: Path) -> dict[str, Any]:
    """The parsed file (cached: the tests only read it)."""
    with path.open() as f:
        return _clean(hcl2.load(f))  # type: ignore[no-any-return]


def resources(module: str, kind: str) -> dict[str, dict[str, Any]]:
    """name -> attributes of every `resource "<kind>" "<name>"` in modules/<module>."""
    found: dict[str, dict[str, Any]] = {}
    for block in load(TF / "modules" / module / "main.tf").get("resource", []):
        for name, attrs in block.get(kind, {}).items():
            found[name] = attrs
    return found


def one(module: str, kind: str) -> dict[str, Any]:
    (attrs,) = resources(module, kind).values()
    return attrs


def block(attrs: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested block that occurs once."""
    (inner,) = attrs[name]
    return inner  # type: ignore[no-any-return]


def variable_default(module: str, name: str) -> Any:
    for var in load(TF / "modules" / module / "main.tf")["variable"]:
        if name in var:
            return var[name].get("default")
    raise KeyError(name)


def env_args(env: str) -> dict[str, Any]:
    (module,) = load(TF / "envs" / env / "main.tf")["module"]
    return module["newstalk"]  # type: ignore[no-any-return]


def all_tf_files() -> Iterator[Path]:
    yield from sorted(TF.rglob("*.tf"))


def test_every_file_parses_and_asks_for_terraform_1_6_or_newer() -> None:
    files = list(all_tf_files())
    assert len(files) == 15
    for path in files:
        (settings,) = load(path)["terraform"]
        assert settings["required_version"] == ">= 1.6", path


def test_the_audio_store_is_versioned_and_keeps_old_versions_30_days() -> None:
    versioning = one("cdn", "aws_s3_bucket_versioning")
    assert versioning["for_each"]["audio"] == "${aws_s3_bucket.audio.id}"
    assert block(versioning, "versioning_configuration")["status"] == "Enabled"
    rule = block(resources("cdn", "aws_s3_bucket_lifecycle_configuration")["audio"], "rule")
    assert block(rule, "noncurrent_version_expiration")["noncurrent_days"] == 30


def test_postgres_is_17_multi_az_encrypted_private_with_7_days_of_backups() -> None:
    db = one("rds", "aws_db_instance")
    assert db["engine"] == "postgres"
    assert db["engine_version"] == "17"
    assert variable_default("rds", "instance_class") == "db.r6g.xlarge"
    assert (
        variable_default("rds", "allocated_storage_gb"),
        variable_default("rds", "max_allocated_storage_gb"),
    ) == (
        100,
        1000,
    )
    assert db["multi_az"] is True
    assert db["storage_encrypted"] is True
    assert db["kms_key_id"] == "${var.kms_key_arn}"
    assert db["performance_insights_kms_key_id"] == "${var.kms_key_arn}"
    assert db["publicly_accessible"] is False
    assert db["backup_retention_period"] == 7  # with it, point-in-time recovery over those 7 days
    assert db["backup_window"] == "03:00-03:30"  # the nightly backup at 03:00 UTC (docs/backup.md)
    assert db["skip_final_snapshot"] is False
    assert db["deletion_protection"] == "${var.deletion_protection}"
    params = {p["name"]: p["value"] for p in one("rds", "aws_db_parameter_group")["parameter"]}
    assert params["rds.force_ssl"] == "1"


def test_aws_events_prometheus_cannot_see_reach_an_alerts_topic_in_both_regions() -> None:
    """ACM certificates (the ALB's, CloudFront's in us-east-1) and RDS backups: SNS, not Prometheus."""
    (rule,) = resources("alerts", "aws_cloudwatch_event_rule").values()
    pattern = rule["event_pattern"]  # jsonencode({...}) as written
    assert re.search(r'source\s*[:=]\s*\["aws\.acm"\]', pattern), pattern
    assert set(re.findall(r'"(ACM Certificate [^"]+)"', pattern)) == {
        "ACM Certificate Available",
        "ACM Certificate Approaching Expiration",
        "ACM Certificate Renewal Action Required",
        "ACM Certificate Expired",
    }
    target = one("alerts", "aws_cloudwatch_event_target")
    assert target["arn"] == "${aws_sns_topic.alerts.arn}"
    subscription = one("alerts", "aws_db_event_subscription")
    assert subscription["sns_topic"] == "${aws_sns_topic.alerts.arn}"
    assert subscription["source_type"] == "db-instance"
    assert "backup" in subscription["event_categories"]
    stack = {name: m for block_ in load(TF / "modules/stack/main.tf")["module"] for name, m in block_.items()}
    assert stack["alerts"]["db_instance_ids"] == ["${module.rds.identifier}"]
    assert stack["alerts_us_east_1"]["providers"] == {"aws": "${aws.us_east_1}"}
    assert "db_instance_ids" not in stack["alerts_us_east_1"]
    # Only AWS's event services of this account may publish.
    documents = {
        name: doc
        for data in load(TF / "modules/alerts/main.tf")["data"]
        for name, doc in data.get("aws_iam_policy_document", {}).items()
    }
    publish = next(s for s in documents["topic"]["statement"] if s["sid"] == "AwsEventsPublish")
    assert publish["condition"][0]["variable"] == "aws:SourceAccount"


def test_the_monitoring_namespace_reads_only_its_own_secrets() -> None:
    stack = {name: m for block_ in load(TF / "modules/stack/main.tf")["module"] for name, m in block_.items()}
    assert stack["iam"]["monitoring_secret_arns"] == [
        "arn:aws:secretsmanager:*:*:secret:newstalk/${var.environment}/alertmanager-*",
        "arn:aws:secretsmanager:*:*:secret:newstalk/${var.environment}/grafana-*",
    ]
    names = {s["name"] for s in resources("secrets", "aws_secretsmanager_secret").values()}
    assert "newstalk/${var.environment}/alertmanager" in names
    assert not resources("secrets", "aws_secretsmanager_secret_version").keys() & {"alertmanager"}, (
        "the receivers' keys are put by hand, never through Terraform state"
    )
    roles = resources("iam", "aws_iam_role")
    assert roles["monitoring_external_secrets"]["name"] == "${var.name}-monitoring-external-secrets"


def test_deletion_protection_is_on_in_production_only() -> None:
    assert env_args("production")["db_deletion_protection"] is True
    assert env_args("staging")["db_deletion_protection"] is False
    assert env_args("production")["db_instance_class"] == "db.r6g.xlarge"


def test_redis_has_two_replicas_across_zones_tls_encryption_and_an_auth_token() -> None:
    redis = one("elasticache", "aws_elasticache_replication_group")
    assert variable_default("elasticache", "node_type") == "cache.r7g.large"
    assert variable_default("elasticache", "replicas") == 2
    assert redis["num_cache_clusters"] == "${1 + var.replicas}"
    assert redis["multi_az_enabled"] is True
    assert redis["automatic_failover_enabled"] is True
    assert redis["at_rest_encryption_enabled"] is True
    assert redis["kms_key_id"] == "${var.kms_key_arn}"
    assert redis["transit_encryption_enabled"] is True
    assert redis["auth_token"] == "${var.auth_token}"
    assert redis["snapshot_retention_limit"] == 7


def test_kafka_is_3_6_with_three_100_gb_brokers_tls_kms_and_no_public_access() -> None:
    msk = one("msk", "aws_msk_cluster")
    assert msk["kafka_version"] == "3.6.0"
    assert msk["number_of_broker_nodes"] == 3
    assert variable_default("msk", "broker_volume_gb") == 100
    encryption = block(msk, "encryption_info")
    assert encryption["encryption_at_rest_kms_key_arn"] == "${var.kms_key_arn}"
    assert block(encryption, "encryption_in_transit") == {"client_broker": "TLS", "in_cluster": True}
    auth = block(msk, "client_authentication")
    assert auth["unauthenticated"] is False
    nodes = block(msk, "broker_node_group_info")
    assert block(block(nodes, "connectivity_info"), "public_access") == {"type": "DISABLED"}


def test_eks_has_the_three_node_groups_irsa_and_encrypted_secrets() -> None:
    cluster = one("eks", "aws_eks_cluster")
    version = variable_default("eks", "kubernetes_version")
    assert int(version.split(".")[1]) >= 28
    assert block(cluster, "encryption_config")["resources"] == ["secrets"]
    assert block(cluster, "vpc_config")["endpoint_private_access"] is True
    assert "audit" in cluster["enabled_cluster_log_types"]
    assert "aws_iam_openid_connect_provider" in {
        k for b in load(TF / "modules/eks/main.tf")["resource"] for k in b
    }
    for env in ("staging", "production"):
        groups = env_args(env)["node_groups"]
        assert set(groups) == {"general", "ai", "memory"}
        assert groups["ai"]["taint"] is True
        assert groups["general"]["taint"] is False
    template = one("eks", "aws_launch_template")
    assert block(template, "metadata_options")["http_tokens"] == "required"
    assert block(block(template, "block_device_mappings"), "ebs")["encrypted"] is True


def test_three_zones_and_data_stores_in_private_subnets() -> None:
    for env in ("staging", "production"):
        azs = env_args(env)["azs"]
        assert len(set(azs)) == 3
    subnets = resources("vpc", "aws_subnet")
    assert subnets["public"]["map_public_ip_on_launch"] is False
    (stack,) = [load(TF / "modules/stack/main.tf")]
    modules = {k: v for m in stack["module"] for k, v in m.items()}
    for store in ("rds", "elasticache", "msk"):
        assert modules[store]["subnet_ids"] == "${module.vpc.data_subnet_ids}"
        assert modules[store]["client_security_group_id"] == "${module.eks.cluster_security_group_id}"
    assert resources("vpc", "aws_route_table")["data"].get("route") is None  # no way out of the VPC


def _ingress_rules() -> Iterator[tuple[Path, str, dict[str, Any]]]:
    for path in all_tf_files():
        for res in load(path).get("resource", []):
            for kind, named in res.items():
                for name, attrs in named.items():
                    if kind == "aws_vpc_security_group_ingress_rule" or (
                        kind == "aws_security_group_rule" and attrs.get("type") == "ingress"
                    ):
                        yield path, name, attrs
                    elif kind == "aws_security_group":
                        for rule in attrs.get("ingress", []):
                            yield path, name, rule


def test_no_ingress_from_anywhere_and_databases_only_from_the_cluster() -> None:
    rules = list(_ingress_rules())
    assert {(p.parent.name, attrs["from_port"]) for p, _, attrs in rules} == {
        ("rds", 5432),
        ("elasticache", 6379),
        ("msk", 9098),
    }
    for path, name, attrs in rules:
        text = str(attrs)
        assert "0.0.0.0/0" not in text, (path, name)
        assert "::/0" not in text, (path, name)
        assert attrs["referenced_security_group_id"] == "${var.client_security_group_id}"
    # The only thing open to the internet is the ALB, which the AWS Load Balancer Controller
    # creates from the Ingress: HTTPS on 443 only (tests/deploy/test_k8s.py checks the annotation).


def test_encryption_everywhere() -> None:
    for key in resources("kms", "aws_kms_key").values():
        assert key["enable_key_rotation"] is True
    for path in all_tf_files():
        for res in load(path).get("resource", []):
            for kind, named in res.items():
                for name, attrs in named.items():
                    where = f"{path.relative_to(TF)} {kind}.{name}"
                    if kind == "aws_cloudwatch_log_group":
                        assert attrs.get("kms_key_id"), where
                    if kind == "aws_secretsmanager_secret":
                        assert attrs.get("kms_key_id"), where
                    if kind == "aws_sns_topic":
                        assert attrs.get("kms_master_key_id"), where
                    if kind == "aws_kms_key":
                        assert attrs["enable_key_rotation"] is True, where
                    if kind == "aws_ecr_repository":
                        assert block(attrs, "encryption_configuration")["encryption_type"] == "KMS", where
                    if kind == "aws_dynamodb_table":
                        assert block(attrs, "server_side_encryption")["enabled"] is True, where
    # Every bucket has default encryption: AES-256 for audio and CDN logs, KMS for Terraform state.
    sse = one("cdn", "aws_s3_bucket_server_side_encryption_configuration")
    assert set(sse["for_each"]) == set(resources("cdn", "aws_s3_bucket"))
    algorithm = block(block(sse, "rule"), "apply_server_side_encryption_by_default")["sse_algorithm"]
    assert algorithm == "AES256"
    state = load(TF / "bootstrap/main.tf")
    state_sse = next(
        r for r in state["resource"] if "aws_s3_bucket_server_side_encryption_configuration" in r
    )
    rule = block(state_sse["aws_s3_bucket_server_side_encryption_configuration"]["state"], "rule")
    assert block(rule, "apply_server_side_encryption_by_default")["sse_algorithm"] == "aws:kms"
    block_public = one("cdn", "aws_s3_bucket_public_access_block")
    assert all(
        block_public[k] is True
        for k in ("block_public_acls", "block_public_policy", "restrict_public_buckets")
    )


def test_the_cdn_rules_audio_30_days_static_1_year_api_bypassed_rate_limit_and_headers() -> None:
    cdn = load(TF / "modules/cdn/main.tf")
    (local_values,) = cdn["locals"]
    assert local_values["audio_ttl_s"] == "${30 * 24 * 3600}"
    assert local_values["static_ttl_s"] == "${365 * 24 * 3600}"
    policies = resources("cdn", "aws_cloudfront_cache_policy")
    for name, ttl in (("audio", "${local.audio_ttl_s}"), ("static", "${local.static_ttl_s}")):
        assert policies[name]["min_ttl"] == policies[name]["default_ttl"] == policies[name]["max_ttl"] == ttl
    headers = one("cdn", "aws_cloudfront_response_headers_policy")
    assert headers["for_each"]["audio"] == "public, max-age=${local.audio_ttl_s}, immutable"
    security = block(headers, "security_headers_config")
    assert block(security, "strict_transport_security")["access_control_max_age_sec"] >= 365 * DAY
    assert block(security, "frame_options")["frame_option"] == "DENY"
    assert {"content_type_options", "referrer_policy", "xss_protection"} <= set(security)

    dist = one("cdn", "aws_cloudfront_distribution")
    behaviours = {b["path_pattern"]: b for b in dist["ordered_cache_behavior"]}
    assert behaviours["/audio/*"]["cache_policy_id"] == "${aws_cloudfront_cache_policy.audio.id}"
    assert behaviours["/static/*"]["cache_policy_id"] == "${aws_cloudfront_cache_policy.static.id}"
    assert behaviours["/api/*"]["cache_policy_id"] == "${local.caching_disabled_id}"
    assert local_values["caching_disabled_id"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    for b in [*behaviours.values(), block(dist, "default_cache_behavior")]:
        assert b["viewer_protocol_policy"] == "redirect-to-https"
    assert dist["web_acl_id"] == "${var.web_acl_arn}"
    assert block(dist, "viewer_certificate")["minimum_protocol_version"] == "TLSv1.2_2021"

    acl = one("waf", "aws_wafv2_web_acl")
    rate = next(r for r in acl["rule"] if r["name"] == "rate-limit")
    statement = block(block(rate, "statement"), "rate_based_statement")
    assert variable_default("waf", "requests_per_minute") == 100
    assert statement["limit"] == "${var.requests_per_minute}"
    assert statement["evaluation_window_sec"] == 60


def test_both_environments_keep_state_in_s3_with_a_lock_table() -> None:
    for env in ("staging", "production"):
        (settings,) = load(TF / "envs" / env / "main.tf")["terraform"]
        (backend,) = settings["backend"]
        s3 = backend["s3"]
        assert s3["key"] == f"{env}/terraform.tfstate"
        assert s3["encrypt"] is True
        assert s3["dynamodb_table"] == "newstalk-terraform-locks"


@pytest.mark.parametrize("path", list(all_tf_files()), ids=lambda p: str(p.relative_to(TF)))
def test_every_skipped_check_gives_a_reason(path: Path) -> None:
    for match in re.finditer(r"#checkov:skip=([A-Z0-9_]+):?(.*)", path.read_text()):
        assert len(match.group(2).strip()) > 20, f"{path}: {match.group(1)} has no reason"
    for match in re.finditer(r"#trivy:ignore:([A-Z0-9-]+)(.*)", path.read_text()):
        assert len(match.group(2).strip()) > 20, f"{path}: {match.group(1)} has no reason"
