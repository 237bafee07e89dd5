"""The browser suite's fixtures: a real ``newstalk up --demo`` on a free port and Debian's chromium.

Browser tests are marked ``browser``. Without /usr/bin/chromium they are skipped with the
reason, except in CI (``CI=true``), where a missing browser fails them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "browser-suite-admin-token"


def artifacts_dir() -> Path:
    """Where screenshots go: $NEWSTALK_ARTIFACTS/screenshots, else artifacts/screenshots (gitignored)."""
    base = (
        Path(os.environ["NEWSTALK_ARTIFACTS"]) if os.environ.get("NEWSTALK_ARTIFACTS") else ROOT / "artifacts"
    )
    path = base / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, method: str, path: str, body: Any = None, token: str | None = ADMIN_TOKEN) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def wait_for(self, what: str, check: Any, timeout: float = 300) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"newstalk up exited ({self.process.returncode}) while waiting for {what}; log {self.log}"
                )
            try:
                found = check()
            except OSError:
                found = None
            if found:
                return found
            time.sleep(1)
        pytest.fail(f"browser suite: no {what} after {timeout:.0f} s; server log {self.log}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists() or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(
        reason=f"browser tests need Debian chromium at {CHROMIUM} (apt-get install chromium fonts-nanum)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``newstalk up --demo`` in its own folder on a free port (module scope, like the browser).

    Playwright's sync API runs its own event loop while the browser is open; closing both at
    the end of the browser module keeps the async tests that follow on pytest's loop.
    """
    home = tmp_path_factory.mktemp("newstalk-up")
    port = _free_port()
    env = {
        **os.environ,
        "NEWSTALK_DATABASE_URL": f"sqlite:///{home}/newstalk.db",
        "NEWSTALK_AUDIO_DIR": str(home / "audio"),
        "NEWSTALK_ADMIN_TOKEN": ADMIN_TOKEN,
        "NEWSTALK_RATE_LIMIT_PER_MINUTE": "0",
        "NEWSTALK_LOG_LEVEL": "WARNING",
        # Daily briefings are scheduled from this hour (UTC): from midnight, so any test hour has one.
        "NEWSTALK_BRIEFINGS_DAILY_HOUR_UTC": "0",
        "PYTHONPATH": str(ROOT / "src"),
    }
    env.pop("NEWSTALK_REDIS_URL", None)
    log = home / "server.log"
    newstalk = shutil.which("newstalk", path=str(Path(sys.executable).parent)) or "newstalk"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [newstalk, "up", "--demo", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    srv = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        srv.wait_for("answer on /ready", lambda: srv.api("GET", "/ready", token=None) is not None, 120)
        yield srv
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def conflicting_story(server: Server) -> dict[str, Any]:
    """A demo story whose fact-check refutes a claim with a conflicting number in the evidence."""

    def find() -> dict[str, Any] | None:
        for story in server.api("GET", "/api/v1/stories?limit=50")["items"]:
            check = server.api("GET", f"/api/v1/stories/{story['id']}/factcheck")
            for claim in check["claims"]:
                if claim["verdict"] == "refuted" and any(e["conflicts"] for e in claim["evidence"]):
                    return {"story": story, "claim": claim}
        return None

    found: dict[str, Any] = server.wait_for("refuted claim with conflicting evidence", find)
    return found


@pytest.fixture(scope="module")
def spoken_story(server: Server, conflicting_story: dict[str, Any]) -> dict[str, Any]:
    """The story's audio in the default voice, synthesized (the pipeline records every story)."""
    story_id = conflicting_story["story"]["id"]

    def ready() -> dict[str, Any] | None:
        audio: dict[str, Any] = server.api("POST", "/api/v1/voice", {"story_id": story_id})
        return audio if audio["status"] == "ready" else None

    audio: dict[str, Any] = server.wait_for("story audio", ready)
    return audio


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"CI=true and no chromium at {CHROMIUM}: install it with scripts/system-deps")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
