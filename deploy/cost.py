"""Monthly cost estimate of deploy/terraform's sizes: `.venv/bin/python deploy/cost.py`.

The sizes come from the Terraform files (python-hcl2); the prices are the table below, on-demand
list prices for ap-northeast-2 (Seoul) in USD as written down by hand, NOT fetched (no AWS API is
reachable here): check them with the AWS Pricing Calculator before relying on the total. Traffic
(CloudFront egress, NAT data, requests) is an assumption stated in ASSUMED_TRAFFIC.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hcl2

TF = Path(__file__).resolve().parent / "terraform"
HOURS = 730  # per month

PRICE_PER_HOUR = {
    "eks-cluster": 0.10,
    "m6i.large": 0.118,
    "m6i.xlarge": 0.236,
    "c6i.xlarge": 0.192,
    "c6i.2xlarge": 0.384,
    "r6i.large": 0.152,
    "r6i.xlarge": 0.304,
    "db.r6g.large": 0.26,  # PostgreSQL, Single-AZ; Multi-AZ doubles it
    "db.r6g.xlarge": 0.52,
    "cache.r7g.large": 0.262,
    "kafka.m7g.large": 0.25,
    "nat-gateway": 0.059,
    "alb": 0.0225,
}
PRICE_PER_GB_MONTH = {"gp3-ebs": 0.0912, "rds-gp3": 0.131, "msk-storage": 0.114, "s3": 0.025}
PRICE_PER_GB = {"cloudfront-egress": 0.114, "nat-processed": 0.059}
FIXED_PER_MONTH = {"kms-key": 1.0, "secret": 0.40, "waf-acl": 5.0, "waf-rule": 1.0, "alb-lcu": 40.0}
ASSUMED_TRAFFIC = {
    "production": {"cloudfront_gb": 2000, "nat_gb": 500, "audio_gb": 500},
    "staging": {"cloudfront_gb": 100, "nat_gb": 100, "audio_gb": 50},
}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _load(path: Path) -> dict[str, Any]:
    with path.open() as f:
        return _clean(hcl2.load(f))  # type: ignore[no-any-return]


def _default(module: str, name: str) -> Any:
    for var in _load(TF / "modules" / module / "main.tf")["variable"]:
        if name in var:
            return var[name]["default"]
    raise KeyError(f"{module}.{name}")


def estimate(env: str) -> list[tuple[str, float]]:
    """(line, USD per month) for one environment's Terraform sizes."""
    (module,) = _load(TF / "envs" / env / "main.tf")["module"]
    args = module["newstalk"]
    traffic = ASSUMED_TRAFFIC[env]
    rows = [("EKS control plane", PRICE_PER_HOUR["eks-cluster"] * HOURS)]
    for name, group in args["node_groups"].items():
        (itype,) = group["instance_types"]
        n = group["desired_size"]
        rows.append((f"nodes {name}: {n} x {itype}", n * PRICE_PER_HOUR[itype] * HOURS))
        rows.append(
            (
                f"nodes {name}: {n} x {group['disk_gb']} GB gp3",
                n * group["disk_gb"] * PRICE_PER_GB_MONTH["gp3-ebs"],
            )
        )
    db = args["db_instance_class"]
    storage = _default("rds", "allocated_storage_gb")
    rows.append((f"RDS PostgreSQL {db} Multi-AZ", 2 * PRICE_PER_HOUR[db] * HOURS))
    rows.append((f"RDS storage {storage} GB gp3 Multi-AZ", 2 * storage * PRICE_PER_GB_MONTH["rds-gp3"]))
    nodes = 1 + _default("elasticache", "replicas")
    redis = args["redis_node_type"]
    rows.append((f"ElastiCache {nodes} x {redis}", nodes * PRICE_PER_HOUR[redis] * HOURS))
    broker = args["kafka_broker_instance_type"]
    volume = _default("msk", "broker_volume_gb")
    rows.append((f"MSK 3 x {broker}", 3 * PRICE_PER_HOUR[broker] * HOURS))
    rows.append((f"MSK storage 3 x {volume} GB", 3 * volume * PRICE_PER_GB_MONTH["msk-storage"]))
    nat = args["nat_gateways"]
    rows.append((f"NAT gateways: {nat}", nat * PRICE_PER_HOUR["nat-gateway"] * HOURS))
    rows.append(
        (f"NAT data {traffic['nat_gb']} GB (assumed)", traffic["nat_gb"] * PRICE_PER_GB["nat-processed"])
    )
    rows.append(("ALB (hours + assumed LCUs)", PRICE_PER_HOUR["alb"] * HOURS + FIXED_PER_MONTH["alb-lcu"]))
    rows.append(
        (
            f"CloudFront egress {traffic['cloudfront_gb']} GB (assumed)",
            traffic["cloudfront_gb"] * PRICE_PER_GB["cloudfront-egress"],
        )
    )
    rows.append(
        (f"S3 audio {traffic['audio_gb']} GB (assumed)", traffic["audio_gb"] * PRICE_PER_GB_MONTH["s3"])
    )
    kms_keys = len(_default("kms", "purposes")) + 1
    rows.append(
        (
            f"KMS {kms_keys} keys, 2 secrets, 2 WAF ACLs x 4 rules",
            kms_keys * FIXED_PER_MONTH["kms-key"]
            + 2 * FIXED_PER_MONTH["secret"]
            + 2 * (FIXED_PER_MONTH["waf-acl"] + 4 * FIXED_PER_MONTH["waf-rule"]),
        )
    )
    return rows


def main() -> int:
    for env in ("production", "staging"):
        rows = estimate(env)
        print(f"{env}:")
        for line, usd in rows:
            print(f"  {line:<48} {usd:>9,.0f}")
        print(f"  {'total USD per month':<48} {sum(u for _, u in rows):>9,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
