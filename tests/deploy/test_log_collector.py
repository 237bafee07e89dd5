"""The log collector (deploy/k8s/overlays/logging) run for real on NewsTalk's own log lines.

A real ``newstalk up`` writes JSON lines (NEWSTALK_LOG_FORMAT=json); they are laid out as the
container runtime writes them (/var/log/pods/<namespace>_<pod>_<uid>/<container>/0.log, CRI
lines); the pinned otelcol-contrib binary runs the production config on them
(deploy/monitoring/log_collector.py: only paths, endpoint and file storage differ) and this
test's OTLP/HTTP receiver reads what it ships. The store itself (Loki) cannot run here: what is
checked is that every record reaches it with the fields a search needs.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from newstalk.kit.logs import JsonFormatter, bind, install_redaction, listener_hash

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("log_collector", ROOT / "deploy/monitoring/log_collector.py")
assert _spec is not None
assert _spec.loader is not None
log_collector = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(log_collector)

pytestmark = pytest.mark.slow

POD = "newstalk-api-7d9f8c6b5-x2x4q"
POD_UID = "0f7c6a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def collector() -> Path:
    try:
        return Path(log_collector.binary())
    except log_collector.CollectorUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def api_lines(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """JSON lines a real ``newstalk up`` wrote while serving a request with a known X-Request-ID."""
    data = tmp_path_factory.mktemp("newstalk")
    port = _free_port()
    env = dict(
        os.environ,
        NEWSTALK_DATABASE_URL=f"sqlite:///{data}/newstalk.db",
        NEWSTALK_AUDIO_DIR=str(data / "audio"),
        NEWSTALK_LOG_FORMAT="json",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
    )
    log = data / "stderr.log"
    request_id = f"logs-{uuid.uuid4().hex[:12]}"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", "from newstalk.cli import main; main()", "up", "--port", str(port)],
            cwd=data,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"newstalk up did not become ready: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        request = urllib.request.Request(f"{url}/api/v1/stories", headers={"X-Request-ID": request_id})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["X-Request-ID"] == request_id
        deadline = time.monotonic() + 10
        while request_id not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return request_id, log.read_text(encoding="utf-8").splitlines()


def _stage_line() -> str:
    """A pipeline worker's line as JsonFormatter writes it, with every correlation field and Korean text."""
    install_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("newstalk.test.logcollector")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with bind(
            request_id="req-stage-1",
            trace_id=TRACE_ID,
            span_id=SPAN_ID,
            listener=listener_hash(42, "a-test-secret"),
            stage="factcheck",
            job_id="1893+2",
            event_id="9c1e" * 8,
        ):
            logger.warning("pipeline: factcheck 작업 1893 실패, 2초 뒤 다시 시도")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().strip()


def _cri(line: str, *, partial: bool = False) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    return f"{stamp} stderr {'P' if partial else 'F'} {line}\n"


