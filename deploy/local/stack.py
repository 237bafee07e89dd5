"""A production-like NewsTalk on 127.0.0.1: every role a process, PostgreSQL, Redis, Prometheus, Alertmanager.

    .venv/bin/python deploy/local/stack.py up      # run until Ctrl-C; prints every URL
    .venv/bin/python deploy/local/stack.py drill   # kill a stage worker, watch the alert fire and resolve

Processes: two ``newstalk api`` replicas, one ``newstalk worker <stage>`` per pipeline stage and
one ``newstalk scheduler`` (each worker and the scheduler serve /metrics with --metrics-port), a
fresh PostgreSQL database on the server at 127.0.0.1:5432 (created here, dropped at the end), Redis
at 127.0.0.1:6379 (database 14), Prometheus (Debian ``prometheus``) scraping all of them every 2 s
with deploy/monitoring/newstalk-alerts.yaml, Alertmanager (Debian ``prometheus-alertmanager``)
with deploy/monitoring/alertmanager.yml, and a small RSS server for the feeds. Every port is a
free one.

The drill stops the collect worker (SIGKILL, as a crash), subscribes a new feed (its first poll
is a collect job nobody takes), waits for NewsTalkProcessingDelayHigh{stage="collect"} to fire in
Prometheus, restarts the worker and waits for the alert to resolve. Production's rule says 600 s
for 5 m; the drill loads the same rule with a 20 s threshold and a 20 s ``for:`` (test-only, the
only change) so it takes about a minute. It prints a timeline and exits 1 when the alert does not
fire within threshold + for + 30 s, or does not resolve within 120 s of the restarted worker serving
(or when the collect worker has not collected the first feed within 300 s). .ci/run runs it after
scripts/check-monitoring.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "deploy" / "monitoring"
STAGES = (
    "collect",
    "extract",
    "websub",
    "stories",
    "factcheck",
    "search",
    "briefings",
    "speech",
    "live",
    "webhooks",
)
DRILL_THRESHOLD_S, DRILL_FOR_S, SCRAPE_S, RESOLVE_S, FIRST_COLLECT_S = 20, 20, 2, 120, 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


class Feeds(BaseHTTPRequestHandler):
    """RSS feeds /feed/<name>.xml: three items, a new one every minute."""

    def do_GET(self) -> None:
        name = self.path.strip("/").removeprefix("feed/").removesuffix(".xml")
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        items = "".join(
            f"<item><title>{name} harbour report {i}</title><link>http://example.org/{name}/{now:%H%M}/{i}</link>"
            f"<guid>{name}-{now:%Y%m%d%H%M}-{i}</guid><pubDate>{format_datetime(now - timedelta(minutes=i))}</pubDate>"
            f"<description>The port of {name} moved {1000 + i} containers on day {now:%j}, officials said. "
            f"The mayor of {name} said the new crane will open next month.</description></item>"
            for i in range(3)
        )
        body = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
            f"<link>http://example.org/{name}</link><description>{name}</description>{items}</channel></rss>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Stack:
    def __init__(self, work: Path, *, drill: bool) -> None:
        self.work = work
        self.drill = drill
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.db = f"newstalk_local_{os.getpid()}"
        self.admin = secrets.token_urlsafe(24)
        self.newstalk = str(Path(sys.executable).parent / "newstalk")
        self.env = {
            **os.environ,
            "NEWSTALK_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{self.db}",
            "NEWSTALK_REDIS_URL": "redis://127.0.0.1:6379/14",
            "NEWSTALK_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSTALK_AUDIO_DIR": str(work / "audio"),
            "NEWSTALK_ADMIN_TOKEN": self.admin,
            "NEWSTALK_LOG_LEVEL": "WARNING",
            "NEWSTALK_SCHEDULER_TICK_S": "1",
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep + os.environ['PYTHONPATH'] if os.environ.get('PYTHONPATH') else ''}",
        }
        self.feeds = ThreadingHTTPServer(("127.0.0.1", 0), Feeds)

    def start(self, name: str, cmd: list[str], port: int | None = None) -> None:
        if port is not None:
            self.ports[name] = port
        log = (self.work / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.work
        )

    def start_worker(self, stage: str) -> None:
        port = self.ports.get(f"worker-{stage}") or free_port()
        self.start(f"worker-{stage}", [self.newstalk, "worker", stage, "--metrics-port", str(port)], port)

    def up(self) -> None:
        threading.Thread(target=self.feeds.serve_forever, daemon=True).start()
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", self.db], check=True)
        subprocess.run(
            [self.newstalk, "db", "upgrade"], check=True, env=self.env, cwd=self.work, capture_output=True
        )
        for i in (1, 2):
            port = free_port()
            self.start(f"api-{i}", [self.newstalk, "api", "--port", str(port)], port)
        for stage in STAGES:
            self.start_worker(stage)
        port = free_port()
        self.start("scheduler", [self.newstalk, "scheduler", "--metrics-port", str(port)], port)
        am, prom = free_port(), free_port()
        self.start(
            "alertmanager",
            [
                "prometheus-alertmanager",
                f"--config.file={MON / 'alertmanager.yml'}",
                f"--storage.path={self.work / 'am'}",
                f"--web.listen-address=127.0.0.1:{am}",
                "--cluster.listen-address=",
            ],
            am,
        )
        self.start(
            "prometheus",
            [
                "prometheus",
                f"--config.file={self.prometheus_config(am)}",
                f"--storage.tsdb.path={self.work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom}",
            ],
            prom,
        )
        for name in ("api-1", "api-2"):
            self.wait(f"http://127.0.0.1:{self.ports[name]}/ready", name)
        for name, port in self.ports.items():
            if name.startswith(("worker-", "scheduler")):
                self.wait(f"http://127.0.0.1:{port}/metrics", name)
        self.wait(f"http://127.0.0.1:{prom}/-/ready", "prometheus")

    def prometheus_config(self, am_port: int) -> Path:
        rules = yaml.safe_load((MON / "newstalk-alerts.yaml").read_text())
        if self.drill:
            for group in rules["groups"]:
                for rule in group["rules"]:
                    if rule.get("alert") == "NewsTalkProcessingDelayHigh":
                        rule["expr"] = rule["expr"].replace("> 600", f"> {DRILL_THRESHOLD_S}")
                        rule["for"] = f"{DRILL_FOR_S}s"
        (self.work / "rules.yaml").write_text(json.dumps(rules))
        targets = {
            "newstalk-api": [f"127.0.0.1:{self.ports[f'api-{i}']}" for i in (1, 2)],
            "newstalk-worker": [f"127.0.0.1:{p}" for n, p in self.ports.items() if n.startswith("worker-")],
            "newstalk-scheduler": [f"127.0.0.1:{self.ports['scheduler']}"],
        }
        config = {
            "global": {"scrape_interval": f"{SCRAPE_S}s", "evaluation_interval": f"{SCRAPE_S}s"},
            "rule_files": [str(self.work / "rules.yaml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": t}]} for job, t in targets.items()
            ],
        }
        path = self.work / "prometheus.yml"
        path.write_text(json.dumps(config))
        return path

    def wait(self, url: str, name: str, timeout: float = 240) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise SystemExit(
                    f"stack: {name} exited ({proc.returncode}); see {self.work / (name + '.log')}"
                )
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return
            except (urllib.error.URLError, OSError):
                time.sleep(1)
        raise SystemExit(f"stack: {name} did not answer {url} in {timeout:.0f}s")

    def subscribe(self, name: str) -> None:
        api = f"http://127.0.0.1:{self.ports['api-1']}"
        url = f"http://127.0.0.1:{self.feeds.server_address[1]}/feed/{name}.xml"
        get_json(
            f"{api}/api/v1/sources", {"url": url, "title": name}, {"Authorization": f"Bearer {self.admin}"}
        )

    def alerts(self, name: str) -> list[dict[str, Any]]:
        got = get_json(f"http://127.0.0.1:{self.ports['prometheus']}/api/v1/alerts")
        return [a for a in got["data"]["alerts"] if a["labels"]["alertname"] == name]

    def down(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.feeds.shutdown()
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", self.db], check=False
        )


def drill(stack: Stack) -> int:
    t0 = time.monotonic()

    def say(what: str) -> None:
        print(f"  t+{time.monotonic() - t0:6.1f}s  {what}", flush=True)

    stack.subscribe("busan")
    prom = f"http://127.0.0.1:{stack.ports['prometheus']}"
    while True:  # the collect worker has done real work
        got = get_json(f"{prom}/api/v1/query?query=sum(newstalk_stage_jobs_total%7Bstage%3D%22collect%22%7D)")
        if got["data"]["result"] and float(got["data"]["result"][0]["value"][1]) > 0:
            break
        if time.monotonic() - t0 > FIRST_COLLECT_S:
            say(f"the collect worker did not collect the first feed within {FIRST_COLLECT_S}s")
            return 1
        time.sleep(1)
    say("collect worker has collected the first feed")
    stack.procs["worker-collect"].kill()
    stack.procs["worker-collect"].wait()
    say("collect worker killed (SIGKILL)")
    stack.subscribe("incheon")
    killed = time.monotonic()
    say("new feed subscribed: its first poll waits in the collect queue")
    fired = pending = None
    budget = DRILL_THRESHOLD_S + DRILL_FOR_S + 30
    while time.monotonic() - killed < budget:
        states = {
            a["state"]
            for a in stack.alerts("NewsTalkProcessingDelayHigh")
            if a["labels"].get("stage") == "collect"
        }
        if "pending" in states and pending is None:
            pending = time.monotonic()
            say("NewsTalkProcessingDelayHigh{stage=collect} pending")
        if "firing" in states:
            fired = time.monotonic()
            say("NewsTalkProcessingDelayHigh{stage=collect} FIRING")
            break
        time.sleep(1)
    if fired is None:
        say(f"alert did not fire within {budget}s")
        return 1
    stack.start_worker("collect")
    stack.wait(f"http://127.0.0.1:{stack.ports['worker-collect']}/metrics", "worker-collect")
    restarted = time.monotonic()
    say("collect worker restarted and serving")
    while time.monotonic() - restarted < RESOLVE_S:
        if not [
            a for a in stack.alerts("NewsTalkProcessingDelayHigh") if a["labels"].get("stage") == "collect"
        ]:
            resolved = time.monotonic()
            say("NewsTalkProcessingDelayHigh{stage=collect} resolved")
            print(
                f"drill: fired {fired - killed:.0f}s after the job was queued (threshold {DRILL_THRESHOLD_S}s + "
                f"for {DRILL_FOR_S}s, scrape and evaluation every {SCRAPE_S}s); resolved "
                f"{resolved - restarted:.0f}s after the restarted worker served /metrics"
            )
            return 0
        time.sleep(1)
    say(f"alert did not resolve within {RESOLVE_S}s of the restart")
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "drill"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) afterwards")
    args = parser.parse_args()
    for tool in ("prometheus", "prometheus-alertmanager", "createdb"):
        if shutil.which(tool) is None:
            raise SystemExit(f"stack: {tool} is missing (scripts/system-deps; PostgreSQL client)")
    work = Path(tempfile.mkdtemp(prefix="newstalk-stack-"))
    stack = Stack(work, drill=args.command == "drill")
    start = time.monotonic()
    try:
        stack.up()
        print(f"stack: up in {time.monotonic() - start:.0f}s; logs in {work}")
        for name, port in sorted(stack.ports.items()):
            print(f"  {name:20} http://127.0.0.1:{port}")
        print(f"  admin token          {stack.admin}")
        if args.command == "drill":
            return drill(stack)
        stack.subscribe("busan")
        print("stack: running; Ctrl-C stops everything")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        stack.down()
        if args.keep:
            print(f"stack: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
