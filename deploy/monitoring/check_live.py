"""Run every dashboard panel's query against a real Prometheus scraping a real NewsTalk.

Started by scripts/check-monitoring. It starts, on free ports of 127.0.0.1:
- ``newstalk up --demo`` on a fresh SQLite file (demo feeds flow through every stage);
- Prometheus (Debian ``prometheus``) scraping it every second, with the alert rules loaded;
- Alertmanager (Debian ``prometheus-alertmanager``) with deploy/monitoring/alertmanager.yml.
It drives traffic (pages, a listener's feedback, app telemetry from three platforms, a few 4xx and
429s), then runs each panel query until every one returns at least one finite value, or fails
after the deadline naming the empty ones. A query that ends in ``or vector(0)`` (for display:
0 rather than "no data" before the first error) cannot be empty, so every query must also name
only metrics that NewsTalk's own /metrics declares (a ``# TYPE`` family; ``_bucket``, ``_count``
and ``_sum`` of a histogram's family) or that another exporter provides, listed in
OTHER_EXPORTERS: a renamed or removed metric fails the check even behind ``or vector(0)``.
It also checks that the rules evaluate without error on live data, that the watchdog reaches
Alertmanager, and that a critical alert inhibits its area's warning there. Prints one summary
line; exits 1 on any failure.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEADLINE_S = float(os.environ.get("CHECK_MONITORING_DEADLINE_S", "210"))
# Metrics a panel may use that NewsTalk's /metrics does not declare, and who exports them.
OTHER_EXPORTERS = {
    "ALERTS": "Prometheus itself (one series per pending or firing alert)",
}
# PromQL words that look like metric names: binary operators and modifiers.
PROMQL_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
)
# A histogram's or summary's series carry the family name and one of these suffixes.
SERIES_SUFFIXES = {
    "_bucket": {"histogram"},
    "_count": {"histogram", "summary"},
    "_sum": {"histogram", "summary"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, what: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise SystemExit(f"check-monitoring: {what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise SystemExit(f"check-monitoring: {what} did not answer {url} within {timeout:.0f}s")


@contextmanager
def started(
    cmd: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prometheus_config(work: Path, newstalk_port: int, am_port: int) -> Path:
    rules = work / "newstalk-alerts.yaml"
    shutil.copy(HERE / "newstalk-alerts.yaml", rules)
    config = work / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [
                    {
                        "job_name": "newstalk-api",
                        "static_configs": [{"targets": [f"127.0.0.1:{newstalk_port}"]}],
                    }
                ],
            }
        )
    )
    return config


def metric_value(base: str, name: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def telemetry(base: str, round_: int) -> None:
    for platform, start_ms in (("web", 900), ("ios", 1400), ("android", 2100)):
        events: list[dict[str, Any]] = [{"type": "start", "duration_ms": start_ms + 100 * round_}]
        events += [{"type": "crash"}, {"type": "playback_error"}, {"type": "widget_opened"}]
        status, body = http(
            "POST",
            f"{base}/api/v1/telemetry",
            {"platform": platform, "app_version": "1.0.0", "events": events},
        )
        if status != 202:
            raise SystemExit(f"check-monitoring: telemetry answered {status}: {body}")


def traffic(base: str, listener: dict[str, str], round_: int) -> None:
    """Pages, app telemetry, a listener's feedback, some 4xx; each round a little different."""
    for path in (
        "/api/v1/news",
        "/api/v1/stories",
        "/api/v1/sources",
        "/api/v1/news?limit=5",
        "/no-such-page",
    ):
        http("GET", base + path)
    http("GET", f"{base}/api/v1/me/preferences", headers=listener)
    telemetry(base, round_)
    _status, stories = http("GET", f"{base}/api/v1/stories?limit=3")
    items = stories.get("items", stories) if isinstance(stories, dict) else stories
    for story in (items or [])[:3]:
        for event in ({"event": "listened", "percent": 90}, {"event": "liked"}, {"event": "disliked"}):
            http("POST", f"{base}/api/v1/me/feedback", {"story_id": story["id"], **event}, listener)


