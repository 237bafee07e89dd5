"""Embed and stories stages benchmark: a mixed Korean/English stream of real articles through both.

Run: ``.venv/bin/python benchmarks/stories.py [--articles 10000] [--database sqlite|postgresql]
[--skip-quality] [--embed-processes 1,2] [--sustained 50 --seconds 60]``.
Prints one markdown table (metric | value) on stdout; progress goes to stderr. Articles from
``../shared/data/news`` are inserted straight into a freshly migrated database with one
``article.ingested`` event each. The ``embed`` stage runs first, as ``newstalk worker embed``
processes (1, then 2 over the same articles again): its articles/s counts from its first stored
row to its last, so model loading is left out. Then ``StageWorker`` for the ``stories`` stage
from ``all_stages(settings)`` drains its queue in this process, from the stored embeddings:
the stories stage alone. Exits 1 when any article is not in exactly one story.
``--sustained RATE`` instead runs the whole path live (embed processes and one stories process)
while articles arrive at RATE per second, and reports first-seen → story lag.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import hashlib
import json
import logging
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
NEWS = DATA / "news"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
KO_TITLE_CHARS = 40


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass(frozen=True, slots=True)
class Doc:
    dataset: str
    index: int
    language: str
    title: str
    text: str


def _ko_title(text: str) -> str:
    """The first ~40 characters, cut at a space (the soynlp corpus has no titles)."""
    if len(text) <= KO_TITLE_CHARS:
        return text
    cut = text.rfind(" ", 0, KO_TITLE_CHARS + 1)
    return text[: cut if cut > KO_TITLE_CHARS // 2 else KO_TITLE_CHARS].strip()


def read_datasets() -> dict[str, list[Doc]]:
    """Every article of the four data sets, in file order."""
    out: dict[str, list[Doc]] = {}
    with (NEWS / "bbc_news.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    out["bbc"] = [Doc("bbc", i, "en", r["title"], r["body"]) for i, r in enumerate(rows)]
    with (NEWS / "ag_news" / "test.csv").open(encoding="utf-8", newline="") as fh:
        out["ag_news"] = [
            Doc("ag_news", i, "en", title.strip(), desc.replace("\\", " ").strip())
            for i, (_label, title, desc) in enumerate(csv.reader(fh))
        ]
    lines = (NEWS / "ko-news-soynlp" / "doublespace_line_corpus_sample.txt").read_text("utf-8").splitlines()
    out["ko-news-soynlp"] = [
        Doc("ko-news-soynlp", i, "ko", _ko_title(t.strip()), t.strip())
        for i, t in enumerate(lines)
        if t.strip()
    ]
    for lang in ("ko", "en"):
        path = NEWS / "ko-en-news-parallel" / f"korean-english-park.dev.{lang}"
        sents = path.read_text("utf-8").splitlines()
        out[f"parallel-{lang}"] = [
            Doc(f"parallel-{lang}", i, lang, s.strip(), s.strip()) for i, s in enumerate(sents) if s.strip()
        ]
    return out


def build_stream(datasets: dict[str, list[Doc]], n: int, seed: int) -> list[Doc]:
    """``n`` articles in a seeded order: every small set in full, AG News fills the rest."""
    total = sum(len(v) for v in datasets.values())
    if n > total:
        raise SystemExit(f"bench: --articles {n} is more than the {total} articles the data sets hold")
    rng = random.Random(seed)
    others = [d for name, docs in datasets.items() if name != "ag_news" for d in docs]
    if n >= len(others):
        picked = others + datasets["ag_news"][: n - len(others)]
    else:
        picked = rng.sample(others + datasets["ag_news"], n)
    rng.shuffle(picked)
    return picked


class Timer:
    """Wall seconds and calls per name; wraps functions by patching module or class attributes."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.first: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def add(self, name: str, seconds: float) -> None:
        self.first.setdefault(name, seconds)
        self.wall[name] += seconds
        self.calls[name] += 1

    def patch(self, owner: Any, attr: str, name: str) -> None:
        fn = getattr(owner, attr, None)
        if fn is None:
            # src moves on; a step that no longer exists is reported as "—".
            log(f"not timed: {getattr(owner, '__name__', owner)}.{attr} does not exist")
            return
        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self.add(name, time.perf_counter() - t0)

            setattr(owner, attr, timed_async)
        else:

            @functools.wraps(fn)
            def timed(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.add(name, time.perf_counter() - t0)

            setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, fn))

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def snapshot(self) -> dict[str, float]:
        return dict(self.wall)


