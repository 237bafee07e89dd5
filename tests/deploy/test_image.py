"""What can be checked of the container image without a Docker daemon: the Dockerfile's promises
and the health check script it runs, against a real HTTP server."""

from __future__ import annotations

import http.server
import importlib.util
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.py"


def _load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", HEALTHCHECK)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def test_dockerfile_is_multi_stage_slim_non_root_with_healthcheck_and_labels() -> None:
    rows = _dockerfile_instructions()
    froms = [rest for word, rest in rows if word == "FROM"]
    assert len(froms) == 2
    assert froms[1].endswith("AS runtime")
    base = next(rest for word, rest in rows if word == "ARG" and rest.startswith("PYTHON_IMAGE="))
    assert base.startswith("PYTHON_IMAGE=python:3.11")
    assert "slim" in base
    runtime = rows[[r for w, r in rows].index(froms[1]) :]
    assert ("USER", "10001:10001") in runtime
    assert not any(w == "RUN" and ("apt-get" in r or "gcc" in r or "pip install" in r) for w, r in runtime)
    assert any(w == "HEALTHCHECK" and "healthcheck.py" in r for w, r in runtime)
    labels = " ".join(r for w, r in runtime if w == "LABEL")
    for key in ("title", "version", "revision", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert ("ENTRYPOINT", '["newstalk"]') in runtime


def test_dockerignore_keeps_the_build_context_to_what_the_build_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*") + 1 :][:5] == [
        "!pyproject.toml",
        "!requirements.lock",
        "!README.md",
        "!src/",
        "!deploy/docker/",
    ]


def test_every_role_the_image_runs_is_a_newstalk_command() -> None:
    for args in (
        ["api", "--help"],
        ["worker", "--help"],
        ["scheduler", "--help"],
        ["db", "upgrade", "--help"],
    ):
        result = subprocess.run(
            [sys.executable, "-c", "from newstalk.cli import main; main()", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def test_healthcheck_passes_when_the_api_answers(health_server: http.server.HTTPServer) -> None:
    hc = _load_healthcheck()
    port = health_server.server_address[1]
    ok, reason = hc.check(["/opt/newstalk/bin/python", "/opt/newstalk/bin/newstalk", "api"], port)
    assert ok, reason
    assert reason.endswith("answered 200")


def test_healthcheck_fails_when_the_api_is_down_or_unhealthy(health_server: http.server.HTTPServer) -> None:
    hc = _load_healthcheck()
    port = health_server.server_address[1]
    _Health.status = 503
    try:
        ok, reason = hc.check(["newstalk", "up"], port)
    finally:
        _Health.status = 200
    assert not ok
    assert "503" in reason
    health_server.shutdown()
    health_server.server_close()
    ok, reason = hc.check(["newstalk", "api"], port, timeout_s=1)
    assert not ok
    assert "failed" in reason


def test_healthcheck_treats_workers_as_alive_while_they_run() -> None:
    hc = _load_healthcheck()
    result = subprocess.run(
        [sys.executable, str(HEALTHCHECK), "/opt/newstalk/bin/newstalk", "worker", "speech"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert "role worker serves no HTTP" in result.stdout
    assert hc.role(["python", "/opt/newstalk/bin/newstalk", "scheduler"]) == "scheduler"