def sign_up(base: str) -> dict[str, str]:
    account = {"email": "ops-check@example.org", "password": "check-monitoring-pw-0123"}
    http("POST", f"{base}/api/v1/auth/register", account)
    status, body = http("POST", f"{base}/api/v1/auth/login", account)
    if status != 200:
        raise SystemExit(f"check-monitoring: login answered {status}: {body}")
    return {"Authorization": f"Bearer {body['tokens']['access_token']}"}


def panel_queries() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted((HERE / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in dash["panels"]:
            for target in panel["targets"]:
                out.append((dash["title"], panel["title"], target["expr"]))
    return out


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels, keywords or numbers)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', "", expr)  # string literals
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.:])[A-Za-z_:][\w:]*", text):
        if m.group() in PROMQL_KEYWORDS or re.match(r"\s*\(", text[m.end() :]):
            continue  # a keyword, or a function or aggregation being called
        if m.group().lower() in {"inf", "nan"}:
            continue
        names.add(m.group())
    return names


def families(exposition: str) -> dict[str, str]:
    """{family name: type} from the ``# TYPE`` lines of a Prometheus text exposition."""
    out = {}
    for line in exposition.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
            out[parts[2]] = parts[3]
    return out


def undeclared(expr: str, declared: dict[str, str]) -> list[str]:
    """The metric names in ``expr`` that neither NewsTalk's /metrics nor OTHER_EXPORTERS provide."""
    missing = []
    for name in sorted(metric_names(expr)):
        if name in declared or name in OTHER_EXPORTERS:
            continue
        suffix = next((s for s in SERIES_SUFFIXES if name.endswith(s)), None)
        if suffix and declared.get(name.removesuffix(suffix)) in SERIES_SUFFIXES[suffix]:
            continue
        missing.append(name)
    return missing


