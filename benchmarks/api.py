"""API benchmark: requests/s and p50/p95 latency at concurrency 50, next to a bare uvicorn endpoint.

Run: ``.venv/bin/python benchmarks/api.py [--duration 10] [--connections 50] [--articles 5000]
[--stories 1000]``. Needs ``wrk`` (Debian: ``apt-get install wrk``).

A fresh SQLite database is migrated
and filled with synthetic sources, articles and stories, one listener account is created,
and ``newstalk api`` is started as a real process (one uvicorn worker, like one replica;
rate limits on but set high enough never to refuse, so their cost is measured). The
baseline is ``benchmarks/_bare.py`` under the same uvicorn: fixed JSON, no framework. Each
endpoint gets a warm-up, then ``wrk`` with ``--connections`` keep-alive connections on two
threads; wrk runs on the same machine and competes for its cores, for every row alike.
The signed-in rows (``/api/v1/me/preferences``, ``/api/v1/feed`` with a listener's JWT) run in
the same process and the same run as the anonymous ``/api/v1/news`` row, and the table gives
each row's throughput as a ratio to ``/api/v1/news`` (issue 14's aims: preferences >= 0.5,
feed >= 0.25 with p95 <= 50 ms). Right after start, one feed request starts the process's
one-time e5 model load (the listener's keywords are embedded off the request path) and the
benchmark waits until the server is idle again (``--feed-settle``, at most 300 s), so that
load stays out of every measured row.
Prints one markdown table on stdout; progress on stderr. Exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWSTALK = Path(sys.executable).parent / "newstalk"
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50":%d,"p95":%d,"p99":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(database_url: str, *, articles: int, stories: int, rng: random.Random) -> str:
    """Migrate, insert sources/articles/stories, create a listener; return its access token."""
    from sqlalchemy import insert

    from newstalk.articles.models import Article
    from newstalk.config import load_settings, to_sync_url
    from newstalk.kit import migrate
    from newstalk.models import import_all_models
    from newstalk.sources.models import Source
    from newstalk.stories.models import Story, StoryArticle

    import_all_models()
    migrate.upgrade(to_sync_url(database_url))
    now = datetime.now(UTC)
    words = [
        "economy",
        "market",
        "rate",
        "bank",
        "chip",
        "export",
        "election",
        "court",
        "storm",
        "vaccine",
        "league",
        "film",
    ]

    async def fill() -> str:
        from newstalk.accounts import service
        from newstalk.kit.db import Database

        settings = load_settings(database_url=database_url)
        db = Database.open(settings.async_database_url)
        try:
            async with db.unit() as uow:
                sources = [
                    Source(
                        feed_url=f"https://outlet{i}.example/feed.xml",
                        title=f"Outlet {i}",
                        language="en" if i % 2 else "ko",
                        fetch_interval_s=900,
                        next_fetch_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                    for i in range(1, 21)
                ]
                uow.session.add_all(sources)
                await uow.session.flush()
                source_ids = [s.id for s in sources]
            rows = []
            for i in range(articles):
                title = " ".join(rng.choice(words) for _ in range(8)) + f" {i}"
                published = now - timedelta(seconds=articles - i)
                rows.append(
                    {
                        "source_id": source_ids[i % len(source_ids)],
                        "url": f"https://news.example/a/{i}",
                        "content_hash": f"{i:064x}",
                        "title": title,
                        "summary": title + ". " + title,
                        "content_html": f"<p>{title}</p>",
                        "content_text": title,
                        "language": "en" if i % 2 else "ko",
                        "full_text_extracted": False,
                        "published_at": published,
                        "first_seen_at": published,
                        "stored_at": published,
                    }
                )
            async with db.unit() as uow:
                for start in range(0, len(rows), 1000):
                    await uow.session.execute(insert(Article), rows[start : start + 1000])
            async with db.unit() as uow:
                story_rows = [
                    {
                        "status": "open",
                        "title": f"story {j} " + " ".join(rng.choice(words) for _ in range(6)),
                        "summary": ["one sentence", "another sentence"],
                        "keywords": rng.sample(words, 3),
                        "languages": ["en", "ko"],
                        "category": rng.choice(["economy", "tech", "politics", "sports"]),
                        "article_count": articles // max(stories, 1),
                        "outlet_count": 3,
                        "trending_score": rng.random(),
                        "first_seen_at": now - timedelta(minutes=stories - j),
                        "last_seen_at": now - timedelta(minutes=stories - j),
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for j in range(stories)
                ]
                for start in range(0, len(story_rows), 1000):
                    await uow.session.execute(insert(Story), story_rows[start : start + 1000])
            async with db.unit() as uow:
                links = [
                    {
                        "article_id": i + 1,
                        "story_id": i % stories + 1,
                        "score": 1.0,
                        "pinned": False,
                        "added_at": now,
                    }
                    for i in range(articles)
                ]
                for start in range(0, len(links), 1000):
                    await uow.session.execute(insert(StoryArticle), links[start : start + 1000])
            async with db.unit() as uow:
                user = await service.create_user(
                    uow, email="bench@example.org", password="benchmark-password"
                )
                pair = await service.start_session(uow, settings, user, "benchmarks/api.py")
            return pair.access_token
        finally:
            await db.dispose()

    return asyncio.run(fill())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle_feed(pid: int, url: str, headers: dict[str, str], *, timeout: float) -> float:
    """Ask for the feed, then wait until the server is idle: the one-time e5 load is over.

    The first feed request of a process starts embedding the listener's keywords off the
    request path (loading the e5 model, seconds of CPU); until that is done every feed
    request rebuilds the profile. Measured rows should see the process as it runs for the
    rest of its life, so this waits (at most ``timeout``) for the server's CPU use to drop
    below 5 % for two seconds in a row, twice (a second request sees the vectors).
    Returns the seconds waited.
    """
    start = time.monotonic()
    for _ in range(2):
        urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60).close()
        quiet = 0
        while quiet < 2 and time.monotonic() - start < timeout:
            before = cpu_seconds(pid)
            time.sleep(1.0)
            quiet = quiet + 1 if cpu_seconds(pid) - before < 0.05 else 0
    return time.monotonic() - start


@contextmanager
def server(cmd: list[str], port: int, env: dict[str, str], ready_path: str) -> Iterator[int]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise SystemExit(f"bench: {cmd[0]} did not start: {err[-2000:]}") from None
                time.sleep(0.1)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log(f"{cmd[0]} did not stop within 30 s of SIGTERM; killed")
            proc.kill()
            proc.wait()


def wrk(
    url: str, *, duration: int, connections: int, headers: dict[str, str], script: Path
) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(script)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before measuring")
    parser.add_argument(
        "--feed-settle",
        type=int,
        default=300,
        help="at most this many seconds to wait after the first feed request for the server to go "
        "idle (its one-time e5 model load); 0 skips the wait",
    )
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--stories", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="NEWSTALK_RATE_LIMIT_PER_MINUTE=0, to see what they cost",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="NEWSTALK_API_CACHE_TTL_S=0: every list request queries the database and renders",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        log("wrk is not installed (Debian: apt-get install wrk)")
        return 2

    with tempfile.TemporaryDirectory(prefix="newstalk-api-bench-") as tmp:
        tmpdir = Path(tmp)
        database_url = f"sqlite:///{tmpdir / 'bench.db'}"
        log(f"seeding {args.articles} articles, {args.stories} stories")
        token = seed(database_url, articles=args.articles, stories=args.stories, rng=random.Random(args.seed))
        from feed import add_feed_state  # benchmarks/feed.py: centroids, preferences, feedback

        add_feed_state(database_url, rng=random.Random(args.seed))
        script = tmpdir / "report.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
        env.update(
            NEWSTALK_DATABASE_URL=database_url,
            NEWSTALK_LOG_LEVEL="warning",
            NEWSTALK_RATE_LIMIT_PER_MINUTE="0" if args.no_rate_limits else str(10**9),
        )
        if args.no_cache:
            env["NEWSTALK_API_CACHE_TTL_S"] = "0"
        ours, bare = free_port(), free_port()
        auth = {"Authorization": f"Bearer {token}"}
        targets = [
            ("bare uvicorn, fixed JSON", f"http://127.0.0.1:{bare}/", {}),
            ("GET /health", f"http://127.0.0.1:{ours}/health", {}),
            ("GET /api/v1/news", f"http://127.0.0.1:{ours}/api/v1/news", {}),
            ("GET /api/v1/stories", f"http://127.0.0.1:{ours}/api/v1/stories", {}),
            (
                "GET /api/v1/me/preferences (listener JWT)",
                f"http://127.0.0.1:{ours}/api/v1/me/preferences",
                auth,
            ),
            ("GET /api/v1/feed (personal feed, listener JWT)", f"http://127.0.0.1:{ours}/api/v1/feed", auth),
        ]
        rows = []
        failed = False
        bare_cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks._bare:app",
            "--port",
            str(bare),
            "--log-level",
            "warning",
        ]
        with (
            server([str(NEWSTALK), "api", "--port", str(ours)], ours, env, "/ready") as pid,
            server(bare_cmd, bare, env, "/"),
        ):
            feed_url = f"http://127.0.0.1:{ours}/api/v1/feed"
            if args.feed_settle > 0:
                waited = settle_feed(pid, feed_url, auth, timeout=args.feed_settle)
                log(f"/api/v1/feed: the server settled {waited:.0f}s after its first feed request (e5 load)")
            for name, url, headers in targets:
                log(
                    f"{name}: warm-up {args.warmup}s, then {args.duration}s at {args.connections} connections"
                )
                wrk(url, duration=args.warmup, connections=args.connections, headers=headers, script=script)
                r = wrk(
                    url, duration=args.duration, connections=args.connections, headers=headers, script=script
                )
                rps = r["requests"] / (r["duration_us"] / 1e6)
                failed = failed or bool(r["errors"] or r["non2xx"])
                rows.append((name, rps, r["p50"] / 1000, r["p95"] / 1000, r["errors"] + r["non2xx"]))
        base = rows[0][1]
        news = next(rps for name, rps, *_ in rows if name == "GET /api/v1/news")
        one, five, _ = os.getloadavg()
        print(
            f"API at {args.connections} connections, {args.duration} s each, SQLite, "
            f"{args.articles} articles / {args.stories} stories, rate limits {'off' if args.no_rate_limits else 'on'}, "
            f"page cache {'off' if args.no_cache else 'on'}; load average {one:.2f} / {five:.2f}\n"
        )
        print("| endpoint | requests/s | p50 ms | p95 ms | throughput vs bare | vs /api/v1/news | failed |")
        print("|---|---|---|---|---|---|---|")
        for name, rps, p50, p95, bad in rows:
            print(
                f"| {name} | {rps:.0f} | {p50:.1f} | {p95:.1f} | {rps / base:.2f} | {rps / news:.2f} | {bad:.0f} |"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
