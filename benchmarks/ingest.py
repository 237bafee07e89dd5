"""End-to-end ingestion benchmark: local feeds through the real collect stage into SQLite and PostgreSQL.

Run: ``.venv/bin/python benchmarks/ingest.py [--feeds 200 --items 50 --rounds 3 --postgres-url URL]``.
Prints one markdown table on stdout; progress, and with ``--profile`` the time breakdown,
go to stderr. The feed server runs in its own process; each database is benchmarked in a
fresh pipeline process so peak RSS is per database. Exits 1 when a round stores a different
number of articles than the feeds added.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import functools
import io
import multiprocessing
import pstats
import resource
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _feeds

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
COLUMNS = [
    "database",
    "articles",
    "cold articles/s",
    "cold CPU (cores)",
    "p50 first-seen→stored (s)",
    "p95 first-seen→stored (s)",
    "re-poll polls/s",
    "re-poll total (s)",
    "ms per 304 (handler − fetch)",
    "DB ms per 304",
    "source statements per 304",
    "all statements per 304",
    "re-poll CPU ms per poll",
    "conditional-GET hit rate",
    "update new articles/s",
    "update stored/expected",
    "peak RSS MB",
]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Config:
    database: str
    url: str
    port: int
    feeds: int
    items: int
    rounds: int
    seed: int
    concurrency: int
    batch_size: int
    timeout_s: float
    profile: bool
    db_pool_size: int | None
    parse_processes: int


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class Timings:
    """Wall and thread-CPU seconds per wrapped function, for --profile."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def add(self, name: str, wall: float, cpu: float) -> None:
        with self._lock:
            self.wall[name] += wall
            self.cpu[name] += cpu
            self.calls[name] += 1

    def wrap_sync(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - w0, time.thread_time() - c0)

        return timed

    def wrap_async(self, name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(fn)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            w0 = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - w0, 0.0)

        return timed

    def reset(self) -> None:
        self.wall.clear()
        self.cpu.clear()
        self.calls.clear()


def _instrument(services: Any, timings: Timings) -> None:
    """Wrap the pipeline's steps in timers; only module attributes and instances are patched."""
    from newstalk.articles import service as articles_service
    from newstalk.ingestion import normalize, process, tasks

    tasks.parse_and_normalize = timings.wrap_sync("parse+normalize (thread)", tasks.parse_and_normalize)  # type: ignore[assignment]
    process.parse_feed = timings.wrap_sync("  parse_feed (feedparser)", process.parse_feed)  # type: ignore[assignment]
    process.normalize_entry = timings.wrap_sync("  normalize_entry", process.normalize_entry)  # type: ignore[assignment]
    normalize.sanitize_html = timings.wrap_sync("    sanitize_html (nh3)", normalize.sanitize_html)  # type: ignore[assignment]
    normalize.html_to_text = timings.wrap_sync("    html_to_text (lxml)", normalize.html_to_text)  # type: ignore[assignment]
    normalize.detect_language = timings.wrap_sync("    detect_language (fasttext)", normalize.detect_language)  # type: ignore[assignment]
    normalize.canonicalize_url = timings.wrap_sync("    canonicalize_url", normalize.canonicalize_url)  # type: ignore[assignment]
    normalize.content_hash = timings.wrap_sync("    content_hash", normalize.content_hash)  # type: ignore[assignment]
    tasks._store = timings.wrap_async("_store (txn: dedup+insert+source+complete)", tasks._store)  # type: ignore[assignment]
    articles_service.store_articles = timings.wrap_async("  store_articles", articles_service.store_articles)  # type: ignore[assignment]
    services.fetcher.fetch = timings.wrap_async("fetch (HTTP)", services.fetcher.fetch)
    services.transport.claim = timings.wrap_async("queue claim", services.transport.claim)
    services.transport.complete = timings.wrap_async("  queue complete", services.transport.complete)


