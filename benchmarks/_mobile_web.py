"""The mobile app's web build against a real NewsTalk, for the browser test and benchmarks/mobile.py.

``newstalk up --demo`` runs in its own process on a free port (its own temporary folder, SQLite,
CORS open to the static server's origin only); the web build (``npx expo export --platform
web`` output) is served from another free port by a static server that answers every path
without a file with ``index.html`` (the app routes in the browser); Chromium is Debian's
(``/usr/bin/chromium``; never ``playwright install``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _feeds import free_port

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "apps" / "mobile"
DIST = APP / "dist"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # The player starts after the audio is synthesized, seconds after the tap.
    "--autoplay-policy=no-user-gesture-required",
]


class _SpaHandler(SimpleHTTPRequestHandler):
    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if not path.exists():
            self.path = "/index.html"
        return super().send_head()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_static(directory: Path = DIST) -> Iterator[str]:
    """The web build over HTTP on 127.0.0.1; yields its origin."""
    if not (directory / "index.html").exists():
        raise SystemExit(
            f"mobile: no web build in {directory}; run 'npx expo export --platform web' in apps/mobile"
        )
    handler = functools.partial(_SpaHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Newstalk:
    url: str
    log: Path


@contextlib.contextmanager
def newstalk_demo(web_origin: str, *, ready_timeout_s: float = 180) -> Iterator[Newstalk]:
    """``newstalk up --demo`` on a free port in a temporary folder; stopped and removed after."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="newstalk-mobile-"))
    log = workdir / "newstalk.log"
    env = {
        **os.environ,
        "NEWSTALK_CORS_ORIGINS": json.dumps([web_origin]),
        "NEWSTALK_AUDIO_DIR": str(workdir / "audio"),
        "NEWSTALK_RATE_LIMIT_PER_MINUTE": "100000",
    }
    env.pop("NEWSTALK_DATABASE_URL", None)
    newstalk = shutil.which("newstalk", path=str(ROOT / ".venv" / "bin")) or "newstalk"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [newstalk, "up", "--demo", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"mobile: newstalk up exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/ready", timeout=2) as res:
                    if res.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mobile: newstalk up not ready after {ready_timeout_s:.0f} s")
            time.sleep(0.5)
        yield Newstalk(url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for_stories(url: str, timeout_s: float = 180) -> int:
    """Seconds until the demo has at least one trending story."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/trending?limit=1", timeout=5) as res:
                if json.loads(res.read()):
                    return int(time.monotonic() - started)
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"mobile: the demo made no story in {timeout_s:.0f} s")


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
