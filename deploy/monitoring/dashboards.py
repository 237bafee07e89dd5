"""The five NewsTalk Grafana dashboards, as code: `python deploy/monitoring/dashboards.py` writes
deploy/monitoring/dashboards/*.json (Grafana dashboard JSON, schema 39).

Plain Python and the standard library only, so the JSON can be regenerated anywhere;
scripts/check-monitoring regenerates it (a difference fails), then runs every panel's query
against a real Prometheus scraping a running NewsTalk and fails on an error or an empty result.
Queries are plain PromQL with no dashboard variables, so the check runs them as written.
Error and crash panels add ``or vector(0)`` where no series exists until the first error.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
API = 'route!~"/metrics|/health|/ready"'  # what the SLOs count: not probes or scrapes
API_TIMED = 'route!~"/api/v1/stream|/metrics|/health|/ready"'  # and not the SSE stream
NEWSTALK = "and on (instance, job) newstalk_build_info"  # only NewsTalk's processes


@dataclass
class Panel:
    title: str
    exprs: list[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"  # timeseries | stat | bargauge
    description: str = ""
    width: int = 12
    thresholds: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel]
    tags: tuple[str, ...] = ("newstalk",)


def q(expr: str, legend: str = "") -> tuple[str, str]:
    return (" ".join(expr.split()), legend)


def quantile(phi: float, metric: str, by: str = "", window: str = "5m", where: str = "") -> str:
    group = f"{by}, le" if by else "le"
    selector = f"{{{where}}}" if where else ""
    return f"histogram_quantile({phi}, sum by ({group}) (rate({metric}_bucket{selector}[{window}])))"


def p50_p95(metric: str, window: str = "5m", where: str = "") -> list[tuple[str, str]]:
    return [
        q(quantile(phi, metric, window=window, where=where), f"p{round(phi * 100)}") for phi in (0.5, 0.95)
    ]


SYSTEM = Dashboard(
    "newstalk-system",
    "NewsTalk system overview",
    "Is NewsTalk up, how busy is it, is news flowing through the pipeline, what is firing.",
    [
        Panel(
            "NewsTalk processes reporting",
            [q("count(newstalk_build_info)", "processes")],
            kind="stat",
            width=6,
            description="Processes whose /metrics Prometheus scrapes (API replicas, and workers "
            "started with --metrics-port).",
        ),
        Panel(
            "Availability (1 h)",
            [
                q(
                    f"""1 - ((sum(rate(newstalk_http_requests_total{{{API},status=~"5.."}}[1h])) or vector(0))
                    / sum(rate(newstalk_http_requests_total{{{API}}}[1h])))""",
                    "availability",
                )
            ],
            unit="percentunit",
            kind="stat",
            width=6,
            thresholds=[(0, "red"), (0.99, "orange"), (0.999, "green")],
            description="Requests answered without 5xx. Critical under 99 % (NewsTalkAvailabilityLow).",
        ),
        Panel(
            "Firing alerts by severity",
            [q('sum by (severity) (ALERTS{alertstate="firing"})', "{{severity}}")],
            kind="stat",
            width=6,
            description="The watchdog (severity none) always fires: it proves the rules run.",
        ),
        Panel(
            "Requests per second",
            [q("sum(rate(newstalk_http_requests_total[5m]))", "requests/s")],
            unit="reqps",
            kind="stat",
            width=6,
        ),
        Panel(
            "CPU by process (cores)",
            [q(f"rate(process_cpu_seconds_total[5m]) {NEWSTALK}", "{{job}} {{instance}}")],
            unit="short",
            description="Warning when a node is over 80 % busy for 15 min (NewsTalkCpuHigh).",
        ),
        Panel(
            "Resident memory by process",
            [q(f"process_resident_memory_bytes {NEWSTALK}", "{{job}} {{instance}}")],
            unit="bytes",
            description="Warning when a node's memory is over 85 % for 15 min (NewsTalkMemoryHigh).",
        ),
        Panel(
            "News processing delay by stage",
            [q("max by (stage) (newstalk_queue_oldest_pending_age_seconds)", "{{stage}}")],
            unit="s",
            thresholds=[(0, "green"), (600, "orange")],
            description="How long the oldest due job of each stage has waited. Warning over 10 min "
            "(NewsTalkProcessingDelayHigh).",
        ),
        Panel(
            "Queue depth by stage (ready)",
            [q('max by (stage) (newstalk_queue_depth{status="ready"})', "{{stage}}")],
            description="Jobs waiting per stage. Warning over 500 for 15 min (NewsTalkQueueLagHigh).",
        ),
        Panel(
            "Stage throughput (jobs/s)",
            [q('sum by (stage) (rate(newstalk_stage_jobs_total{outcome="ok"}[5m]))', "{{stage}}")],
            unit="ops",
        ),
        Panel(
            "Stage retries and dead letters (jobs/s)",
            [
                q(
                    'sum by (stage, outcome) (rate(newstalk_stage_jobs_total{outcome!="ok"}[5m])) or vector(0)',
                    "{{stage}} {{outcome}}",
                )
            ],
            unit="ops",
        ),
    ],
)

API_DASH = Dashboard(
    "newstalk-api",
    "NewsTalk API performance",
    "Latency, traffic and errors per route template; the availability and latency SLOs.",
    [
        Panel(
            "Requests per second by route",
            [q("sum by (route) (rate(newstalk_http_requests_total[5m]))", "{{route}}")],
            unit="reqps",
            width=24,
        ),
        Panel(
            "p95 latency by route",
            [q(quantile(0.95, "newstalk_http_request_duration_seconds", "route"), "{{route}}")],
            unit="s",
            description="Critical when the API's p95 is over 5 s for 5 min (NewsTalkApiLatencyHigh).",
        ),
        Panel(
            "p50 / p95 / p99 latency (all routes but the SSE stream)",
            [
                q(quantile(0.5, "newstalk_http_request_duration_seconds", where=API_TIMED), "p50"),
                q(quantile(0.95, "newstalk_http_request_duration_seconds", where=API_TIMED), "p95"),
                q(quantile(0.99, "newstalk_http_request_duration_seconds", where=API_TIMED), "p99"),
            ],
            unit="s",
        ),
        Panel(
            "5xx per second by route",
            [
                q(
                    'sum by (route) (rate(newstalk_http_requests_total{status=~"5.."}[5m])) or vector(0)',
                    "{{route}}",
                )
            ],
            unit="reqps",
        ),
        Panel(
            "4xx per second by route and status",
            [
                q(
                    'sum by (route, status) (rate(newstalk_http_requests_total{status=~"4.."}[5m]))',
                    "{{route}} {{status}}",
                )
            ],
            unit="reqps",
        ),
        Panel(
            "Error ratio (5xx)",
            [
                q(
                    f"""(sum(rate(newstalk_http_requests_total{{{API},status=~"5.."}}[5m])) or vector(0))
                    / sum(rate(newstalk_http_requests_total{{{API}}}[5m]))""",
                    "5xx ratio",
                )
            ],
            unit="percentunit",
            thresholds=[(0, "green"), (0.02, "orange"), (0.05, "red")],
            description="Warning over 2 % for 10 min, critical over 5 % for 5 min.",
        ),
        Panel(
            "Latency SLO: requests within 1 s",
            [
                q(
                    f"""sum(rate(newstalk_http_request_duration_seconds_bucket{{{API_TIMED},le="1.0"}}[1h]))
                    / sum(rate(newstalk_http_request_duration_seconds_count{{{API_TIMED}}}[1h]))""",
                    "within 1 s (1 h)",
                )
            ],
            unit="percentunit",
            kind="stat",
            thresholds=[(0, "red"), (0.99, "green")],
            description="Objective 99 %; NewsTalkLatencyBudgetBurn* alert on its burn rate.",
        ),
        Panel(
            "Availability SLO burn rate (1 h)",
            [
                q(
                    f"""((sum(rate(newstalk_http_requests_total{{{API},status=~"5.."}}[1h])) or vector(0))
                    / sum(rate(newstalk_http_requests_total{{{API}}}[1h]))) / 0.001""",
                    "burn rate",
                )
            ],
            kind="stat",
            thresholds=[(0, "green"), (1, "orange"), (14.4, "red")],
            description="1 = spending the 99.9 % SLO's budget exactly over 30 days; 14.4 pages.",
        ),
        Panel(
            "Requests refused by the rate limiter",
            [q("sum by (bucket) (rate(newstalk_ratelimit_rejected_total[5m])) or vector(0)", "{{bucket}}")],
            unit="reqps",
        ),
        Panel("Open live (SSE) streams", [q("sum(newstalk_live_streams)", "streams")], kind="stat"),
    ],
)

FACTCHECK = Dashboard(
    "newstalk-factcheck",
    "NewsTalk fact-checking",
    "Accuracy (editor agreement), verdicts and their confidence, and how fast stories are checked.",
    [
        Panel(
            "Editor agreement (accuracy)",
            [q("max(newstalk_factcheck_agreement_ratio)", "agreement")],
            unit="percentunit",
            kind="stat",
            width=8,
            thresholds=[(0, "red"), (0.9, "green")],
            description="Share of reviewed verdicts editors confirmed. Critical under 90 % with at "
            "least 20 reviews (NewsTalkFactcheckAccuracyLow).",
        ),
        Panel(
            "Claims reviewed by editors",
            [q("max(newstalk_factcheck_reviewed_claims)", "reviewed")],
            kind="stat",
            width=8,
        ),
        Panel(
            "Waiting to be checked",
            [q('max(newstalk_queue_oldest_pending_age_seconds{stage="factcheck"})', "oldest job")],
            unit="s",
            kind="stat",
            width=8,
        ),
        Panel(
            "Verdicts per hour by kind",
            [q("sum by (verdict) (increase(newstalk_factcheck_verdicts_total[1h]))", "{{verdict}}")],
        ),
        Panel(
            "Median verdict confidence by kind",
            [
                q(
                    quantile(0.5, "newstalk_factcheck_verdict_confidence_ratio", "verdict", "1h"),
                    "{{verdict}}",
                )
            ],
            unit="percentunit",
        ),
        Panel(
            "Verdict confidence distribution (last hour)",
            [
                q(
                    "sum by (le) (increase(newstalk_factcheck_verdict_confidence_ratio_bucket[1h]))",
                    "<= {{le}}",
                )
            ],
            kind="bargauge",
        ),
        Panel(
            "First seen to checked (p50 / p95)",
            p50_p95("newstalk_stage_latency_seconds", "1h", 'stage="factcheck"'),
            unit="s",
            description="From an article's first sighting to its story's verdicts.",
        ),
    ],
)

MOBILE = Dashboard(
    "newstalk-mobile",
    "NewsTalk mobile app",
    "What listeners meet in the apps: start time, crashes, playback errors (POST /api/v1/telemetry).",
    [
        Panel(
            "App starts per minute by platform",
            [q("sum by (platform) (rate(newstalk_client_starts_total[5m])) * 60", "{{platform}}")],
        ),
        Panel(
            "Start time p50 / p95 by platform",
            [
                q(quantile(0.5, "newstalk_client_start_duration_seconds", "platform"), "p50 {{platform}}"),
                q(quantile(0.95, "newstalk_client_start_duration_seconds", "platform"), "p95 {{platform}}"),
            ],
            unit="s",
        ),
        Panel(
            "Crashes per 100 starts by platform",
            [
                q(
                    """100 * (sum by (platform) (rate(newstalk_client_crashes_total[1h])) or vector(0))
                    / sum by (platform) (rate(newstalk_client_starts_total[1h]))""",
                    "{{platform}}",
                )
            ],
        ),
        Panel(
            "Playback errors per minute by platform",
            [
                q(
                    "sum by (platform) (rate(newstalk_client_playback_errors_total[5m])) * 60 or vector(0)",
                    "{{platform}}",
                )
            ],
        ),
        Panel(
            "Telemetry events ignored by reason",
            [
                q(
                    "sum by (reason) (increase(newstalk_client_events_rejected_total[1h])) or vector(0)",
                    "{{reason}}",
                )
            ],
            description="Unknown event types (a newer app) and implausible values.",
        ),
        Panel(
            "Audio request latency p95 (what the player waits for)",
            [
                q(
                    quantile(
                        0.95,
                        "newstalk_http_request_duration_seconds",
                        "route",
                        where='route=~"/api/v1/(news|stories|me/feed|feed).*"',
                    ),
                    "{{route}}",
                )
            ],
            unit="s",
        ),
    ],
)

BUSINESS = Dashboard(
    "newstalk-business",
    "NewsTalk business KPIs",
    "Active listeners, listens and satisfaction, news throughput and voice generation.",
    [
        Panel(
            "Active listeners",
            [q("max by (window) (newstalk_active_listeners)", "{{window}}")],
            kind="stat",
            width=8,
            description="Accounts that sent any feedback within the last hour / day.",
        ),
        Panel(
            "Listens per hour",
            [q('sum(increase(newstalk_feedback_events_total{kind="listened"}[1h]))', "listens")],
            kind="stat",
            width=8,
        ),
        Panel(
            "Listener satisfaction (likes / likes + dislikes, 1 d)",
            [
                q(
                    """sum(increase(newstalk_feedback_events_total{kind="liked"}[1d]))
                    / sum(increase(newstalk_feedback_events_total{kind=~"liked|disliked"}[1d]))""",
                    "satisfaction",
                )
            ],
            unit="percentunit",
            kind="stat",
            width=8,
        ),
        Panel(
            "Feedback per hour by kind",
            [q("sum by (kind) (increase(newstalk_feedback_events_total[1h]))", "{{kind}}")],
        ),
        Panel(
            "Articles stored per hour by language",
            [q("sum by (language) (increase(newstalk_articles_stored_total[1h]))", "{{language}}")],
        ),
        Panel(
            "Stories checked and voiced per hour",
            [
                q(
                    'sum by (stage) (increase(newstalk_stage_jobs_total{outcome="ok",stage=~"factcheck|speech"}[1h]))',
                    "{{stage}}",
                )
            ],
        ),
        Panel(
            "Voice generation time p50 / p95",
            p50_p95("newstalk_speech_synthesis_seconds", "1h"),
            unit="s",
        ),
        Panel(
            "Audio produced (minutes per hour)",
            [q("sum(increase(newstalk_audio_duration_seconds_sum[1h])) / 60", "minutes")],
        ),
        Panel(
            "First seen to voiced (p50 / p95)",
            p50_p95("newstalk_stage_latency_seconds", "1h", 'stage="speech"'),
            unit="s",
        ),
    ],
)

DASHBOARDS = (SYSTEM, API_DASH, FACTCHECK, MOBILE, BUSINESS)


def panel_json(panel: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    steps = [{"color": c, "value": None if i == 0 else v} for i, (v, c) in enumerate(panel.thresholds)]
    return {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {
            "defaults": {
                "unit": panel.unit,
                "thresholds": {"mode": "absolute", "steps": steps or [{"color": "green", "value": None}]},
            },
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if panel.kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(panel.exprs)
        ],
    }


def dashboard_json(d: Dashboard) -> dict[str, Any]:
    panels, x, y, row_h = [], 0, 0, 8
    for pid, panel in enumerate(d.panels, start=1):
        if x + panel.width > 24:
            x, y = 0, y + row_h
        panels.append(panel_json(panel, pid, x, y))
        x += panel.width
    return {
        "uid": d.uid,
        "title": d.title,
        "description": d.description,
        "tags": list(d.tags),
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "links": [
            {
                "title": "Runbooks (docs/runbooks)",
                "type": "link",
                "url": "docs/operations.md",
                "targetBlank": True,
            }
        ],
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {
        f"{d.uid}.json": json.dumps(dashboard_json(d), indent=2, ensure_ascii=False) + "\n"
        for d in DASHBOARDS
    }


def main(argv: list[str]) -> int:
    files = render()
    if argv[1:] == ["--check"]:
        stale = [n for n, text in files.items() if not (OUT / n).is_file() or (OUT / n).read_text() != text]
        extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in files)
        for name in stale + extra:
            print(
                f"dashboards: {name} differs from dashboards.py; run python deploy/monitoring/dashboards.py"
            )
        return 1 if stale or extra else 0
    OUT.mkdir(exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
    print(f"dashboards: wrote {len(files)} files, {sum(len(d.panels) for d in DASHBOARDS)} panels")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