class RepollMeter:
    """While started: wall time inside the collect handler (and the worker's commit of the
    claim's 304s, where the worker commits them) and inside the fetch (their difference is
    the database and bookkeeping cost of a poll), wall time inside database units and read
    sessions (the queue's claims included), SQL statements that touch the ``sources`` table
    and all SQL statements (the queue's claims and completions too)."""

    def __init__(self, services: Any) -> None:
        from sqlalchemy import event

        self.services = services
        self.active = False
        self.handler_s = self.fetch_s = self.db_s = 0.0
        self.source_statements = self.statements = 0
        fetch = services.fetcher.fetch
        for name in ("unit", "read"):
            setattr(services.db, name, self._timed_db(getattr(services.db, name)))

        async def timed_fetch(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await fetch(*args, **kwargs)
            finally:
                if self.active:
                    self.fetch_s += time.perf_counter() - t0

        services.fetcher.fetch = timed_fetch

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if self.active:
                self.statements += 1
                if " sources" in statement:
                    self.source_statements += 1

        event.listen(services.db.engine.sync_engine, "before_cursor_execute", count)

    def _timed_db(self, open_: Callable[..., Any]) -> Callable[..., Any]:
        @contextlib.asynccontextmanager
        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                async with open_(*args, **kwargs) as value:
                    yield value
            finally:
                if self.active:
                    self.db_s += time.perf_counter() - t0

        return timed

    def wrap_worker(self, worker: Any) -> None:
        """Count the worker's commit of deferred 304s as handler time (where the worker has one)."""
        commit = getattr(worker, "commit_deferred", None)
        if commit is None:
            return

        async def timed(deferred: Any) -> None:
            t0 = time.perf_counter()
            try:
                await commit(deferred)
            finally:
                if self.active:
                    self.handler_s += time.perf_counter() - t0

        worker.commit_deferred = timed

    def wrap(self, handler: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        async def timed(ctx: Any) -> None:
            t0 = time.perf_counter()
            try:
                await handler(ctx)
            finally:
                if self.active:
                    self.handler_s += time.perf_counter() - t0

        return timed

    def start(self) -> None:
        self.handler_s = self.fetch_s = self.db_s = 0.0
        self.source_statements = self.statements = 0
        self.active = True

    def stop(self) -> None:
        self.active = False


def _package_of(filename: str) -> str:
    parts = Path(filename).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else "?"
    if "newstalk" in parts:
        rest = parts[parts.index("newstalk") :]
        return "/".join(rest[:2]).removesuffix(".py")
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins/C"
    return "stdlib:" + Path(filename).stem


def _profile_report(prof: cProfile.Profile, timings: Timings, wall: float, cpu: float, articles: int) -> str:
    out = io.StringIO()
    out.write(f"cold round: {articles} articles in {wall:.2f}s wall, process CPU {cpu:.2f}s\n")
    out.write("step timings (wall = elapsed incl. waits; cpu = thread CPU, only for thread steps):\n")
    for name in timings.wall:
        w, c, n = timings.wall[name], timings.cpu[name], timings.calls[name]
        cpu_txt = f"cpu {c:7.2f}s ({100 * c / cpu:4.1f}% of process CPU)" if c else ""
        out.write(f"  {name:<46} calls {n:6d}  wall {w:8.2f}s  {cpu_txt}\n")
    stats = pstats.Stats(prof)
    by_pkg: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _line, _fn), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_pkg[_package_of(filename)] += tt
        total += tt
    out.write(f"event-loop thread cProfile: {total:.2f}s own time, by package:\n")
    for pkg, tt in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:18]:
        out.write(f"  {pkg:<40} {tt:7.2f}s  {100 * tt / total:5.1f}%\n")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
    out.write("event-loop thread top functions by own time:\n")
    out.write("\n".join(buf.getvalue().splitlines()[6:40]) + "\n")
    return out.getvalue()