def query(prom: str, expr: str) -> tuple[bool, str]:
    status, body = http("GET", f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
        return False, f"error: {body}"
    result = body["data"]["result"]
    values = [float(r["value"][1]) for r in result] if body["data"]["resultType"] == "vector" else []
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return False, "empty" if not values else "only NaN"
    return True, f"{len(finite)} series"


def check_inhibition(am: str) -> None:
    """A critical alert silences the warnings of its area in the same namespace, no others."""
    alerts = [
        {
            "labels": {
                "alertname": "NewsTalkApiErrorRatioHigh",
                "severity": "critical",
                "area": "api",
                "namespace": "check",
            }
        },
        {
            "labels": {
                "alertname": "NewsTalkApiErrors",
                "severity": "warning",
                "area": "api",
                "namespace": "check",
            }
        },
        {
            "labels": {
                "alertname": "NewsTalkQueueLagHigh",
                "severity": "warning",
                "area": "pipeline",
                "namespace": "check",
            }
        },
    ]
    status, body = http("POST", f"{am}/api/v2/alerts", alerts)
    if status != 200:
        raise SystemExit(f"check-monitoring: Alertmanager refused test alerts: {status} {body}")
    end = time.monotonic() + 30
    while time.monotonic() < end:
        _, got = http("GET", f"{am}/api/v2/alerts?filter=namespace%3D%22check%22")
        by_name = {a["labels"]["alertname"]: a for a in got or []}
        if len(by_name) == 3 and by_name["NewsTalkApiErrors"]["status"]["inhibitedBy"]:
            if by_name["NewsTalkQueueLagHigh"]["status"]["inhibitedBy"]:
                raise SystemExit("check-monitoring: a pipeline warning was inhibited by an api critical")
            if by_name["NewsTalkQueueLagHigh"]["receivers"][0]["name"] != "chat":
                raise SystemExit("check-monitoring: a warning did not route to chat")
            if by_name["NewsTalkApiErrorRatioHigh"]["receivers"][0]["name"] != "pager":
                raise SystemExit("check-monitoring: a critical alert did not route to the pager")
            return
        time.sleep(0.5)
    raise SystemExit(f"check-monitoring: Alertmanager did not inhibit the api warning: {got}")


def main() -> int:
    newstalk = Path(sys.executable).parent / "newstalk"
    work = Path(tempfile.mkdtemp(prefix="check-monitoring-"))
    ports = {name: free_port() for name in ("newstalk", "prometheus", "alertmanager")}
    base = f"http://127.0.0.1:{ports['newstalk']}"
    prom = f"http://127.0.0.1:{ports['prometheus']}"
    am = f"http://127.0.0.1:{ports['alertmanager']}"
    env = {
        **os.environ,
        "NEWSTALK_DATABASE_URL": f"sqlite:///{work}/newstalk.db",
        "NEWSTALK_AUDIO_DIR": str(work / "audio"),
        "NEWSTALK_LOG_LEVEL": "WARNING",
    }
    start = time.monotonic()
    try:
        with (
            started(
                [
                    "prometheus-alertmanager",
                    f"--config.file={HERE / 'alertmanager.yml'}",
                    f"--storage.path={work / 'am'}",
                    f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                    "--cluster.listen-address=",
                ],
                work / "alertmanager.log",
                work,
            ) as am_proc,
            started(
                [
                    "prometheus",
                    f"--config.file={prometheus_config(work, ports['newstalk'], ports['alertmanager'])}",
                    f"--storage.tsdb.path={work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                ],
                work / "prometheus.log",
                work,
            ) as prom_proc,
            started(
                [str(newstalk), "up", "--demo", "--port", str(ports["newstalk"])],
                work / "newstalk.log",
                work,
                env,
            ) as app,
        ):
            wait_for(f"{am}/-/ready", am_proc, work / "alertmanager.log", "alertmanager")
            wait_for(f"{prom}/-/ready", prom_proc, work / "prometheus.log", "prometheus")
            wait_for(f"{base}/ready", app, work / "newstalk.log", "newstalk up")
            listener = sign_up(base)
            for _ in range(12):  # wrong passwords, over the login route's 10 a minute: 401s, then 429s
                http(
                    "POST", f"{base}/api/v1/auth/login", {"email": "nobody@example.org", "password": "wrong"}
                )
            queries = panel_queries()
            failing: dict[tuple[str, str, str], str] = {}
            round_ = 0
            while True:
                traffic(base, listener, round_)
                round_ += 1
                failing = {}
                for key in queries:
                    ok, detail = query(prom, key[2])
                    if not ok:
                        failing[key] = detail
                spoken = metric_value(base, "newstalk_speech_synthesis_seconds_count")
                if not failing or time.monotonic() - start > DEADLINE_S:
                    break
                print(
                    f"check-monitoring: {len(failing)} of {len(queries)} panel queries without data yet "
                    f"(scripts spoken: {spoken:.0f}); traffic round {round_}",
                    file=sys.stderr,
                )
                time.sleep(5)
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
                declared = families(resp.read().decode())
            for key in queries:
                missing = undeclared(key[2], declared)
                if missing:
                    failing[key] = (
                        f"{', '.join(missing)} not declared on NewsTalk's /metrics (no # TYPE family) "
                        "nor listed in check_live.OTHER_EXPORTERS"
                    )
            _, rules = http("GET", f"{prom}/api/v1/rules")
            broken = [
                f"{r['name']}: {r.get('lastError')}"
                for g in rules["data"]["groups"]
                for r in g["rules"]
                if r.get("health") not in ("ok", "unknown")
            ]
            n_rules = sum(len(g["rules"]) for g in rules["data"]["groups"])
            end = time.monotonic() + 30
            while time.monotonic() < end:
                _, got = http("GET", f"{am}/api/v2/alerts?filter=alertname%3D%22NewsTalkWatchdog%22")
                if got:
                    break
                time.sleep(1)
            else:
                raise SystemExit("check-monitoring: the watchdog did not reach Alertmanager")
            check_inhibition(am)
        for (dash, panel, expr), detail in sorted(failing.items()):
            print(f"check-monitoring: FAIL {dash} / {panel}: {detail}: {expr}", file=sys.stderr)
        for line in broken:
            print(f"check-monitoring: FAIL rule {line}", file=sys.stderr)
        panels = {(d, p) for d, p, _ in queries}
        print(
            f"check-monitoring: {len(queries) - len(failing)} of {len(queries)} queries in {len(panels)} panels "
            f"returned data and use only declared metrics ({len(declared)} families on /metrics); {n_rules} rules evaluated on live data, {len(broken)} with errors; watchdog "
            f"reached Alertmanager; inhibition ok ({time.monotonic() - start:.0f}s)"
        )
        return 1 if failing or broken else 0
    finally:
        if os.environ.get("CHECK_MONITORING_KEEP"):
            print(f"check-monitoring: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