class _Receiver(BaseHTTPRequestHandler):
    records: ClassVar[list[dict[str, Any]]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        payload = json.loads(body)
        with self.lock:
            for resource_logs in payload.get("resourceLogs", []):
                resource = _attributes(resource_logs.get("resource", {}).get("attributes", []))
                for scope_logs in resource_logs.get("scopeLogs", []):
                    for record in scope_logs.get("logRecords", []):
                        self.records.append({**record, "resource": resource})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        (value,) = item["value"].values() if item["value"] else (None,)
        out[item["key"]] = value
    return out


@pytest.fixture(scope="module")
def shipped(
    collector: Path, api_lines: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    request_id, lines = api_lines
    tmp_path = tmp_path_factory.mktemp("collector")
    pods = tmp_path / "pods"
    ours = pods / f"newstalk-ai-prod_{POD}_{POD_UID}" / "newstalk"
    ours.mkdir(parents=True)
    stage = _stage_line()
    with (ours / "0.log").open("w", encoding="utf-8") as f:
        f.writelines(_cri(line) for line in lines)
        # containerd splits lines over 16 KiB: P parts, then the F part; the collector joins them.
        f.write(_cri(stage[:40], partial=True))
        f.write(_cri(stage[40:]))
        f.write(_cri("Traceback (most recent call last): not JSON"))
    job = pods / f"newstalk-ai-prod_newstalk-migrate-x7k2p_{POD_UID[:-1]}c" / "newstalk"
    job.mkdir(parents=True)
    (job / "0.log").write_text(
        _cri('{"time": "2026-12-04T09:41:02.118+00:00", "level": "info", "message": "migrated"}')
    )
    other = pods / "kube-system_coredns-1_1234" / "coredns"
    other.mkdir(parents=True)
    (other / "0.log").write_text(_cri("coredns line that must not be shipped"))

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.records = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = log_collector.local_config(pods, f"http://127.0.0.1:{server.server_port}", _free_port())
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    output = tmp_path / "collector.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [str(collector), f"--config={tmp_path / 'config.yaml'}"], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        expected = len(lines) + 3
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with _Receiver.lock:
                if len(_Receiver.records) >= expected:
                    break
            time.sleep(0.2)
        time.sleep(1)  # anything past the expected count (the other namespace) would show up now
        with _Receiver.lock:
            records = list(_Receiver.records)
        assert len(records) >= expected, (
            f"collector shipped {len(records)} of {expected}: {output.read_text()[-3000:]}"
        )
        yield request_id, records
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.shutdown()
        server.server_close()


def _by(records: list[dict[str, Any]], name: str, value: str) -> list[dict[str, Any]]:
    return [r for r in records if _attributes(r.get("attributes", [])).get(name) == value]


def test_a_request_is_found_by_its_request_id_with_pod_labels(
    shipped: tuple[str, list[dict[str, Any]]],
) -> None:
    request_id, records = shipped
    found = _by(records, "request_id", request_id)
    assert found, f"no shipped record has request_id {request_id}"
    for record in found:
        assert record["resource"] == {
            "k8s.namespace.name": "newstalk-ai-prod",
            "k8s.pod.name": POD,
            "k8s.deployment.name": "newstalk-api",
            "k8s.pod.uid": POD_UID,
            "k8s.container.name": "newstalk",
            "k8s.container.restart_count": "0",
            "service.name": "newstalk",
        }
        attributes = _attributes(record["attributes"])
        assert {"time", "level", "message"}.isdisjoint(attributes)
        assert attributes["logger"].startswith(("uvicorn", "newstalk"))
        assert record["body"]["stringValue"]
        assert record["severityText"] in {"info", "warning", "error"}
        assert int(record["timeUnixNano"]) > 0
    assert {r["resource"]["k8s.namespace.name"] for r in records} == {"newstalk-ai-prod"}


def test_a_stage_line_keeps_every_correlation_field_and_the_trace(
    shipped: tuple[str, list[dict[str, Any]]],
) -> None:
    _, records = shipped
    (record,) = _by(records, "request_id", "req-stage-1")
    assert record["body"] == {"stringValue": "pipeline: factcheck 작업 1893 실패, 2초 뒤 다시 시도"}
    assert record["traceId"] == TRACE_ID
    assert record["spanId"] == SPAN_ID
    assert record["severityText"] == "warning"
    assert record["severityNumber"] == 13  # WARN
    # The timestamp is the line's own "time" (millisecond precision), not when the collector read it.
    stamp = int(record["timeUnixNano"])
    assert stamp % 1_000_000 == 0
    assert stamp != int(record["observedTimeUnixNano"])
    assert abs(stamp / 1e9 - time.time()) < 600
    assert _attributes(record["attributes"]) == {
        "request_id": "req-stage-1",
        "listener": listener_hash(42, "a-test-secret"),
        "stage": "factcheck",
        "job_id": "1893+2",
        "event_id": "9c1e" * 8,
        "logger": "newstalk.test.logcollector",
        "log.iostream": "stderr",
    }


def test_a_jobs_pod_has_no_deployment_label(shipped: tuple[str, list[dict[str, Any]]]) -> None:
    _, records = shipped
    (record,) = [r for r in records if r["body"].get("stringValue") == "migrated"]
    assert record["resource"]["k8s.pod.name"] == "newstalk-migrate-x7k2p"
    assert "k8s.deployment.name" not in record["resource"]
    assert record["timeUnixNano"] == "1796377262118000000"


def test_a_line_that_is_not_json_is_kept_whole(shipped: tuple[str, list[dict[str, Any]]]) -> None:
    _, records = shipped
    bodies = [r["body"].get("stringValue") for r in records]
    assert "Traceback (most recent call last): not JSON" in bodies


class _Refuser(BaseHTTPRequestHandler):
    """A store that refuses every batch (HTTP 400, as Loki answers a line too old to take)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_series_the_log_alerts_read_are_what_the_collector_serves(
    collector: Path, tmp_path: Path
) -> None:
    ours = tmp_path / "pods" / f"newstalk-ai-prod_{POD}_{POD_UID}" / "newstalk"
    ours.mkdir(parents=True)
    (ours / "0.log").write_text(_cri(_stage_line()), encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuser)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = _free_port()
    config = log_collector.local_config(tmp_path / "pods", f"http://127.0.0.1:{server.server_port}", port)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [str(collector), f"--config={tmp_path / 'config.yaml'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        series: dict[str, float] = {}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    text = response.read().decode()
            except OSError:
                text = ""
            series = {
                line.split("{")[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("otelcol_exporter_") and 'exporter="otlphttp/loki"' in line
            }
            if series.get("otelcol_exporter_send_failed_log_records_total", 0) >= 1:
                break
            time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.shutdown()
        server.server_close()
    # deploy/monitoring/newstalk-alerts.yaml: NewsTalkLogShippingStalled and NewsTalkLogsDropped.
    assert series["otelcol_exporter_send_failed_log_records_total"] == 1
    assert series["otelcol_exporter_queue_capacity"] == 5000
    assert "otelcol_exporter_queue_size" in series
    rules = (ROOT / "deploy/monitoring/newstalk-alerts.yaml").read_text()
    for name in ("queue_size", "queue_capacity", "send_failed_log_records_total"):
        assert f'otelcol_exporter_{name}{{exporter="otlphttp/loki"}}' in rules
