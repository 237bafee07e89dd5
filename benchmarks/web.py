"""The web app's speed on the demo data: HTML time per page (p50/p95), first-load bytes, LCP.

Starts ``newstalk up --demo`` in a temporary folder on a free port, waits until the demo
stories are fact-checked, registers a listener (who asks one question) and an admin (made one
through the users API), then times the listener's pages, the editors' desk (as the admin) and
the anonymous Today, register and login:

* HTML: N sequential GETs of each page as its visitor (httpx, keep-alive, cookies),
  after 3 warm-up requests; p50 and p95 of the full response time. Search asks a different
  query each time (two or three words, English and Korean), so every one is embedded: the
  query-vector cache never answers;
* first load: Debian chromium (Playwright) with an empty cache opens each page; bytes
  transferred (encoded, as on the wire; headers excluded) for everything but audio;
* LCP: the last ``largest-contentful-paint`` entry (PerformanceObserver, buffered) after load.

Prints one markdown table on stdout, then PASS or FAIL for each bar (HTML p95 <= 50 ms on
every page, first load <= 200 KB, LCP <= 1 s; docs/web.md) with the worst page; progress on
stderr. Needs /usr/bin/chromium for the browser columns (without it they read "-" and those
bars "not measured").

    .venv/bin/python benchmarks/web.py [--requests 100] [--newstalk .venv/bin/newstalk]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import secrets
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
# The bars (docs/web.md, "Speed").
HTML_P95_MS = 50.0
FIRST_LOAD_BYTES = 200 * 1024
LCP_MS = 1000.0
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


def sign_up(client: httpx.Client, email: str) -> None:
    token = csrf(client.get("/register").text)
    client.post("/register", data={"csrf": token, "email": email, "password": "benchmark passphrase"})
    if "nt_access" not in client.cookies:
        raise SystemExit(f"web: registering {email} did not sign in")


def ask(client: httpx.Client, story_id: int) -> str:
    """One question about the story; the thread's page."""
    token = csrf(client.get("/").text)
    answer = client.post(f"/stories/{story_id}/ask", data={"csrf": token, "question": "What happened?"})
    return answer.headers.get("location", "/ask").split("#")[0]


