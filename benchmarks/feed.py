"""Personal feed benchmark: p50/p95 per request in process and over HTTP at concurrency 50, and memory.

Run: ``flock /tmp/newstalk-heavy.lock nice -n 5 .venv/bin/python benchmarks/feed.py [--listeners 10000]
[--stories 10000] [--requests 1000] [--duration 10] [--connections 50] [--database-url URL]``.
Needs ``wrk`` for the HTTP rows (Debian: ``apt-get install wrk``).

A fresh SQLite database (or the empty PostgreSQL database given) is migrated and filled with
40 outlets, ``--stories`` stories seen in the last 72 hours (1-3 articles each, e5-sized
centroids drawn around 300 topics, categories, keywords, trending scores) and ``--listeners``
listeners: 70 % with preferences (categories, keywords from 60 terms, languages, followed and
muted outlets, muted topics), each with 0-60 feedback events (about 300,000 in all).

In process: one ``FeedEngine`` (what an API process holds) serves first pages for
``--requests`` random listeners it has not seen (profile built from the database), then
first pages for the same listeners again (profile cached; a new ranking each time, since
every first page ranks at its own instant), then their second pages (cursor). Each request
opens its own read session, as the endpoint does. The keyword vectors of the 60 terms are
computed before timing, as in a process that has served them once.

Over HTTP: ``newstalk api`` (one process, one uvicorn worker) on the same database; ``wrk``
with ``--connections`` keep-alive connections sends ``GET /api/v1/feed`` with the access
tokens of 200 listeners in turn, after one unmeasured request per listener (profile
built, keywords embedded) and 5 s of load. wrk runs on the
same two cores as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.api import free_port, server

ROOT = Path(__file__).resolve().parent.parent
NEWSTALK = Path(sys.executable).parent / "newstalk"
CATEGORIES = ["politics", "economy", "society", "world", "tech", "culture", "sports", "entertainment"]
TERMS = [
    "경제",
    "반도체",
    "금리",
    "부동산",
    "선거",
    "국회",
    "축구",
    "야구",
    "날씨",
    "코로나",
    "AI",
    "chips",
    "inflation",
    "election",
    "climate",
    "football",
    "tennis",
    "movies",
    "music",
    "startup",
    "bitcoin",
    "oil",
    "china",
    "japan",
    "korea",
    "ukraine",
    "nasa",
    "space",
    "vaccine",
    "tesla",
    "apple",
    "google",
    "samsung",
    "bank",
    "jobs",
    "housing",
    "tariffs",
    "court",
    "police",
    "school",
    "health",
    "travel",
    "olympics",
    "k-pop",
    "drama",
    "game",
    "robot",
    "energy",
    "solar",
    "wildfire",
    "storm",
    "earthquake",
    "trade",
    "budget",
    "tax",
    "crypto",
    "privacy",
    "labour",
    "strike",
    "festival",
]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


async def seed(database_url: str, *, listeners: int, stories: int, rng: random.Random) -> None:
    """Migrate and fill the database (see the module docstring); bulk inserts, no ORM objects."""
    from sqlalchemy import insert

    from newstalk.accounts.models import User
    from newstalk.articles.models import Article
    from newstalk.config import to_sync_url
    from newstalk.kit import migrate
    from newstalk.kit.db import Database
    from newstalk.listeners.models import FeedbackEvent, OutletChoice, Preferences
    from newstalk.models import import_all_models
    from newstalk.sources.models import Source
    from newstalk.stories.models import Story, StoryArticle

    import_all_models()
    await asyncio.to_thread(migrate.upgrade, to_sync_url(database_url))
    from newstalk.config import load_settings

    settings = load_settings(database_url=database_url)
    db = Database.open(settings.async_database_url)
    nrng = np.random.default_rng(rng.randrange(2**32))
    now = datetime.now(UTC)
    try:

        async def bulk(table: Any, rows: list[dict[str, Any]]) -> None:
            async with db.unit() as uow:
                for start in range(0, len(rows), 2000):
                    await uow.session.execute(insert(table), rows[start : start + 2000])

        await bulk(
            Source,
            [
                {
                    "feed_url": f"https://outlet{i}.example/feed.xml",
                    "title": f"Outlet {i}",
                    "language": "ko" if i % 2 else "en",
                    "fetch_interval_s": 900,
                    "next_fetch_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, 41)
            ],
        )
        topics = nrng.normal(size=(300, 384)).astype(np.float32)
        story_rows, article_rows, link_rows = [], [], []
        article_id = 0
        for j in range(1, stories + 1):
            topic = int(nrng.integers(0, 300))
            vec = topics[topic] + 0.8 * nrng.normal(size=384).astype(np.float32)
            vec /= np.linalg.norm(vec)
            seen = now - timedelta(seconds=float(nrng.uniform(0, 71 * 3600)))
            lang = "ko" if topic % 3 == 0 else "en"
            outlets = rng.sample(range(1, 41), rng.choice([1, 1, 2, 3]))
            story_rows.append(
                {
                    "status": "open",
                    "title": f"story {j} about " + " ".join(rng.sample(TERMS, 2)),
                    "summary": ["one sentence"],
                    "keywords": rng.sample(TERMS, 3),
                    "languages": [lang],
                    "category": CATEGORIES[topic % 8],
                    "article_count": len(outlets),
                    "outlet_count": len(outlets),
                    "trending_score": float(nrng.beta(0.6, 4)),
                    "centroid": vec.tobytes(),
                    "first_seen_at": seen - timedelta(minutes=30),
                    "last_seen_at": seen,
                    "version": 1,
                    "created_at": seen,
                    "updated_at": seen,
                }
            )
            for k, outlet in enumerate(outlets):
                article_id += 1
                article_rows.append(
                    {
                        "source_id": outlet,
                        "url": f"https://news.example/{j}/{k}",
                        "content_hash": f"{article_id:064x}",
                        "title": story_rows[-1]["title"],
                        "summary": "",
                        "content_html": "",
                        "content_text": "",
                        "language": lang,
                        "full_text_extracted": False,
                        "published_at": seen,
                        "first_seen_at": seen,
                        "stored_at": seen,
                    }
                )
                link_rows.append(
                    {"article_id": article_id, "story_id": j, "score": 1.0, "pinned": False, "added_at": seen}
                )
        await bulk(Story, story_rows)
        await bulk(Article, article_rows)
        await bulk(StoryArticle, link_rows)
        log(f"{stories} stories, {len(article_rows)} articles")
        users, prefs, choices, events = [], [], [], []
        for u in range(1, listeners + 1):
            users.append(
                {
                    "email": f"listener{u}@bench.example",
                    "display_name": f"listener {u}",
                    "password_hash": "not-a-login",
                    "role": "listener",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if rng.random() < 0.7:
                kws = rng.sample(TERMS, rng.randint(0, 4))
                prefs.append(
                    {
                        "user_id": u,
                        "categories": rng.sample(CATEGORIES, rng.randint(0, 2)),
                        "keywords": kws,
                        "languages": rng.choice([[], ["ko"], ["en"], ["ko", "en"]]),
                        "muted_topics": [t for t in rng.sample(TERMS, rng.randint(0, 2)) if t not in kws],
                        "voice": None,
                        "playback_speed": 1.0,
                        "updated_at": now,
                    }
                )
                picked = rng.sample(range(1, 41), 3)
                if rng.random() < 0.3:
                    choices.append({"user_id": u, "source_id": picked[0], "stance": "follow"})
                if rng.random() < 0.2:
                    choices.append({"user_id": u, "source_id": picked[1], "stance": "mute"})
            for _ in range(rng.randint(0, 60)):
                kind = rng.choice(
                    ["opened", "listened", "listened", "skipped", "liked", "disliked", "shared"]
                )
                events.append(
                    {
                        "user_id": u,
                        "story_id": rng.randint(1, stories),
                        "kind": kind,
                        "percent": rng.randint(0, 100) if kind == "listened" else None,
                        "created_at": now - timedelta(seconds=rng.uniform(0, 30 * 86400)),
                    }
                )
        await bulk(User, users)
        await bulk(Preferences, prefs)
        await bulk(OutletChoice, choices)
        events.sort(key=lambda e: e["created_at"])
        await bulk(FeedbackEvent, events)
        log(f"{listeners} listeners, {len(prefs)} with preferences, {len(events)} feedback events")
    finally:
        await db.dispose()


def add_feed_state(database_url: str, *, rng: random.Random) -> None:
    """For benchmarks/api.py: centroids on its stories, preferences and feedback for its listener."""

    async def fill() -> None:
        from sqlalchemy import bindparam, select, update

        from newstalk.accounts.models import User
        from newstalk.config import load_settings
        from newstalk.kit.db import Database, utcnow
        from newstalk.listeners.models import FeedbackEvent, Preferences
        from newstalk.stories.models import Story

        db = Database.open(load_settings(database_url=database_url).async_database_url)
        nrng = np.random.default_rng(rng.randrange(2**32))
        try:
            async with db.unit() as uow:
                ids = list((await uow.session.scalars(select(Story.id))).all())
                topics = nrng.normal(size=(50, 384)).astype(np.float32)
                rows = []
                for sid in ids:
                    vec = topics[sid % 50] + 0.8 * nrng.normal(size=384).astype(np.float32)
                    rows.append({"sid": sid, "centroid": (vec / np.linalg.norm(vec)).tobytes()})
                table = Story.__table__
                stmt = (
                    update(table).where(table.c.id == bindparam("sid")).values(centroid=bindparam("centroid"))
                )
                for start in range(0, len(rows), 1000):
                    await (await uow.session.connection()).execute(stmt, rows[start : start + 1000])
                users = list((await uow.session.scalars(select(User.id))).all())
                now = utcnow()
                for uid in users:
                    uow.session.add(
                        Preferences(
                            user_id=uid,
                            categories=["economy"],
                            keywords=["market", "bank"],
                            languages=[],
                            muted_topics=["film"],
                            voice=None,
                            playback_speed=1.0,
                            updated_at=now,
                        )
                    )
                    for sid in rng.sample(ids, min(30, len(ids))):
                        uow.session.add(
                            FeedbackEvent(
                                user_id=uid,
                                story_id=sid,
                                kind=rng.choice(["opened", "liked", "skipped", "shared"]),
                                created_at=now,
                            )
                        )
        finally:
            await db.dispose()

    asyncio.run(fill())


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return s[len(s) // 2] * 1000, s[min(len(s) - 1, int(len(s) * 0.95))] * 1000


async def in_process(
    database_url: str, *, listeners: int, requests: int, rng: random.Random
) -> list[tuple[str, int, float, float]]:
    """Service-level latency: FeedEngine.page with its own read session per request."""
    from newstalk.config import load_settings
    from newstalk.feed.service import ARRAYS, FeedEngine
    from newstalk.kit.db import Database
    from newstalk.providers.embeddings import E5SmallEmbeddings

    settings = load_settings(database_url=database_url)
    db = Database.open(settings.async_database_url)
    embeddings = E5SmallEmbeddings()
    engine = FeedEngine(embeddings=embeddings)
    for term, vec in zip(TERMS, embeddings.encode(TERMS), strict=True):
        engine.keyword_vectors[term] = vec
    rows = []
    try:
        started = time.perf_counter()
        async with db.read() as session:
            await engine.index.current(session)
        log(f"index built in {time.perf_counter() - started:.2f} s")
        users = rng.sample(range(1, listeners + 1), min(requests, listeners))
        cursors: dict[int, str | None] = {}
        for name in (
            "first page, profile built from the database",
            "first page, profile cached",
            "next page (cursor)",
        ):
            samples = []
            for u in users:
                t = time.perf_counter()
                async with db.read() as session:
                    if name.startswith("next"):
                        cursor = cursors.get(u)
                        if cursor is None:
                            continue
                        await engine.page(session, u, limit=20, cursor=cursor)
                    else:
                        page = await engine.page(session, u, limit=20)
                        cursors[u] = page.next_cursor
                samples.append(time.perf_counter() - t)
            p50, p95 = percentiles(samples)
            rows.append((f"in process: {name}", len(samples), p50, p95))
            log(f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        index_mb = (
            sum(
                getattr(engine.index.snapshot.candidates, n).nbytes  # type: ignore[union-attr]
                for n in ARRAYS
            )
            / 2**20
        )
        rows.append(
            (
                f"index matrix MB (vectors + scores, {len(engine.index.snapshot.candidates)} stories)",
                0,
                index_mb,
                index_mb,
            )
        )  # type: ignore[union-attr]
    finally:
        await db.dispose()
    return rows


async def tokens(database_url: str, count: int, listeners: int) -> list[str]:
    from newstalk.accounts import service
    from newstalk.accounts.models import User
    from newstalk.config import load_settings
    from newstalk.kit.db import Database

    settings = load_settings(database_url=database_url)
    db = Database.open(settings.async_database_url)
    out = []
    try:
        async with db.unit() as uow:
            for uid in range(1, min(count, listeners) + 1):
                user = await uow.session.get(User, uid)
                assert user is not None
                pair = await service.start_session(uow, settings, user, "benchmarks/feed.py")
                out.append(pair.access_token)
    finally:
        await db.dispose()
    return out


WRK_SCRIPT = """
tokens = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/feed?limit=20", {["Authorization"] = "Bearer " .. tokens[(counter %% #tokens) + 1]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"errors":%%d,"non2xx":%%d,"p50":%%d,"p95":%%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95)))
end
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def http(
    database_url: str, toks: list[str], *, duration: int, connections: int, tmp: Path
) -> tuple[list[tuple[str, int, float, float]], bool]:
    script = tmp / "feed.lua"
    script.write_text(WRK_SCRIPT % ", ".join(f'"{t}"' for t in toks), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    env.update(
        NEWSTALK_DATABASE_URL=database_url,
        NEWSTALK_LOG_LEVEL="warning",
        NEWSTALK_RATE_LIMIT_PER_MINUTE=str(10**9),
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/feed"
    cmd = [str(NEWSTALK), "api", "--port", str(port)]
    rows = []
    with server(cmd, port, env, "/ready"):
        pid = int(
            subprocess.run(
                ["pgrep", "-n", "-f", f"api --port {port}"], capture_output=True, text=True
            ).stdout.split()[0]
        )
        # Each listener's first request builds their profile and embeds new keywords (the e5
        # model loads on the first one): done once here, one request at a time, not measured.
        log(f"HTTP warm-up: one request per listener ({len(toks)})")
        for tok in toks:
            req = urllib.request.Request(url + "?limit=20", headers={"Authorization": f"Bearer {tok}"})
            urllib.request.urlopen(req, timeout=120).close()
        for phase, seconds in (("warm-up", 5), ("measured", duration)):
            log(f"HTTP {phase}: {seconds}s at {connections} connections")
            out = subprocess.run(
                [
                    "wrk",
                    "-t2",
                    f"-c{connections}",
                    f"-d{seconds}s",
                    "--timeout",
                    "10s",
                    "-s",
                    str(script),
                    url,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        rps = r["requests"] / (r["duration_us"] / 1e6)
        rows.append(
            (
                f"HTTP GET /api/v1/feed, {connections} connections, {rps:.0f} req/s",
                int(r["requests"]),
                r["p50"] / 1000,
                r["p95"] / 1000,
            )
        )
        rows.append(("server RSS MB after the run", 0, rss_mb(pid), rss_mb(pid)))
    return rows, bool(r["errors"] or r["non2xx"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=10_000)
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000, help="listeners timed in process")
    parser.add_argument("--duration", type=int, default=10, help="seconds of HTTP load")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url", help="an EMPTY PostgreSQL database to use instead of a temporary SQLite file"
    )
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP rows")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="newstalk-feed-bench-") as tmp:
        tmpdir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{tmpdir / 'feed.db'}"
        kind = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
        log(f"seeding {kind}")
        started = time.perf_counter()
        asyncio.run(seed(database_url, listeners=args.listeners, stories=args.stories, rng=rng))
        log(f"seeded in {time.perf_counter() - started:.0f} s")
        rows = asyncio.run(
            in_process(database_url, listeners=args.listeners, requests=args.requests, rng=rng)
        )
        rows.append(
            (
                "benchmark process max RSS MB (index + profiles + e5 model)",
                0,
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                0.0,
            )
        )
        failed = False
        if not args.no_http:
            if shutil.which("wrk") is None:
                log("wrk is not installed (Debian: apt-get install wrk); skipping HTTP")
            else:
                toks = asyncio.run(tokens(database_url, 200, args.listeners))
                http_rows, failed = http(
                    database_url, toks, duration=args.duration, connections=args.connections, tmp=tmpdir
                )
                rows += http_rows
    one, five, _ = os.getloadavg()
    print(
        f"Personal feed, {kind}, {args.listeners} listeners, {args.stories} stories, 20 items a page; "
        f"load average {one:.2f} / {five:.2f} (2 cores, shared)\n"
    )
    print("| measurement | requests | p50 ms (or MB) | p95 ms |")
    print("|---|---|---|---|")
    for name, n, p50, p95 in rows:
        if "MB" in name:
            print(f"| {name} | | {p50:.0f} MB | |")
        else:
            print(f"| {name} | {n} | {p50:.1f} | {p95:.1f} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
