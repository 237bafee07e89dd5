"""scripts/production-checklist.sh --url against a real `newstalk up` (SQLite) and the real Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "production-checklist.sh"
REDIS_URL = os.environ.get("NEWSTALK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def newstalk_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("newstalk")
    port = _free_port()
    env = dict(
        os.environ,
        NEWSTALK_DATABASE_URL=f"sqlite:///{data}/newstalk.db",
        NEWSTALK_AUDIO_DIR=str(data / "audio"),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
    )
    log = data / "newstalk.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", "from newstalk.cli import main; main()", "up", "--port", str(port)],
            cwd=data,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
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
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def checklist(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """check name -> PASS/FAIL/SKIP"""
    return {
        line.split()[1]: line.split()[0]
        for line in result.stdout.splitlines()
        if line.split()[:1] in (["PASS"], ["FAIL"], ["SKIP"])
    }


def test_url_mode_passes_every_check_a_running_newstalk_can_answer(newstalk_url: str) -> None:
    result = checklist("--url", newstalk_url, REDIS_URL=REDIS_URL)
    assert result.returncode == 0, result.stdout
    status = lines(result)
    for check in ("api-health", "database-migrated", "api-endpoints", "redis", "metrics", "queue-lag"):
        assert status[check] == "PASS", result.stdout
    # What needs a cluster, TLS, a CDN or Prometheus is skipped, each with its reason.
    for check in ("pods-ready", "tls-certificate", "kafka", "load-balancer", "cdn-audio", "alert-test"):
        assert status[check] == "SKIP", result.stdout
    assert "schema at migration head" in result.stdout
    assert result.stdout.rstrip().endswith("checklist: PASS 6, FAIL 0, SKIP 7")


def test_quick_runs_only_the_fast_checks(newstalk_url: str) -> None:
    result = checklist("--url", newstalk_url, "--quick")
    assert result.returncode == 0, result.stdout
    status = lines(result)
    assert status["api-health"] == status["database-migrated"] == "PASS"
    assert status["api-endpoints"] == status["redis"] == "SKIP"
    assert "api-endpoints          --quick" in result.stdout


def test_a_tight_queue_lag_limit_and_a_dead_redis_fail(newstalk_url: str) -> None:
    result = checklist("--url", newstalk_url, "--max-queue-lag", "-1", REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 1
    status = lines(result)
    assert status["queue-lag"] == "FAIL"
    assert status["redis"] == "FAIL"
    assert status["api-health"] == "PASS"


def test_nothing_listening_fails_with_exit_1() -> None:
    result = checklist("--url", f"http://127.0.0.1:{_free_port()}")
    assert result.returncode == 1
    status = lines(result)
    assert status["api-health"] == status["database-migrated"] == status["metrics"] == "FAIL"
    assert "answered 000" in result.stdout


def test_unknown_argument_exits_2() -> None:
    assert checklist("--bogus").returncode == 2


def test_an_audio_id_without_a_cdn_redirect_fails_the_cdn_check(newstalk_url: str) -> None:
    result = checklist("--url", newstalk_url, "--audio-id", "0" * 64)
    assert result.returncode == 1
    assert lines(result)["cdn-audio"] == "FAIL"
    assert "answered 404, not a redirect to the CDN" in result.stdout


KUBECTL_STUB = """#!/usr/bin/env bash
case "$*" in
  *"get deployments"*) printf '%s' "$STUB_DEPLOYMENTS" ;;
  *"get ingress"*) printf 'k8s-newstalk-0123.ap-northeast-2.elb.amazonaws.com' ;;
  *"exec deploy/newstalk-api"*) echo True ;;
  *) exit 1 ;;
esac
"""


@pytest.mark.parametrize(
    ("deployments", "expected"),
    [
        ("newstalk-api 3/3\nnewstalk-worker-speech 2/2\n", "PASS"),
        ("newstalk-api 3/3\nnewstalk-worker-speech 1/2\nnewstalk-scheduler /1\n", "FAIL"),
    ],
)
def test_namespace_mode_reads_deployment_readiness_from_kubectl(
    newstalk_url: str, tmp_path: Path, deployments: str, expected: str
) -> None:
    stub = tmp_path / "kubectl"
    stub.write_text(KUBECTL_STUB)
    stub.chmod(0o755)
    result = checklist(
        "--namespace",
        "newstalk-ai-prod",
        "--url",
        newstalk_url,
        "--quick",
        PATH=f"{tmp_path}:{os.environ['PATH']}",
        STUB_DEPLOYMENTS=deployments,
    )
    assert lines(result)["pods-ready"] == expected, result.stdout
    if expected == "FAIL":
        assert "newstalk-worker-speech 1/2" in result.stdout
        assert "newstalk-scheduler /1" in result.stdout
        assert result.returncode == 1
