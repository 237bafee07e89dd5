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
from typing import Any

import pytest

NEWSTALK = str(Path(sys.executable).with_name("newstalk"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


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
            languages = {item["language"] for item in news["items"]}
        assert languages == {"ko", "en"}, "no Korean and English demo articles within 30 s"
        assert (tmp_path / "data" / "newstalk.db").exists()
        sources = get_json(f"http://127.0.0.1:{port}/api/v1/sources")["items"]
        assert len(sources) == 4
        # Outlets by name once fetched, and every article link opens a page.
        names = {s["title"] for s in sources}
        assert names <= {"한빛일보", "누리경제신문", "Harbor Times", "Northern Wire"}
        for item in news["items"]:
            with urllib.request.urlopen(item["url"], timeout=5) as resp:
                page = resp.read().decode()
            assert resp.status == 200
            assert item["title"].split("…")[0][:10] in page
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)
        log.close()
    err = (tmp_path / "up.log").read_text()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err

    # The same data on another port: the demo sources move there, none is added twice.
    port2 = free_port()
    with (tmp_path / "up2.log").open("w") as log2:
        proc = subprocess.Popen(
            [NEWSTALK, "up", "--demo", "--port", str(port2)],
            cwd=tmp_path,
            env=env,
            stdout=log2,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            sources = []
            while time.monotonic() < deadline and not sources:
                time.sleep(0.5)
                try:
                    sources = get_json(f"http://127.0.0.1:{port2}/api/v1/sources")["items"]
                except OSError:
                    continue
            assert len(sources) == 4
            assert all(f":{port2}/demo/feeds/" in s["feed_url"] for s in sources)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=40)
    assert "demo feeds subscribed (0 new)" in (tmp_path / "up2.log").read_text()
