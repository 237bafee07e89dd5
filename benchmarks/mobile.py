"""The mobile app: JS bundle size per platform, web start-to-interactive, memory during playback.

Run (from the repository root, after ``npm ci`` in apps/mobile):
``.venv/bin/python benchmarks/mobile.py [--platforms web] [--starts 5] [--minutes 10]``.

- **Bundle**: ``npx expo export --platform P`` for each platform (web by default; ``android``
  and ``ios`` export Hermes bytecode the same way); the size of the JavaScript it writes, raw
  and gzip -9 (what a CDN or an app store download compresses).
- **Start**: the exported web build served on 127.0.0.1 (``benchmarks/_mobile_web.py``) in Debian
  Chromium, a fresh browser context per run: from navigation start until a signed-in
  listener's today screen shows a story (the server, tokens and locale already stored, as on
  a second start), and until the first-start screen accepts input. Median of ``--starts``.
- **Memory**: the same listener plays a story briefing on repeat for ``--minutes``; then the
  page's JS heap (Chromium's ``JSHeapUsedSize``) and the resident memory of every Chromium
  process (browser, renderer, GPU and utility processes, from ``/proc``).

Prints one markdown table; progress on stderr. Aims: start <= 2 s, bundle <= 2 MB compressed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mobile_web import APP, launch_chromium, newstalk_demo, serve_static, wait_for_stories
from memory import _rss_mb, _tree

PASSWORD = "benchmark-listener-1234"


def say(msg: str) -> None:
    print(f"[mobile] {msg}", file=sys.stderr, flush=True)


def export(platform: str) -> Path:
    out = APP / ("dist" if platform == "web" else f"dist-{platform}")
    env = {**os.environ, "CI": "1", "EXPO_NO_TELEMETRY": "1", "EXPO_OFFLINE": "1"}
    subprocess.run(
        ["npx", "expo", "export", "--platform", platform, "--output-dir", out.name],
        cwd=APP,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out


def bundle_sizes(out: Path) -> tuple[int, int]:
    raw = packed = 0
    for path in out.rglob("*"):
        if path.suffix in (".js", ".hbc") and path.is_file():
            data = path.read_bytes()
            raw += len(data)
            packed += len(gzip.compress(data, 9))
    return raw, packed


def post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        text = res.read()
    return json.loads(text) if text else None


def listener(server: str) -> dict[str, Any]:
    email = f"bench-{int(time.time() * 1000)}@example.org"
    post(f"{server}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    result: dict[str, Any] = post(f"{server}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    return result["tokens"]


def stored_state(server: str, tokens: dict[str, Any]) -> str:
    """The localStorage a returning listener's browser holds (src/lib/storage.ts keys)."""
    token_key = "newstalk.tokens." + "".join(c if c.isalnum() or c in "._-" else "_" for c in server)
    items = {
        "newstalk.server": json.dumps(server),
        "newstalk.locale": json.dumps("en"),
        token_key: json.dumps(tokens),
    }
    return f"for (const [k, v] of Object.entries({json.dumps(items)})) localStorage.setItem(k, v);"


def start_ms(browser: Any, web: str, init: str | None, ready: str) -> float:
    context = browser.new_context(viewport={"width": 420, "height": 900})
    if init:
        context.add_init_script(init)
    page = context.new_page()
    try:
        page.goto(web)
        page.locator(ready).first.wait_for(timeout=60_000)
        return float(page.evaluate("performance.now()"))
    finally:
        context.close()


def chromium_rss_mb() -> float:
    total = 0.0
    for pid in _tree(os.getpid())[1:]:
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if "chrom" in name:
            total += _rss_mb(pid)
    return total


def play_for(browser: Any, web: str, init: str, minutes: float) -> tuple[float, float, float]:
    context = browser.new_context(viewport={"width": 420, "height": 900})
    context.add_init_script(init)
    page = context.new_page()
    try:
        page.goto(web)
        page.locator("[data-testid^='feed-item-'], [data-testid^='trending-item-']").first.click(
            timeout=60_000
        )
        page.get_by_test_id("listen").click()
        page.wait_for_function(
            "() => globalThis.__newstalkPlayer && globalThis.__newstalkPlayer.currentTime > 1",
            timeout=300_000,
        )
        page.evaluate("globalThis.__newstalkPlayer.loop = true")
        page.get_by_test_id("tab-player").click()
        started = time.monotonic()
        while time.monotonic() - started < minutes * 60:
            time.sleep(min(30.0, max(0.0, minutes * 60 - (time.monotonic() - started))))
            say(f"playing {(time.monotonic() - started) / 60:.1f} of {minutes} min")
        played = float(page.evaluate("globalThis.__newstalkPlayer.currentTime"))
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return metrics["JSHeapUsedSize"] / 2**20, chromium_rss_mb(), played
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--platforms", default="web", help="comma-separated: web, android, ios")
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()

    rows: list[tuple[str, str, str]] = []
    for platform in args.platforms.split(","):
        say(f"expo export --platform {platform}")
        t0 = time.monotonic()
        raw, packed = bundle_sizes(export(platform))
        rows.append(
            (
                f"JS bundle, {platform}",
                f"{raw / 2**20:.2f} MB raw, {packed / 2**20:.2f} MB gzip",
                "<= 2 MB gzip",
            )
        )
        say(f"exported in {time.monotonic() - t0:.0f} s")

    from playwright.sync_api import sync_playwright

    with serve_static() as web, newstalk_demo(web) as server, sync_playwright() as p:
        wait_for_stories(server.url)
        init = stored_state(server.url, listener(server.url))
        browser = launch_chromium(p)
        try:
            first = [start_ms(browser, web, None, "[data-testid='server-url']") for _ in range(args.starts)]
            again = [
                start_ms(browser, web, init, "[data-testid^='feed-item-'], [data-testid^='trending-item-']")
                for _ in range(args.starts)
            ]
            say(
                f"starts: first {statistics.median(first):.0f} ms, signed in {statistics.median(again):.0f} ms (medians)"
            )
            rows.append(
                (
                    "web start to interactive, first start (server screen)",
                    f"{statistics.median(first):.0f} ms (median of {len(first)}; max {max(first):.0f})",
                    "<= 2000 ms",
                )
            )
            rows.append(
                (
                    "web start to interactive, signed in (today with stories)",
                    f"{statistics.median(again):.0f} ms (median of {len(again)}; max {max(again):.0f})",
                    "<= 2000 ms",
                )
            )
            if args.minutes > 0:
                heap, rss, position = play_for(browser, web, init, args.minutes)
                rows.append(
                    (
                        f"web build after {args.minutes:g} min of playback",
                        f"JS heap {heap:.1f} MB; Chromium RSS {rss:.0f} MB (all processes); at {position:.0f} s",
                        "< 150 MB",
                    )
                )
        finally:
            browser.close()

    print("| measure | result | aim |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
