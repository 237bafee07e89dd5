"""The web app's speed on the demo data: HTML time per page (p50/p95), first-load bytes, LCP.

Starts ``newstalk up --demo`` in a temporary folder on a free port, waits until the demo
stories are fact-checked, registers a listener, asks one question, then:

* HTML: N sequential GETs of each page as that listener (httpx, keep-alive, cookies),
  after 3 warm-up requests; p50 and p95 of the full response time. Search asks a different
  query each time (two or three words, English and Korean), so every one is embedded: the
  query-vector cache never answers;
* first load: Debian chromium (Playwright) with an empty cache opens each page; bytes
  transferred (encoded, as on the wire; headers excluded) for everything but audio;
* LCP: the last ``largest-contentful-paint`` entry (PerformanceObserver, buffered) after load.

Prints one markdown table on stdout; progress on stderr. Needs /usr/bin/chromium for the
browser columns (without it they read "-").

    .venv/bin/python benchmarks/web.py [--requests 100] [--newstalk .venv/bin/newstalk]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._feeds import free_port

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
SEARCH_WORDS = [
    "rate", "bank", "election", "battery", "fire", "market", "talks", "inflation", "court", "energy",
    "museum", "river", "vote", "budget", "금리", "선거", "배터리", "시장", "법원", "박물관", "예산",
]  # fmt: skip
LCP_SCRIPT = """
window.__lcp = null;
new PerformanceObserver((list) => {
  const entries = list.getEntries();
  window.__lcp = entries[entries.length - 1].startTime;
}).observe({ type: "largest-contentful-paint", buffered: true });
"""


def log(msg: str) -> None:
    print(f"web: {msg}", file=sys.stderr, flush=True)


def wait(what: str, check: Any, proc: subprocess.Popen[bytes], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"web: newstalk up exited with {proc.returncode} while waiting for {what}")
        try:
            found = check()
        except (httpx.HTTPError, KeyError, ValueError):
            found = None
        if found:
            return found
        time.sleep(1)
    raise SystemExit(f"web: no {what} within {timeout:g} s")


def checked_story(client: httpx.Client) -> int | None:
    for story in client.get("/api/v1/stories", params={"limit": 50}).json()["items"]:
        check = client.get(f"/api/v1/stories/{story['id']}/factcheck").json()
        if any(c["evidence"] for c in check["claims"]):
            return int(story["id"])
    return None


def csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', html)
    if not match:
        raise SystemExit("web: no CSRF token on the page")
    return match.group(1)


def sign_up(client: httpx.Client, story_id: int) -> str:
    token = csrf(client.get("/register").text)
    client.post(
        "/register", data={"csrf": token, "email": "bench@example.org", "password": "benchmark passphrase"}
    )
    token = csrf(client.get("/").text)
    answer = client.post(f"/stories/{story_id}/ask", data={"csrf": token, "question": "What happened?"})
    return answer.headers.get("location", "/ask").split("#")[0]


def search_paths() -> Iterator[str]:
    """/search?q=... with a query never asked before: word pairs, then triples, shuffled."""
    pairs = [" ".join(p) for p in itertools.permutations(SEARCH_WORDS, 2)]
    triples = [" ".join(p) for p in itertools.permutations(SEARCH_WORDS, 3)]
    random.Random(15).shuffle(pairs)
    random.Random(16).shuffle(triples)
    for q in itertools.chain(pairs, triples):
        yield "/search?q=" + quote(q)


def html_times(client: httpx.Client, path: str | Iterator[str], n: int) -> tuple[float, float]:
    paths = path if not isinstance(path, str) else itertools.repeat(path)
    for _ in range(3):
        client.get(next(paths))
    times = []
    for _ in range(n):
        this = next(paths)
        start = time.perf_counter()
        response = client.get(this)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"web: {this} answered {response.status_code}")
    times.sort()
    return statistics.median(times), times[max(0, int(0.95 * len(times)) - 1)]


def browser_loads(base: str, cookies: httpx.Cookies, pages: dict[str, str]) -> dict[str, tuple[int, float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, tuple[int, float]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, path in pages.items():
            context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
            context.add_cookies(
                [{"name": c.name, "value": c.value or "", "url": base} for c in cookies.jar if c.value]
            )
            page = context.new_page()
            page.add_init_script(LCP_SCRIPT)
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            types: dict[str, str] = {}
            sizes: dict[str, int] = {}
            cdp.on(
                "Network.responseReceived",
                lambda e, types=types: types.__setitem__(e["requestId"], e["type"]),
            )
            cdp.on(
                "Network.loadingFinished",
                lambda e, sizes=sizes: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
            )
            page.goto(path, wait_until="load")
            page.wait_for_timeout(800)
            lcp = page.evaluate("() => window.__lcp")
            total = sum(size for rid, size in sizes.items() if types.get(rid) not in ("Media", "EventSource"))
            out[name] = (total, float(lcp) if lcp is not None else float("nan"))
            context.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="GETs per page for the HTML times")
    parser.add_argument("--newstalk", default=str(Path(sys.executable).parent / "newstalk"))
    parser.add_argument("--startup-timeout", type=float, default=300)
    parser.add_argument(
        "--pages", default="", help="comma-separated page names to time (default: all), e.g. search,story"
    )
    parser.add_argument("--no-browser", action="store_true", help="HTML times only (no chromium)")
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="newstalk-web-") as tmp:
        env = dict(
            os.environ, NEWSTALK_AUDIO_DIR=str(Path(tmp) / "audio"), NEWSTALK_RATE_LIMIT_PER_MINUTE="0"
        )
        env["NEWSTALK_DATABASE_URL"] = f"sqlite:///{tmp}/newstalk.db"
        with (Path(tmp) / "up.log").open("wb") as up_log:
            proc = subprocess.Popen(
                [args.newstalk, "up", "--demo", "--port", str(port)],
                cwd=tmp,
                env=env,
                stdout=up_log,
                stderr=up_log,
            )
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                story_id = wait(
                    "fact-checked story", lambda: checked_story(client), proc, args.startup_timeout
                )
                log(f"story {story_id} is checked; signing up")
                thread = sign_up(client, story_id)
                pages = {
                    "today": "/",
                    "story": f"/stories/{story_id}",
                    "search": "/search?q=rate",
                    "listen": "/listen",
                    "ask (threads)": "/ask",
                    "ask (thread)": thread,
                    "settings": "/settings",
                    "login (anonymous)": "/login",
                }
                if args.pages:
                    wanted = {p.strip() for p in args.pages.split(",")}
                    pages = {k: v for k, v in pages.items() if k in wanted}
                rows: dict[str, tuple[float, float]] = {}
                for name, path in pages.items():
                    if name == "login (anonymous)":
                        with httpx.Client(base_url=base, timeout=30) as anonymous:
                            rows[name] = html_times(anonymous, path, args.requests)
                    elif name == "search":
                        rows[name] = html_times(client, search_paths(), args.requests)
                    else:
                        rows[name] = html_times(client, path, args.requests)
                    log(f"{name}: p95 {rows[name][1]:.1f} ms")
                loads: dict[str, tuple[int, float]] = {}
                if args.no_browser:
                    pass
                elif Path(CHROMIUM).exists():
                    browser_pages = {k: v for k, v in pages.items() if k != "login (anonymous)"}
                    loads = browser_loads(base, client.cookies, browser_pages)
                else:
                    log(f"no {CHROMIUM}: first-load bytes and LCP are not measured")
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    load = os.getloadavg()
    print("| page | HTML p50 (ms) | HTML p95 (ms) | first load, bytes (no audio) | LCP (ms) |")
    print("|---|---:|---:|---:|---:|")
    for name, (p50, p95) in rows.items():
        size, lcp = loads.get(name, (0, float("nan")))
        size_s = f"{size / 1024:.1f} KB" if size else "-"
        lcp_s = f"{lcp:.0f}" if lcp == lcp else "-"
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {size_s} | {lcp_s} |")
    print(
        f"\n{args.requests} sequential requests per page after 3 warm-ups, signed in, `newstalk up --demo` running its pipeline;"
        f" search: a new query each request; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end."
    )


if __name__ == "__main__":
    main()
