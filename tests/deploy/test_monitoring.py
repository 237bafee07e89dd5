"""deploy/monitoring: the promised thresholds, a runbook and unit tests for every rule, routing.

promtool and amtool run the rules and the routes in scripts/check-monitoring; these checks keep
the files honest without them: each alert of the issue exists with its exact threshold and
severity, each has a runbook on disk and tests that show it firing and not firing.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "deploy" / "monitoring"
TEST_FILES = ("newstalk-alerts.test.yaml", "newstalk-slo.test.yaml")


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((MON / "newstalk-alerts.yaml").read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for r in rules() if "alert" in r}


def unit_tests() -> list[dict[str, Any]]:
    return [t for name in TEST_FILES for t in yaml.safe_load((MON / name).read_text())["tests"]]


# (alert, severity, what the expression must say) for every rule the issue promises.
PROMISED = [
    ("NewsTalkApiLatencyHigh", "critical", r"histogram_quantile\(0\.95, .*\)\s*> 5$"),
    ("NewsTalkApiErrorRatioHigh", "critical", r"ratio_rate5m > 0\.05$"),
    ("NewsTalkFactcheckAccuracyLow", "critical", r"newstalk_factcheck_agreement_ratio\) < 0\.9\b"),
    ("NewsTalkAvailabilityLow", "critical", r"1 - namespace:newstalk_http_errors:ratio_rate1h < 0\.99$"),
    ("NewsTalkCpuHigh", "warning", r"mode=\"idle\".*> 0\.8$"),
    ("NewsTalkMemoryHigh", "warning", r"MemAvailable_bytes / node_memory_MemTotal_bytes > 0\.85$"),
    ("NewsTalkDiskFull", "warning", r"node_filesystem_size_bytes.*> 0\.9$"),
    ("NewsTalkProcessingDelayHigh", "warning", r"newstalk_queue_oldest_pending_age_seconds\) > 600$"),
    ("NewsTalkBackupTooOld", "warning", r"newstalk_backup_last_success_timestamp_seconds\) > 26 \* 3600$"),
    ("NewsTalkBackupSizeDropped", "warning", r"newstalk_backup_size_bytes"),
    ("NewsTalkDeploymentFinished", "info", r"newstalk_build_info"),
    ("NewsTalkScalingEvent", "info", r"kube_deployment_spec_replicas"),
    ("NewsTalkBackupFinished", "info", r"changes\(newstalk_backup_last_success_timestamp_seconds"),
    ("NewsTalkCertificateRenewed", "info", r"certmanager_certificate_expiration_timestamp_seconds"),
    # Not from NewsTalk's own counters, which vanish with the API: Prometheus's scrape of it.
    (
        "NewsTalkApiDown",
        "critical",
        r'max by \(namespace\) \(up\{job="newstalk-api"\}\) == 0 .*absent\(up\{job="newstalk-api"\}\)$',
    ),
    # First sighting to audio, the whole path, at the promised 10 minutes.
    (
        "NewsTalkEndToEndDelayHigh",
        "warning",
        r'histogram_quantile\(0\.95, .*newstalk_stage_latency_seconds_bucket\{stage="speech"\}.*\)\s*> 600$',
    ),
    ("NewsTalkAvailabilityBudgetBurnFast", "critical", r"ratio_rate1h > \(14\.4 \* 0\.001\)"),
    ("NewsTalkAvailabilityBudgetBurnSlow", "warning", r"ratio_rate3d > \(1 \* 0\.001\)"),
    ("NewsTalkLatencyBudgetBurnFast", "critical", r"slow:ratio_rate1h > \(14\.4 \* 0\.01\)"),
    ("NewsTalkLatencyBudgetBurnSlow", "warning", r"slow:ratio_rate3d > \(1 \* 0\.01\)"),
]


@pytest.mark.parametrize(("name", "severity", "pattern"), PROMISED, ids=[p[0] for p in PROMISED])
def test_each_promised_alert_has_its_threshold_and_severity(name: str, severity: str, pattern: str) -> None:
    rule = alerts()[name]
    assert rule["labels"]["severity"] == severity
    assert re.search(pattern, " ".join(rule["expr"].split()), re.DOTALL), rule["expr"]


def test_every_alert_is_labelled_annotated_and_has_a_runbook() -> None:
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info", "none"}, name
        assert rule["labels"]["area"], name
        ann = rule["annotations"]
        assert ann["summary"], name
        assert ann["description"], name
        runbook = ann["runbook_url"]
        assert re.fullmatch(r"docs/runbooks/[a-z0-9-]+\.md", runbook), name
        text = (ROOT / runbook).read_text()
        assert name in text, f"{runbook} does not name {name}"
        assert "## Check" in text or "## Do" in text, runbook


def test_every_alert_has_tests_firing_and_not_firing_and_every_recording_rule_is_computed() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    computed = ""
    for test in unit_tests():
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
        computed += " ".join(case["expr"] for case in test.get("promql_expr_test", []))
    names = set(alerts())
    assert names - firing == set(), "alerts never shown firing"
    assert names - {"NewsTalkWatchdog"} - quiet == set(), "alerts never shown quiet"
    recorded = {r["record"] for r in rules() if "record" in r}
    assert {r for r in recorded if r not in computed} == set()
    assert len(names) >= 20
    assert len(recorded) == 14


def test_alertmanager_routes_by_severity_and_critical_inhibits_its_areas_warnings() -> None:
    config = yaml.safe_load((MON / "alertmanager.yml").read_text())
    routes = {tuple(r["matchers"]): r["receiver"] for r in config["route"]["routes"]}
    assert routes[('severity="critical"',)] == "pager"
    assert routes[('severity="warning"',)] == "chat"
    assert routes[('severity="info"',)] == "low-priority"
    (inhibit,) = config["inhibit_rules"]
    assert inhibit["source_matchers"] == ['severity="critical"']
    assert inhibit["target_matchers"] == ['severity="warning"']
    assert set(inhibit["equal"]) == {"namespace", "area"}
    # No secret in the file: receivers read theirs from mounted files.
    text = (MON / "alertmanager.yml").read_text()
    assert "hooks.slack.com" not in text
    assert "routing_key:" not in text


def test_five_dashboards_generated_from_code_with_a_query_in_every_panel() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("newstalk_dashboards", MON / "dashboards.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    files = module.render()
    assert set(files) == {f"newstalk-{n}.json" for n in ("system", "api", "factcheck", "mobile", "business")}
    for name, text in files.items():
        assert (MON / "dashboards" / name).read_text() == text, f"{name}: regenerate with dashboards.py"
        dash = json.loads(text)
        assert dash["panels"], name
        for panel in dash["panels"]:
            assert panel["targets"], panel["title"]
            assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]
            assert "$" not in json.dumps(panel["targets"]), (
                "no dashboard variables: CI runs queries as written"
            )


def test_the_prometheus_rule_carries_exactly_the_rule_file() -> None:
    """The PrometheusRule kube-prometheus-stack loads is newstalk-alerts.yaml, regenerated."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("newstalk_prometheus_rule", MON / "prometheus_rule.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.render()
    assert (MON / "newstalk-prometheusrule.yaml").read_text() == text, (
        "regenerate with deploy/monitoring/prometheus_rule.py"
    )
    manifest = yaml.safe_load(text)
    assert (manifest["apiVersion"], manifest["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert manifest["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    source = yaml.safe_load((MON / "newstalk-alerts.yaml").read_text())["groups"]
    generated = manifest["spec"]["groups"]
    assert [g["name"] for g in generated] == [g["name"] for g in source]
    for mine, theirs in zip(generated, source, strict=True):
        assert len(mine["rules"]) == len(theirs["rules"])
        for a, b in zip(mine["rules"], theirs["rules"], strict=True):
            assert a.get("alert") == b.get("alert")
            assert a.get("record") == b.get("record")
            assert a["expr"] == b["expr"].strip()
            assert a.get("labels") == b.get("labels")
            assert a.get("for") == b.get("for")


def test_the_api_down_alert_watches_the_job_the_scrape_configs_name() -> None:
    """NewsTalkApiDown is blind if its job name is not the one Prometheus scrapes the API as."""
    expr = alerts()["NewsTalkApiDown"]["expr"]
    podmonitors = {
        d["metadata"]["name"]: d for d in yaml.safe_load_all((MON / "podmonitors.yaml").read_text())
    }
    (endpoint,) = podmonitors["newstalk-api"]["spec"]["podMetricsEndpoints"]
    jobs = [r["replacement"] for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
    assert jobs == ["newstalk-api"]
    assert set(re.findall(r'job="([^"]+)"', expr)) == {"newstalk-api"}
    stack = (ROOT / "deploy" / "local" / "stack.py").read_text()
    assert '"newstalk-api": [' in stack, "deploy/local/stack.py scrapes the API as job newstalk-api"
