"""deploy/cost.py prices the sizes it reads from the Terraform, so docs/deploy.md's estimate follows them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_estimate_is_built_from_the_terraform_sizes() -> None:
    spec = importlib.util.spec_from_file_location("deploy_cost", ROOT / "deploy" / "cost.py")
    assert spec
    assert spec.loader
    cost = importlib.util.module_from_spec(spec)
    sys.modules["deploy_cost"] = cost
    spec.loader.exec_module(cost)
    production = dict(cost.estimate("production"))
    staging = dict(cost.estimate("staging"))
    assert production["nodes general: 3 x m6i.xlarge"] == 3 * cost.PRICE_PER_HOUR["m6i.xlarge"] * cost.HOURS
    assert (
        production["RDS PostgreSQL db.r6g.xlarge Multi-AZ"]
        == 2 * cost.PRICE_PER_HOUR["db.r6g.xlarge"] * cost.HOURS
    )
    assert "ElastiCache 3 x cache.r7g.large" in production
    assert "MSK storage 3 x 100 GB" in production
    assert "nodes ai: 1 x c6i.xlarge" in staging
    assert sum(staging.values()) < sum(production.values())
