"""deploy/monitoring/check_live.py: a panel query may only name metrics that someone exports.

The live check (scripts/check-monitoring) reads the ``# TYPE`` families off a running NewsTalk's
/metrics; here the same rule runs against NewsTalk's registry rendered in this process, so a
renamed or removed metric fails the fast tests too, even behind ``or vector(0)``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import generate_latest

from newstalk.kit import metrics

MON = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"


@pytest.fixture(scope="module")
def check_live() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newstalk_check_live", MON / "check_live.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def declared(check_live: ModuleType) -> dict[str, str]:
    return dict(check_live.families(generate_latest(metrics.REGISTRY).decode()))


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (route) (rate(newstalk_http_requests_total{status=~"5.."}[5m])) or vector(0)',
            {"newstalk_http_requests_total"},
        ),
        (
            "rate(process_cpu_seconds_total[5m]) and on (instance, job) newstalk_build_info",
            {"process_cpu_seconds_total", "newstalk_build_info"},
        ),
        ('sum by (severity) (ALERTS{alertstate="firing"})', {"ALERTS"}),
        (
            "histogram_quantile(0.95, sum by (le) (rate(newstalk_stage_latency_seconds_bucket"
            '{stage="speech",le="1.0"}[1h]))) * 1e3 > bool 5',
            {"newstalk_stage_latency_seconds_bucket"},
        ),
        (
            "max(newstalk_queue_depth offset 5m) / sum without (stage) (newstalk_queue_depth)",
            {"newstalk_queue_depth"},
        ),
    ],
)
def test_metric_names_are_the_selected_series_only(
    check_live: ModuleType, expr: str, names: set[str]
) -> None:
    assert check_live.metric_names(expr) == names


def test_every_panel_query_uses_only_declared_metrics(
    check_live: ModuleType, declared: dict[str, str]
) -> None:
    queries = check_live.panel_queries()
    assert len(queries) >= 40
    padded = [q for q in queries if q[2].rstrip().endswith("or vector(0)")]
    assert padded, "the or vector(0) panels are the reason for this check"
    for dash, panel, expr in queries:
        assert check_live.metric_names(expr), f"{dash} / {panel}: no metric in {expr}"
        assert check_live.undeclared(expr, declared) == [], f"{dash} / {panel}: {expr}"


def test_a_renamed_metric_fails_even_behind_or_vector_0(
    check_live: ModuleType, declared: dict[str, str]
) -> None:
    renamed = 'sum by (route) (rate(newstalk_http_request_total{status=~"5.."}[5m])) or vector(0)'
    assert check_live.undeclared(renamed, declared) == ["newstalk_http_request_total"]
    # A histogram's series need a histogram family: a counter has no _bucket.
    assert check_live.undeclared("rate(newstalk_stage_jobs_total_bucket[5m])", declared) == [
        "newstalk_stage_jobs_total_bucket"
    ]
    assert check_live.undeclared("rate(newstalk_speech_synthesis_seconds_count[5m])", declared) == []
    # Another exporter's metric is accepted only when listed with its exporter.
    assert check_live.undeclared("node_memory_MemTotal_bytes", declared) == ["node_memory_MemTotal_bytes"]
    assert set(check_live.OTHER_EXPORTERS) == {"ALERTS"}


def test_families_reads_type_lines(check_live: ModuleType) -> None:
    text = "\n".join(
        [
            "# HELP newstalk_live_streams Open SSE streams",
            "# TYPE newstalk_live_streams gauge",
            "newstalk_live_streams 3.0",
            "# TYPE newstalk_x_seconds histogram",
        ]
    )
    assert check_live.families(text) == {"newstalk_live_streams": "gauge", "newstalk_x_seconds": "histogram"}
    assert check_live.families("") == {}