def _set_version(port: int, version: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_control?version={version}", timeout=10) as resp:
        resp.read()


async def _bench(cfg: Config) -> dict[str, Any]:
    from sqlalchemy import func, select, update

    from newstalk.articles.models import Article
    from newstalk.config import Settings
    from newstalk.kit import metrics
    from newstalk.kit.db import Database, utcnow
    from newstalk.pipeline.stages import all_stages
    from newstalk.pipeline.worker import StageWorker
    from newstalk.runtime import Services
    from newstalk.sources import service as sources
    from newstalk.sources.models import Source
    from newstalk.sources.tasks import enqueue_due

    settings = Settings(
        database_url=cfg.url,
        allow_private_networks=True,
        fetch_concurrency=cfg.concurrency,
        fetch_per_host_limit=min(cfg.concurrency, 64),
        queue_batch_size=cfg.batch_size,
        parse_processes=cfg.parse_processes,
        websub_enabled=False,
    )
    services = Services.build(settings)
    if services.parse_pool is not None:
        # Start the parse processes and load their language model before the clock starts.
        from newstalk.ingestion.process import warm_up

        for future in [services.parse_pool.submit(warm_up) for _ in range(cfg.parse_processes * 2)]:
            future.result()
    if cfg.db_pool_size is not None:
        # Experiment: the same services with a bigger connection pool than Services.build's.
        await services.db.dispose()
        services.db = Database.open(settings.async_database_url, pool_size=cfg.db_pool_size)
        services.transport.db = services.db
        services.db.transport = services.transport
    timings = Timings()
    if cfg.profile:
        _instrument(services, timings)
    result: dict[str, Any] = {"database": cfg.database}
    try:
        stage = next(s for s in all_stages(settings) if s.name == "collect")
        repoll = RepollMeter(services)
        worker = StageWorker(services, dataclasses.replace(stage, handler=repoll.wrap(stage.handler)))
        repoll.wrap_worker(worker)

        async def count_articles() -> int:
            async with services.db.read() as session:
                return int(await session.scalar(select(func.count()).select_from(Article)) or 0)

        async def poll_counters() -> tuple[int, int]:
            async with services.db.read() as session:
                row = (
                    await session.execute(
                        select(func.sum(Source.fetch_count), func.sum(Source.not_modified_count))
                    )
                ).one()
                return int(row[0] or 0), int(row[1] or 0)

        async def drain() -> float:
            """Run the collect worker until its queue is empty; returns elapsed seconds."""
            start = time.perf_counter()
            deadline = start + cfg.timeout_s
            while time.perf_counter() < deadline:
                if await worker.run_once():
                    continue
                depth = {(d.stage, d.status): d.count for d in await services.transport.depth()}
                if depth.get(("collect", "dead")):
                    raise RuntimeError(f"bench: {depth[('collect', 'dead')]} collect jobs dead-lettered")
                if not depth.get(("collect", "ready")) and not depth.get(("collect", "running")):
                    return time.perf_counter() - start
                await asyncio.sleep(0.05)
            raise RuntimeError(f"bench: collect queue not drained within {cfg.timeout_s:.0f}s")

        async def poll_everything() -> int:
            async with services.db.unit() as uow:
                await uow.session.execute(
                    update(Source).values(next_fetch_at=utcnow() - timedelta(seconds=1))
                )
            enqueued = 0
            for _ in range(100):
                n = await enqueue_due(services)
                if not n:
                    break
                enqueued += n
            return enqueued

        await asyncio.to_thread(_set_version, cfg.port, 1)
        async with services.db.unit() as uow:
            for i in range(cfg.feeds):
                await sources.add_source(
                    uow, settings, None, url=f"http://127.0.0.1:{cfg.port}/feeds/{i}.xml"
                )
        log(f"{cfg.database}: subscribed {cfg.feeds} feeds; cold round")

        prof = cProfile.Profile()
        cpu0 = _cpu_s()
        if cfg.profile:
            timings.reset()
            prof.enable()
        elapsed = await drain()
        if cfg.profile:
            prof.disable()
        cold_cpu = _cpu_s() - cpu0
        articles = await count_articles()
        expected = cfg.feeds * cfg.items
        if articles != expected:
            raise AssertionError(f"bench: cold round stored {articles} articles, expected {expected}")
        async with services.db.read() as session:
            rows = (await session.execute(select(Article.first_seen_at, Article.stored_at))).all()
        lat = [(stored - seen).total_seconds() for seen, stored in rows]
        result.update(
            articles=articles,
            cold_rate=articles / elapsed,
            cold_cores=cold_cpu / elapsed,
            p50=_percentile(lat, 0.5),
            p95=_percentile(lat, 0.95),
        )
        log(f"{cfg.database}: cold {articles} articles in {elapsed:.2f}s ({articles / elapsed:.0f}/s)")
        if cfg.profile:
            dump = Path(tempfile.gettempdir()) / f"newstalk-bench-{cfg.database}-cold.prof"
            prof.dump_stats(dump)
            result["profile"] = _profile_report(prof, timings, elapsed, cold_cpu, articles)
            result["profile"] += f"raw event-loop profile: {dump}\n"

        fetches0, not_modified0 = await poll_counters()
        repoll.start()
        t0, cpu0 = time.perf_counter(), _cpu_s()
        repoll_prof = cProfile.Profile()
        if cfg.profile:
            repoll_prof.enable()
        enqueued = await poll_everything()
        await drain()
        if cfg.profile:
            repoll_prof.disable()
            repoll_prof.dump_stats(Path(tempfile.gettempdir()) / f"newstalk-bench-{cfg.database}-repoll.prof")
        repoll_s = time.perf_counter() - t0
        repoll.stop()
        repoll_cpu = _cpu_s() - cpu0
        log(f"{cfg.database}: re-poll process CPU {repoll_cpu / repoll_s:.2f} cores")
        fetches1, not_modified1 = await poll_counters()
        polls = fetches1 - fetches0
        if polls != cfg.feeds or enqueued != cfg.feeds:
            raise AssertionError(
                f"bench: re-poll enqueued {enqueued} and polled {polls} of {cfg.feeds} feeds"
            )
        if await count_articles() != articles:
            raise AssertionError("bench: re-poll of unchanged feeds stored new articles")
        result.update(
            repoll_rate=polls / repoll_s,
            repoll_s=repoll_s,
            ms_per_304=1000 * (repoll.handler_s - repoll.fetch_s) / polls,
            db_ms_per_304=1000 * repoll.db_s / polls,
            source_statements=repoll.source_statements / polls,
            statements=repoll.statements / polls,
            repoll_cpu_ms=1000 * repoll_cpu / polls,
            hit_rate=(not_modified1 - not_modified0) / polls,
        )
        log(f"{cfg.database}: re-poll {polls} polls in {repoll_s:.2f}s")

        stored_total = expected_total = 0
        update_s = 0.0
        for version in range(2, cfg.rounds):
            await asyncio.to_thread(_set_version, cfg.port, version)
            added = _feeds.NEW_PER_CHANGE * len(_feeds.changed_feeds(cfg.feeds, version, cfg.seed))
            before = await count_articles()
            t0 = time.perf_counter()
            await poll_everything()
            await drain()
            update_s += time.perf_counter() - t0
            stored = await count_articles() - before
            log(f"{cfg.database}: update round v{version}: stored {stored}, feeds added {added}")
            if stored != added:
                raise AssertionError(
                    f"bench: update round {version} stored {stored} new articles but the feeds added {added}"
                )
            stored_total += stored
            expected_total += added
        result.update(
            update_rate=stored_total / update_s if update_s else None,
            update_stored=stored_total,
            update_expected=expected_total,
        )
        failures = {
            outcome: metrics.STAGE_JOBS.labels("collect", outcome)._value.get()
            for outcome in ("retry", "dead", "lease_lost")
        }
        if any(failures.values()):
            log(f"{cfg.database}: collect job failures during the run: {failures}")
        result["failures"] = failures
    finally:
        await services.aclose()
    return result


def _pipeline_main(cfg: Config, out: Any) -> None:
    try:
        from newstalk.config import to_sync_url
        from newstalk.kit.migrate import upgrade

        upgrade(to_sync_url(cfg.url))
        result = asyncio.run(_bench(cfg))
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.put(result)
    except BaseException:
        out.put({"database": cfg.database, "error": traceback.format_exc()})


def _run_in_process(cfg: Config) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_pipeline_main, args=(cfg, out))
    proc.start()
    try:
        result: dict[str, Any] = out.get(timeout=cfg.timeout_s * (cfg.rounds + 1) + 120)
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=10)
    return result