def make_admin(client: httpx.Client, admin_token: str, email: str) -> None:
    """The account ``email`` becomes an admin (the users API, with the server's admin token)."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    users = client.get("/api/v1/users", params={"limit": 500}, headers=auth).json()["items"]
    (user,) = [u for u in users if u["email"] == email]
    client.patch(f"/api/v1/users/{user['id']}", json={"role": "admin"}, headers=auth).raise_for_status()


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


def browser_loads(
    base: str, pages: dict[str, str], cookies: dict[str, httpx.Cookies | None]
) -> dict[str, tuple[int, float]]:
    """Each page opened once with an empty cache, as its visitor (``cookies[name]``; None: anonymous)."""
    from playwright.sync_api import sync_playwright

    out: dict[str, tuple[int, float]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, path in pages.items():
            context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
            jar = cookies.get(name)
            if jar is not None:
                context.add_cookies(
                    [{"name": c.name, "value": c.value or "", "url": base} for c in jar.jar if c.value]
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


def verdicts(rows: dict[str, tuple[float, float]], loads: dict[str, tuple[int, float]]) -> list[str]:
    """PASS or FAIL for each bar, with the worst page and its number."""

    def bar(label: str, values: dict[str, float], limit: float, unit: str) -> str:
        values = {k: v for k, v in values.items() if v == v}  # NaN: not measured
        if not values:
            return f"{label}: not measured"
        worst = max(values, key=lambda k: values[k])
        verdict = "PASS" if values[worst] <= limit else "FAIL"
        over = sorted(k for k, v in values.items() if v > limit)
        tail = f"; over: {', '.join(over)}" if over else ""
        return f"{verdict} {label}: worst {worst} {values[worst]:.1f} {unit}{tail}"

    sizes = {k: size / 1024 for k, (size, _lcp) in loads.items() if size}
    return [
        bar(
            f"HTML p95 <= {HTML_P95_MS:g} ms", {k: p95 for k, (_p50, p95) in rows.items()}, HTML_P95_MS, "ms"
        ),
        bar(f"first load <= {FIRST_LOAD_BYTES // 1024} KB", sizes, FIRST_LOAD_BYTES / 1024, "KB"),
        bar(f"LCP <= {LCP_MS / 1000:g} s", {k: lcp for k, (_size, lcp) in loads.items()}, LCP_MS, "ms"),
    ]


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
    admin_token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="newstalk-web-") as tmp:
        env = dict(
            os.environ,
            NEWSTALK_AUDIO_DIR=str(Path(tmp) / "audio"),
            NEWSTALK_RATE_LIMIT_PER_MINUTE="0",
            NEWSTALK_ADMIN_TOKEN=admin_token,
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
            with (
                httpx.Client(base_url=base, timeout=30) as client,
                httpx.Client(base_url=base, timeout=30) as admin,
                httpx.Client(base_url=base, timeout=30) as anonymous,
            ):
                story_id = wait(
                    "fact-checked story", lambda: checked_story(client), proc, args.startup_timeout
                )
                log(f"story {story_id} is checked; signing up a listener and an admin")
                sign_up(client, "bench@example.org")
                thread = ask(client, story_id)
                sign_up(admin, "bench-admin@example.org")
                make_admin(admin, admin_token, "bench-admin@example.org")
                # name: (path, who asks)
                pages: dict[str, tuple[str, httpx.Client]] = {
                    "today": ("/", client),
                    "story": (f"/stories/{story_id}", client),
                    "search": ("/search?q=rate", client),
                    "listen": ("/listen", client),
                    "ask (threads)": ("/ask", client),
                    "ask (thread)": (thread, client),
                    "settings": ("/settings", client),
                    "desk": ("/desk", admin),
                    "desk review": ("/desk/review", admin),
                    "desk stories": ("/desk/stories", admin),
                    "desk story": (f"/desk/stories/{story_id}", admin),
                    "desk sources": ("/desk/sources", admin),
                    "desk dead letters": ("/desk/dead", admin),
                    "desk users": ("/desk/users", admin),
                    "today (anonymous)": ("/", anonymous),
                    "register (anonymous)": ("/register", anonymous),
                    "login (anonymous)": ("/login", anonymous),
                }
                if args.pages:
                    wanted = {p.strip() for p in args.pages.split(",")}
                    unknown = wanted - set(pages)
                    if unknown:
                        raise SystemExit(f"web: no page {sorted(unknown)}; pages: {', '.join(pages)}")
                    pages = {k: v for k, v in pages.items() if k in wanted}
                rows: dict[str, tuple[float, float]] = {}
                for name, (path, who) in pages.items():
                    if name == "search":
                        rows[name] = html_times(who, search_paths(), args.requests)
                    else:
                        rows[name] = html_times(who, path, args.requests)
                    log(f"{name}: p95 {rows[name][1]:.1f} ms")
                loads: dict[str, tuple[int, float]] = {}
                if args.no_browser:
                    pass
                elif Path(CHROMIUM).exists():
                    loads = browser_loads(
                        base,
                        {name: path for name, (path, _who) in pages.items()},
                        {
                            name: None if who is anonymous else who.cookies
                            for name, (_p, who) in pages.items()
                        },
                    )
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
        f"\n{args.requests} sequential requests per page after 3 warm-ups, as a listener (the desk: an admin;"
        f" marked: anonymous), `newstalk up --demo` running its pipeline; search: a new query each request;"
        f" load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end.\n"
    )
    for line in verdicts(rows, loads):
        print(f"- {line}")


if __name__ == "__main__":
    main()
