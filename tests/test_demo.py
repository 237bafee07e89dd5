"""`newstalk up --demo` as a new user runs it: a real process, sample feeds, articles within seconds."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

NEWSTALK = str(Path(sys.executable).with_name("newstalk"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


@pytest.mark.slow
def test_up_demo_shows_korean_and_english_articles_then_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen(
        [NEWSTALK, "up", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        languages: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and languages != {"ko", "en"}:
            time.sleep(0.5)
            try:
                news = get_json(f"http://127.0.0.1:{port}/api/v1/news?limit=50")
            except OSError:
                continue
            languages = {item["language"] for item in news["items"]}  # type: ignore[attr-defined, index]
        assert languages == {"ko", "en"}, "no Korean and English demo articles within 30 s"
        assert (tmp_path / "data" / "newstalk.db").exists()
        sources = get_json(f"http://127.0.0.1:{port}/api/v1/sources")["items"]
        assert len(sources) == 3  # type: ignore[arg-type]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)
        log.close()
    err = (tmp_path / "up.log").read_text()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