def _pg_database(admin_url: str) -> tuple[str, str]:
    """Create a fresh database next to ``admin_url``; returns (its name, its URL)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"newstalk_bench_{uuid.uuid4().hex[:10]}"
    url = make_url(admin_url)
    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, url.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "—"
    return format(value, spec)


def _row(r: dict[str, Any]) -> list[str]:
    if "skipped" in r:
        return [r["database"], f"skipped: {r['skipped']}"] + [""] * (len(COLUMNS) - 2)
    if "error" in r:
        last = r["error"].strip().splitlines()[-1]
        return [r["database"], f"FAILED: {last}"] + [""] * (len(COLUMNS) - 2)
    return [
        r["database"],
        str(r["articles"]),
        _fmt(r["cold_rate"], ".0f"),
        _fmt(r["cold_cores"], ".2f"),
        _fmt(r["p50"], ".2f"),
        _fmt(r["p95"], ".2f"),
        _fmt(r["repoll_rate"], ".0f"),
        _fmt(r["repoll_s"], ".2f"),
        _fmt(r["ms_per_304"], ".2f"),
        _fmt(r["db_ms_per_304"], ".2f"),
        _fmt(r["source_statements"], ".1f"),
        _fmt(r["statements"], ".1f"),
        _fmt(r["repoll_cpu_ms"], ".1f"),
        _fmt(100 * r["hit_rate"], ".1f") + " %",
        _fmt(r["update_rate"], ".0f"),
        f"{r['update_stored']}/{r['update_expected']}",
        _fmt(r["rss_mb"], ".0f"),
    ]


def main(argv: list[str] | None = None) -> int:
    from newstalk.config import Settings

    DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument(
        "--rounds", type=int, default=3, help="1 cold + 1 unchanged re-poll + (rounds-2) update rounds"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULTS.fetch_concurrency, help="NEWSTALK_FETCH_CONCURRENCY"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="queue_batch_size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per round")
    parser.add_argument(
        "--profile", action="store_true", help="time each step and cProfile the cold round (stderr)"
    )
    parser.add_argument(
        "--db-pool-size",
        type=int,
        default=None,
        help="experiment: database pool size (default: what Services.build uses, 10)",
    )
    parser.add_argument(
        "--parse-processes",
        type=int,
        default=DEFAULTS.parse_processes,
        help="NEWSTALK_PARSE_PROCESSES (0: parse in a thread; --profile forces 0)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error("--rounds must be at least 3 (cold, re-poll, update)")

    server, port = _feeds.start_server(args.feeds, args.items, args.seed)
    log(f"feed server pid {server.pid} on 127.0.0.1:{port}: {args.feeds} feeds x {args.items} items")
    results: list[dict[str, Any]] = []
    try:
        for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
            common = {
                "database": database,
                "port": port,
                "feeds": args.feeds,
                "items": args.items,
                "rounds": args.rounds,
                "seed": args.seed,
                "concurrency": args.concurrency,
                "batch_size": args.batch_size,
                "timeout_s": args.timeout,
                "profile": args.profile,
                "db_pool_size": args.db_pool_size,
                "parse_processes": 0 if args.profile else args.parse_processes,
            }
            if database == "sqlite":
                with tempfile.TemporaryDirectory(prefix="newstalk-bench-") as tmp:
                    results.append(_run_in_process(Config(url=f"sqlite:///{tmp}/bench.db", **common)))
            elif database == "postgresql":
                try:
                    name, url = _pg_database(args.postgres_url)
                except Exception as exc:
                    reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
                    log(f"postgresql: skipped ({reason})")
                    results.append({"database": database, "skipped": reason})
                    continue
                try:
                    results.append(_run_in_process(Config(url=url, **common)))
                finally:
                    _drop_pg_database(args.postgres_url, name)
            else:
                parser.error(f"unknown database {database!r}; use sqlite and/or postgresql")
    finally:
        server.terminate()
        server.join(timeout=10)

    for r in results:
        if "error" in r:
            log(f"{r['database']} failed:\n{r['error']}")
        if "profile" in r:
            log(f"{r['database']} profile:\n{r['profile']}")
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(_row(r)) + " |" for r in results]
    print("\n".join(lines))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