def instrument(timer: Timer) -> dict[str, Any]:
    """Time the stage's steps; returns a dict the refresh wrapper fills with member counts."""
    from newstalk.providers import embeddings
    from newstalk.stories import cluster, engine, neardup, service, tasks

    timer.patch(tasks, "StoryEngine", "engine build")
    # Articles the embed stage has not stored are computed by the stories stage (none here).
    timer.patch(engine.StoryEngine, "compute", "compute")
    timer.patch(tasks, "from_stored", "compute: from stored row")
    timer.patch(embeddings.E5SmallEmbeddings, "encode", "compute: embeddings")
    timer.patch(engine, "keywords", "compute: keywords")
    timer.patch(engine, "sentiment", "compute: sentiment")
    timer.patch(engine.neardup, "signature", "compute: minhash")
    timer.patch(engine, "sentences", "compute: leads")
    timer.patch(engine, "nouns", "compute: entities")
    timer.patch(engine, "features_from_title", "compute: entities")
    timer.patch(tasks, "_load_articles", "load articles")
    timer.patch(service, "assign", "assign")
    timer.patch(neardup, "find_duplicate", "assign: near-dup lookup")
    timer.patch(cluster.StoryClusterer, "assign", "assign: clusterer")
    timer.patch(service, "extractive_summary", "refresh: extractive_summary")
    timer.patch(service, "representative_title", "refresh: representative_title")
    timer.patch(service, "trending", "refresh: trending")
    stats: dict[str, Any] = {"members": 0, "max_members": 0, "refreshes": 0, "full_reads": 0}
    inner = service.refresh
    read_all = service._members

    @functools.wraps(read_all)
    async def members(*args: Any, **kwargs: Any) -> Any:
        rows = await read_all(*args, **kwargs)
        stats["full_reads"] += 1
        stats["members"] += len(rows)
        return rows

    @functools.wraps(inner)
    async def refresh(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        story = await inner(*args, **kwargs)
        timer.add("refresh", time.perf_counter() - t0)
        if story is not None:
            stats["refreshes"] += 1
            stats["max_members"] = max(stats["max_members"], story.article_count)
        return story

    service.refresh = refresh
    service._members = members
    timer._undo.append(lambda: setattr(service, "refresh", inner))
    timer._undo.append(lambda: setattr(service, "_members", read_all))
    return stats


async def insert_stream(
    services: Any,
    docs: list[Doc],
    *,
    sources: int,
    days: float,
    seed: int,
    first_id: int = 1,
    seen_at: datetime | None = None,
) -> None:
    """Sources and articles straight into the tables, one ``article.ingested`` event per article.

    ``seen_at`` given: the articles arrive now (all first seen then; sources already stored),
    ids from ``first_id``; otherwise arrivals are spread over the last ``days``.
    """
    from sqlalchemy import insert

    from newstalk.articles.models import Article
    from newstalk.kit.bus import Event
    from newstalk.pipeline.topics import ARTICLE_INGESTED as INGESTED_TOPIC
    from newstalk.sources.models import Source

    rng = random.Random(seed + 1)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=days)
    # A quarter of the outlets are Korean; each article goes to an outlet of its language.
    ko_sources = list(range(1, max(2, sources // 4) + 1))
    en_sources = [i for i in range(1, sources + 1) if i not in ko_sources] or ko_sources
    source_rows = [
        {
            "id": i,
            "feed_url": f"https://outlet{i}.example/feed.xml",
            "site_url": f"https://outlet{i}.example/",
            "title": f"Outlet {i}",
            "language": "ko" if i in ko_sources else "en",
            "fetch_interval_s": 900,
            "next_fetch_at": now + timedelta(days=365),
            "created_at": start,
            "updated_at": start,
        }
        for i in range(1, sources + 1)
    ]
    offsets = sorted(rng.uniform(0, days * 86400) for _ in docs)
    rows, events = [], []
    for article_id, (doc, offset) in enumerate(zip(docs, offsets, strict=True), first_id):
        first_seen = seen_at or start + timedelta(seconds=offset)
        source_id = rng.choice(ko_sources if doc.language == "ko" else en_sources)
        digest = hashlib.sha256(f"{doc.dataset}:{doc.index}:{doc.title}\n{doc.text}".encode()).hexdigest()
        rows.append(
            {
                "id": article_id,
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
                "published_at": first_seen - timedelta(seconds=rng.uniform(0, 1800)),
                "first_seen_at": first_seen,
                "stored_at": first_seen,
            }
        )
        payload = {
            "article_id": article_id,
            "source_id": source_id,
            "content_hash": digest,
            "language": doc.language,
        }
        events.append(Event(INGESTED_TOPIC, digest, payload, first_seen))
    async with services.db.unit() as uow:
        if seen_at is None:
            await uow.session.execute(insert(Source), source_rows)
        for i in range(0, len(rows), 1000):
            await uow.session.execute(insert(Article), rows[i : i + 1000])
        for ev in events:
            uow.emit(ev)


def start_worker(url: str, stage: str, tag: str) -> subprocess.Popen[bytes]:
    """``newstalk worker STAGE`` on the benchmark's database, in a process of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    env.update(
        NEWSTALK_DATABASE_URL=url,
        NEWSTALK_LOG_LEVEL="warning",
        PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
    )
    errors = Path(tempfile.gettempdir()) / f"newstalk-bench-{stage}-{tag}-{os.getpid()}.log"
    with errors.open("wb") as fh:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-c", "from newstalk.cli import app; app()", "worker", stage],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=fh,
        )


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def run_embed(url: str, services: Any, n: int, processes: int) -> dict[str, Any]:
    """Drain the embed queue with ``processes`` worker processes; articles/s from first to last stored row."""
    from sqlalchemy import func, select

    from newstalk.stories.models import ArticleEmbedding

    async def stored() -> int:
        async with services.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(ArticleEmbedding)) or 0)

    procs = [start_worker(url, "embed", str(i)) for i in range(processes)]
    cpu0 = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    started = time.perf_counter()
    first_at = first_n = None
    last_log = started
    try:
        while True:
            done = await stored()
            now = time.perf_counter()
            if done and first_at is None:
                first_at, first_n = now, done
            if done >= n:
                break
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"bench: an embed worker exited early ({[p.returncode for p in procs]})")
            if now - last_log > 15:
                last_log = now
                log(f"embed x{processes}: {done}/{n} stored; load {loadavg()}")
            await asyncio.sleep(0.2)
    finally:
        stop_workers(procs)
    end = time.perf_counter()
    assert first_at is not None
    assert first_n is not None
    rate = (n - first_n) / (end - first_at) if end > first_at else float("nan")
    cpu = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]) - cpu0
    log(f"embed x{processes}: {rate:.1f} articles/s steady ({end - started:.0f}s wall, {cpu:.0f}s CPU)")
    return {
        "processes": processes,
        "rate": rate,
        "wall_s": end - started,
        "first_s": first_at - started,
        "cpu_s": cpu,
        "load": loadavg(),
    }


async def requeue_embed(services: Any) -> None:
    """Forget the stored embeddings and queue every article for the embed stage again."""
    from sqlalchemy import delete, select

    from newstalk.articles.models import Article
    from newstalk.kit.bus import Event
    from newstalk.pipeline.topics import ARTICLE_INGESTED as INGESTED_TOPIC
    from newstalk.stories.models import ArticleEmbedding

    async with services.db.unit() as uow:
        await uow.session.execute(delete(ArticleEmbedding))
        rows = (
            await uow.session.execute(
                select(
                    Article.id,
                    Article.source_id,
                    Article.content_hash,
                    Article.language,
                    Article.first_seen_at,
                )
            )
        ).all()
        for r in rows:
            payload = {
                "article_id": r.id,
                "source_id": r.source_id,
                "content_hash": r.content_hash,
                "language": r.language,
            }
            uow.emit(Event(INGESTED_TOPIC, r.content_hash, payload, r.first_seen_at))


async def run_sustained(args: argparse.Namespace, url: str, docs: list[Doc]) -> list[tuple[str, str, str]]:
    """Articles arrive at ``--sustained`` per second for ``--seconds`` through live embed and stories
    worker processes; first-seen → placed-in-a-story lag per article (``story_articles.added_at``)."""
    from sqlalchemy import func, select

    from newstalk.articles.models import Article
    from newstalk.config import Settings
    from newstalk.runtime import Services
    from newstalk.stories.models import StoryArticle

    services = Services.build(Settings(database_url=url, parse_processes=0))

    async def placed() -> int:
        async with services.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(StoryArticle)) or 0)

    procs = [start_worker(url, "embed", str(i)) for i in range(args.embed_workers)]
    procs.append(start_worker(url, "stories", "0"))
    tick = 0.2
    per_tick = max(1, round(args.sustained * tick))
    total = min(len(docs) - 1, int(args.sustained * args.seconds))
    try:
        # One article first, to wait out the workers' model loading (not counted).
        await insert_stream(services, docs[:1], sources=args.sources, days=args.days, seed=args.seed)
        warm_deadline = time.perf_counter() + 600
        while await placed() < 1:
            if time.perf_counter() > warm_deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("bench: the workers did not place the warm-up article")
            await asyncio.sleep(0.2)
        log(f"workers warm; {total} articles at {args.sustained}/s; load {loadavg()}")
        load_start = loadavg()
        started = time.perf_counter()
        sent = 0
        while sent < total:
            chunk = docs[1 + sent : 1 + min(total, sent + per_tick)]
            await insert_stream(
                services,
                chunk,
                sources=args.sources,
                days=args.days,
                seed=args.seed + sent,
                first_id=2 + sent,
                seen_at=datetime.now(UTC),
            )
            sent += len(chunk)
            await asyncio.sleep(max(0.0, started + sent / args.sustained - time.perf_counter()))
        offered_s = time.perf_counter() - started
        deadline = time.perf_counter() + 900
        while time.perf_counter() < deadline:
            if await placed() >= total + 1:
                break
            await asyncio.sleep(0.5)
        drained_s = time.perf_counter() - started
        async with services.db.read() as session:
            rows = (
                await session.execute(
                    select(StoryArticle.added_at, Article.first_seen_at)
                    .join(Article, Article.id == StoryArticle.article_id)
                    .where(Article.id > 1)
                )
            ).all()
    finally:
        stop_workers(procs)
        await services.aclose()
    lags = sorted((added - seen).total_seconds() for added, seen in rows)

    def pct(q: float) -> str:
        return f"{lags[min(len(lags) - 1, int(q * len(lags)))]:.1f}" if lags else "—"

    sec = f"sustained {args.sustained:g} articles/s"
    return [
        (sec, "workers", f"{args.embed_workers} embed + 1 stories process"),
        (sec, "articles offered / placed in a story", f"{total} / {len(lags)}"),
        (sec, "offered over s / all placed after s", f"{offered_s:.0f} / {drained_s:.0f}"),
        (sec, "first-seen → story lag p50 / p95 / max s", f"{pct(0.5)} / {pct(0.95)} / {pct(1.0)}"),
        ("machine", "load average 1/5/15 min at start / end", f"{load_start} → {loadavg()}"),
    ]


async def run_stage(args: argparse.Namespace, url: str, docs: list[Doc]) -> dict[str, Any]:
    from sqlalchemy import func, select

    from newstalk.config import Settings
    from newstalk.kit import metrics
    from newstalk.pipeline.stages import all_stages
    from newstalk.pipeline.worker import StageWorker
    from newstalk.runtime import Services
    from newstalk.stories.models import ArticleFeatures, Story, StoryArticle

    settings = Settings(database_url=url, parse_processes=0)
    services = Services.build(settings)
    timer = Timer()
    refresh_stats = instrument(timer)
    r: dict[str, Any] = {"batch_size": settings.queue_batch_size, "window_h": settings.story_window_h}
    try:
        t0 = time.perf_counter()
        await insert_stream(services, docs, sources=args.sources, days=args.days, seed=args.seed)
        r["insert_s"] = time.perf_counter() - t0
        log(f"inserted {len(docs)} articles and events in {r['insert_s']:.1f}s; load {loadavg()}")
        r["embed"] = []
        for i, procs in enumerate(args.embed_processes):
            if i:
                await requeue_embed(services)
            r["embed"].append(await run_embed(url, services, len(docs), procs))

        stage = next(s for s in all_stages(settings) if s.name == "stories")
        worker = StageWorker(services, stage)
        r["load_start"] = loadavg()
        cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        start = time.perf_counter()
        first_n = await worker.run_once()
        first_s = time.perf_counter() - start
        warm = timer.snapshot()
        cpu_warm = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        log(f"first batch: {first_n} articles in {first_s:.1f}s (engine build + model load)")
        done, batches, last_log = first_n, 1, time.perf_counter()
        while True:
            n = await worker.run_once()
            if not n:
                depth = {(d.stage, d.status): d.count for d in await services.transport.depth()}
                if depth.get(("stories", "dead")):
                    raise RuntimeError(f"bench: {depth[('stories', 'dead')]} stories jobs dead-lettered")
                if not depth.get(("stories", "ready")) and not depth.get(("stories", "running")):
                    break
                await asyncio.sleep(0.05)
                continue
            done += n
            batches += 1
            if time.perf_counter() - last_log > 15:
                last_log = time.perf_counter()
                rate = (done - first_n) / (last_log - start - first_s)
                log(f"{done}/{len(docs)} articles, {rate:.1f}/s steady; load {loadavg()}")
        total_s = time.perf_counter() - start
        cpu_end = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        r["cpu_cores"] = (cpu_end - cpu0) / total_s
        r["steady_cpu_s"] = cpu_end - cpu_warm
        r["load_end"] = loadavg()
        r["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        timer.restore()
        r.update(
            articles=len(docs),
            total_s=total_s,
            first_n=first_n,
            first_s=first_s,
            batches=batches,
            warm=warm,
            steady={k: v - warm.get(k, 0.0) for k, v in timer.wall.items()},
            calls=dict(timer.calls),
            first=dict(timer.first),
            refresh_stats=refresh_stats,
            failures={
                outcome: metrics.STAGE_JOBS.labels("stories", outcome)._value.get()
                for outcome in ("retry", "dead", "lease_lost")
            },
        )
        async with services.db.read() as session:
            placed = int(await session.scalar(select(func.count()).select_from(StoryArticle)) or 0)
            distinct = int(
                await session.scalar(select(func.count(func.distinct(StoryArticle.article_id)))) or 0
            )
            stories = int(await session.scalar(select(func.count()).select_from(Story)) or 0)
            counted = int(await session.scalar(select(func.sum(Story.article_count))) or 0)
            dups = int(
                await session.scalar(
                    select(func.count())
                    .select_from(ArticleFeatures)
                    .where(ArticleFeatures.duplicate_of_id.is_not(None))
                )
                or 0
            )
            sizes = (await session.scalars(select(Story.article_count))).all()
        r.update(placed=placed, stories=stories, dups=dups, counted=counted)
        r["singletons"] = sum(1 for s in sizes if s == 1)
        r["max_story"] = max(sizes, default=0)
        r["multi_articles"] = sum(s for s in sizes if s > 1)
        if placed != len(docs) or distinct != len(docs) or counted != len(docs):
            raise AssertionError(
                f"bench: {len(docs)} articles, but story_articles has {placed} rows for {distinct} articles "
                f"and the stories' article_count sums to {counted}; every article must be in exactly one story"
            )
    finally:
        timer.restore()
        await services.aclose()
    return r


def quality() -> tuple[list[tuple[str, str, str]], bool]:
    """Rows for the three evaluations; each failure becomes a FAILED row (and the run exits 1)."""
    rows: list[tuple[str, str, str]] = []
    failed = False

    def run(section: str, fn: Callable[[], dict[str, Any]], keys: list[tuple[str, str]]) -> None:
        nonlocal failed
        t0 = time.perf_counter()
        try:
            res = fn()
        except Exception:
            log(f"{section} failed:\n{traceback.format_exc()}")
            rows.append((section, "FAILED", traceback.format_exc().strip().splitlines()[-1]))
            failed = True
            return
        log(f"{section}: {res} ({time.perf_counter() - t0:.0f}s)")
        for label, key in keys:
            value = " / ".join(str(res[k]) for k in key.split(","))
            rows.append((section, label, value))
        rows.append((section, "evaluation wall s", f"{time.perf_counter() - t0:.0f}"))

    def bbc() -> dict[str, Any]:
        from newstalk.stories.evaluate.bbc import evaluate_bbc

        return evaluate_bbc(NEWS / "bbc_news.jsonl")

    def _uci_half(half: str) -> dict[str, Any]:
        from newstalk.stories.evaluate.uci import evaluate_uci

        return evaluate_uci(NEWS / "uci-news-aggregator-head.csv", half=half)

    def uci() -> dict[str, Any]:
        from newstalk.stories.evaluate.uci import evaluate_uci

        return evaluate_uci(NEWS / "uci-news-aggregator-head.csv")

    def fnc1() -> dict[str, Any]:
        from newstalk.stories.evaluate.fnc1 import evaluate_fnc1

        return evaluate_fnc1(DATA / "factcheck" / "fnc-1-dev")

    run(
        "quality (BBC near-dup)",
        bbc,
        [
            ("dup_precision", "dup_precision"),
            ("dup_recall", "dup_recall"),
            ("dup_f1", "dup_f1"),
            ("gold / found / true pairs", "gold_pairs,found_pairs,true_pairs"),
        ],
    )
    run(
        "quality (UCI clustering)",
        uci,
        [
            ("bcubed_precision", "bcubed_precision"),
            ("bcubed_recall", "bcubed_recall"),
            ("bcubed_f1", "bcubed_f1"),
            ("clusters gold / found", "clusters_gold,clusters_found"),
        ],
    )
    for half, role in (("A", "threshold tuned here"), ("B", "held out")):
        run(
            f"quality (UCI half {half}, {role})",
            functools.partial(_uci_half, half),
            [
                ("bcubed_precision / recall / f1", "bcubed_precision,bcubed_recall,bcubed_f1"),
                ("rows / clusters gold / found", "n,clusters_gold,clusters_found"),
            ],
        )
    run(
        "quality (FNC-1 related)",
        fnc1,
        [
            ("related_accuracy", "related_accuracy"),
            ("related_precision / recall", "related_precision,related_recall"),
            ("pairs / folds", "n,folds"),
        ],
    )
    return rows, failed


def _ms(seconds: float, n: int) -> str:
    return f"{1000 * seconds / n:.2f}" if n else "—"


def throughput_rows(r: dict[str, Any], per_dataset: dict[str, int]) -> list[tuple[str, str, str]]:
    s = r["steady"]
    n = r["articles"] - r["first_n"]
    steady_s = r["total_s"] - r["first_s"]
    compute = s.get("compute", 0.0)
    emb = s.get("compute: embeddings", 0.0)
    assign = s.get("assign", 0.0)
    refresh = s.get("refresh", 0.0)
    load = s.get("load articles", 0.0)
    other = steady_s - compute - assign - refresh - load
    rs = r["refresh_stats"]
    embed_rows = []
    for e in r["embed"]:
        label = f"{e['processes']} process{'es' if e['processes'] > 1 else ''}"
        embed_rows += [
            ("embed stage", f"articles/s steady, {label} (first stored row → last)", f"{e['rate']:.1f}"),
            (
                "embed stage",
                f"{label}: worker CPU ms/article (model load included)",
                _ms(e["cpu_s"], r["articles"]),
            ),
            (
                "embed stage",
                f"{label}: wall s / s to first stored row (model load) / worker CPU s / load 1/5/15 after",
                f"{e['wall_s']:.0f} / {e['first_s']:.0f} / {e['cpu_s']:.0f} / {e['load']}",
            ),
        ]
    sec = "stories stage (from stored embeddings)"
    return [
        (
            "embed stage",
            "articles",
            f"{r['articles']} ({', '.join(f'{k} {v}' for k, v in per_dataset.items())})",
        ),
        *embed_rows,
        (
            sec,
            "batch size / batches / story window",
            f"{r['batch_size']} / {r['batches']} / {r['window_h']} h",
        ),
        (sec, "articles/s steady state (after the first batch)", f"{n / steady_s:.1f}"),
        (sec, "articles/s overall (incl. engine build + model load)", f"{r['articles'] / r['total_s']:.1f}"),
        (
            sec,
            "wall s total / first batch / steady",
            f"{r['total_s']:.1f} / {r['first_s']:.1f} / {steady_s:.1f}",
        ),
        (
            sec,
            "first batch: engine build s / first encode s",
            f"{r['first'].get('engine build', 0.0):.1f} / {r['first'].get('compute: embeddings', 0.0):.1f}",
        ),
        (
            sec,
            "cores the process may use (sched_getaffinity; `taskset -c 0` for one)",
            str(len(os.sched_getaffinity(0))),
        ),
        (sec, "process CPU (cores) during the drain", f"{r['cpu_cores']:.2f}"),
        (
            sec,
            "steady CPU ms/article / articles per CPU-second (what one free core would do)",
            f"{_ms(r['steady_cpu_s'], n)} / {n / r['steady_cpu_s']:.1f}" if r["steady_cpu_s"] else "—",
        ),
        (sec, "peak RSS MB (ru_maxrss)", f"{r['rss_mb']:.0f}"),
        (
            "steady ms/article",
            "compute in the stories stage (articles with no stored row; thread)",
            _ms(compute, n),
        ),
        ("steady ms/article", "· embeddings (e5-small, titles)", _ms(emb, n)),
        ("steady ms/article", "· keywords", _ms(s.get("compute: keywords", 0.0), n)),
        ("steady ms/article", "· sentiment", _ms(s.get("compute: sentiment", 0.0), n)),
        ("steady ms/article", "· minhash", _ms(s.get("compute: minhash", 0.0), n)),
        (
            "steady ms/article",
            "· leads + entities",
            _ms(s.get("compute: leads", 0.0) + s.get("compute: entities", 0.0), n),
        ),
        ("steady ms/article", "assign total", _ms(assign, n)),
        ("steady ms/article", "· near-dup lookup", _ms(s.get("assign: near-dup lookup", 0.0), n)),
        ("steady ms/article", "· clusterer.assign", _ms(s.get("assign: clusterer", 0.0), n)),
        ("steady ms/article", "refresh total", _ms(refresh, n)),
        ("steady ms/article", "· extractive_summary", _ms(s.get("refresh: extractive_summary", 0.0), n)),
        ("steady ms/article", "· representative_title", _ms(s.get("refresh: representative_title", 0.0), n)),
        ("steady ms/article", "· trending", _ms(s.get("refresh: trending", 0.0), n)),
        ("steady ms/article", "load articles and stored rows", _ms(load, n)),
        ("steady ms/article", "· stored row → features", _ms(s.get("compute: from stored row", 0.0), n)),
        ("steady ms/article", "other (claim, baselines, commit, queue)", _ms(other, n)),
        (
            sec,
            "refresh calls / full member reads / member rows read / largest story refreshed",
            f"{rs['refreshes']} / {rs['full_reads']} / {rs['members']} / {rs['max_members']}",
        ),
        ("result", "stories created", str(r["stories"])),
        (
            "result",
            "stories with 1 article / articles in stories of 2+ / largest story",
            f"{r['singletons']} / {r['multi_articles']} / {r['max_story']}",
        ),
        ("result", "near-duplicates linked", str(r["dups"])),
        ("result", "articles in exactly one story", f"{r['placed']} of {r['articles']}"),
        (
            "result",
            "job retries / dead / lease lost",
            " / ".join(str(int(v)) for v in r["failures"].values()),
        ),
        ("machine", "load average 1/5/15 min at start / end", f"{r['load_start']} → {r['load_end']}"),
    ]


async def _amain(args: argparse.Namespace, url: str, docs: list[Doc]) -> dict[str, Any]:
    return await run_stage(args, url, docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_PG, help="admin URL; a fresh database is created")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--days", type=float, default=4.0, help="arrival times spread over this many days")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--embed-processes",
        type=lambda v: [int(x) for x in v.split(",") if x],
        default=[1, 2],
        help="embed worker process counts to measure, in turn (comma-separated)",
    )
    parser.add_argument("--sustained", type=float, default=0.0, help="articles/s arriving live (lag mode)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long articles arrive in lag mode")
    parser.add_argument("--embed-workers", type=int, default=2, help="embed processes in lag mode")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from newstalk.config import to_sync_url
    from newstalk.kit.migrate import upgrade

    datasets = read_datasets()
    docs = build_stream(datasets, args.articles, args.seed)
    per_dataset: dict[str, int] = defaultdict(int)
    for d in docs:
        per_dataset[d.dataset] += 1
    log(f"stream: {len(docs)} articles {dict(per_dataset)}; load {loadavg()}")

    rows: list[tuple[str, str, str]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="newstalk-bench-stories-") as tmp:
        pg_name = None
        if args.database == "sqlite":
            url = f"sqlite:///{tmp}/stories.db"
        else:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from ingest import _drop_pg_database, _pg_database

            pg_name, url = _pg_database(args.postgres_url)
        try:
            upgrade(to_sync_url(url))
            if args.sustained:
                rows += asyncio.run(run_sustained(args, url, docs))
                args.skip_quality = True
            else:
                result = asyncio.run(_amain(args, url, docs))
                rows += throughput_rows(result, dict(per_dataset))
            log("stage rows:\n" + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows))
        except Exception:
            log(f"stage run failed:\n{traceback.format_exc()}")
            rows.append(("result", "FAILED", traceback.format_exc().strip().splitlines()[-1]))
            failed = True
        finally:
            if pg_name is not None:
                _drop_pg_database(args.postgres_url, pg_name)
    if not args.skip_quality and not failed:
        quality_rows, quality_failed = quality()
        rows += quality_rows
        failed = failed or quality_failed
        rows.append(("machine", "load average 1/5/15 min after quality", loadavg()))
    print(f"| section | metric ({args.database}) | value |")
    print("|---|---|---|")
    for section, metric, value in rows:
        print(f"| {section} | {metric} | {value} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
