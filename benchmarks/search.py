"""Search benchmark: 100,000 real-text Korean and English articles, full-text and semantic queries.

Run: ``flock /tmp/newstalk-heavy.lock nice -n 5 .venv/bin/python benchmarks/search.py
[--articles 100000] [--database sqlite|postgresql] [--queries 200] [--rebuild]``.

The corpus: every article of ``../shared/data/news`` (BBC, AG News, UCI headlines, the
soynlp Korean sample, both sides of the Korean-English parallel sentences), about 12,800
distinct documents, repeated until there are ``--articles``: each repeat keeps the
headline (as outlets rerunning wire copy do) and takes the body's sentences in another
order plus one or two sentences of another document in the same language, so no two
articles have the same text. Korean documents are repeated three times as often as
English ones so about a third of the articles are Korean. Every distinct headline is
embedded once with e5-small (the stories stage embeds headlines); a repeat gets its
original's vector plus a little seeded noise. Each distinct document is one story.

The database (articles, features, stories) and the vectors are cached under
``$TMPDIR/newstalk-bench-search/`` (outside git), with the index build time measured when
the index was built; ``--rebuild`` builds again. Queries go through ``search.service``
(what the endpoint calls; HTTP overhead is benchmarks/api.py's subject). Prints one
markdown table on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import random
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from stories import Doc, loadavg, log, read_datasets  # noqa: E402

CACHE = Path(os.environ.get("NEWSTALK_BENCH_CACHE", Path(tempfile.gettempdir()) / "newstalk-bench-search"))
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
CORPUS_VERSION = 1
KO_WEIGHT = 3
OUTLETS = {"en": 12, "ko": 8}
DAYS = 30
CONCURRENT = 8
NOISE = 0.02
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\s{2,}")


@dataclass(frozen=True, slots=True)
class Article:
    base: int
    title: str
    body: str
    language: str


def distinct_docs() -> list[Doc]:
    """Every distinct document of the data sets (UCI headlines included), deduplicated by title."""
    datasets = read_datasets()
    import csv

    with (BENCH.parent.parent / "shared" / "data" / "news" / "uci-news-aggregator-head.csv").open(
        encoding="utf-8", newline=""
    ) as fh:
        uci = [
            Doc("uci", i, "en", r["TITLE"].strip(), r["TITLE"].strip())
            for i, r in enumerate(csv.DictReader(fh))
        ]
    seen: set[str] = set()
    out = []
    for doc in [d for docs in datasets.values() for d in docs] + uci:
        if doc.title and doc.title not in seen:
            seen.add(doc.title)
            out.append(doc)
    return out


def make_articles(docs: list[Doc], n: int, seed: int) -> list[Article]:
    """``n`` articles: every document once, then seeded rewrites (see the module docstring)."""
    rng = random.Random(seed)
    by_lang: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        by_lang.setdefault(d.language, []).append(i)
    weights = [KO_WEIGHT if d.language == "ko" else 1 for d in docs]
    out = [Article(i, d.title, d.text, d.language) for i, d in enumerate(docs)][:n]
    while len(out) < n:
        base = rng.choices(range(len(docs)), weights=weights)[0]
        doc = docs[base]
        sentences = [s for s in _SENTENCE.split(doc.text) if s.strip()]
        rng.shuffle(sentences)
        for _ in range(rng.randint(1, 2)):
            other = docs[rng.choice(by_lang[doc.language])]
            extra = [s for s in _SENTENCE.split(other.text) if s.strip()]
            sentences.insert(rng.randint(0, len(sentences)), rng.choice(extra))
        out.append(Article(base, doc.title, " ".join(sentences), doc.language))
    return out


def embed_titles(docs: list[Doc]) -> np.ndarray:
    """e5-small vectors of every distinct headline, cached by content."""
    key = hashlib.sha256("\n".join(d.title for d in docs).encode()).hexdigest()[:16]
    path = CACHE / f"titles-{key}.npy"
    if path.exists():
        return np.load(path)
    from newstalk.providers.embeddings import E5SmallEmbeddings
    from newstalk.stories.engine import embedding_text

    model = E5SmallEmbeddings()
    out = np.zeros((len(docs), 384), dtype=np.float32)
    started = time.monotonic()
    for start in range(0, len(docs), 256):
        chunk = docs[start : start + 256]
        out[start : start + len(chunk)] = model.encode([embedding_text(d.title, []) for d in chunk])
        log(f"embedding headlines {start + len(chunk)}/{len(docs)} ({time.monotonic() - started:.0f} s)")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


async def populate(
    url: str, docs: list[Doc], articles: list[Article], vectors: np.ndarray, seed: int
) -> None:
    """Insert sources, articles, their features and one story per distinct document."""
    from sqlalchemy import insert

    from newstalk.articles.models import Article as ArticleRow
    from newstalk.config import to_async_url
    from newstalk.kit.db import Database
    from newstalk.sources.models import Source
    from newstalk.stories.models import ArticleFeatures, Story, StoryArticle
    from newstalk.stories.text import sentences

    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    db = Database.open(to_async_url(url))
    sources: dict[str, list[int]] = {}
    async with db.unit() as uow:
        for lang, count in OUTLETS.items():
            for k in range(count):
                src = Source(
                    feed_url=f"http://bench.invalid/{lang}/{k}.xml",
                    title=f"{lang}-outlet-{k}",
                    language=lang,
                    fetch_interval_s=900,
                    next_fetch_at=now,
                    created_at=now,
                    updated_at=now,
                )
                uow.session.add(src)
                await uow.session.flush()
                sources.setdefault(lang, []).append(src.id)
    members: dict[int, list[tuple[int, int, datetime]]] = {}
    started = time.monotonic()
    for start in range(0, len(articles), 5000):
        chunk = articles[start : start + 5000]
        rows, feats = [], []
        for offset, a in enumerate(chunk):
            i = start + offset
            published = now - timedelta(seconds=float(rng.uniform(0, DAYS * 86400)))
            source = sources["ko" if a.language == "ko" else "en"][
                i % OUTLETS["ko" if a.language == "ko" else "en"]
            ]
            rows.append(
                {
                    "id": i + 1,
                    "source_id": source,
                    "url": f"http://bench.invalid/a/{i}",
                    "content_hash": hashlib.sha256(f"{i}:{a.title}:{a.body}".encode()).hexdigest(),
                    "title": a.title,
                    "summary": "",
                    "content_html": "",
                    "content_text": a.body,
                    "language": a.language,
                    "published_at": published,
                    "first_seen_at": published,
                    "stored_at": published,
                }
            )
            vec = vectors[a.base] if i < len(docs) else vectors[a.base] + rng.normal(0, NOISE, 384)
            vec = (vec / np.linalg.norm(vec)).astype(np.float32)
            feats.append(
                {"article_id": i + 1, "minhash": b"", "embedding": vec.tobytes(), "computed_at": published}
            )
            members.setdefault(a.base, []).append((i + 1, source, published))
        async with db.unit() as uow:
            await uow.session.execute(insert(ArticleRow), rows)
            await uow.session.execute(insert(ArticleFeatures), feats)
        log(f"articles {start + len(chunk)}/{len(articles)} ({time.monotonic() - started:.0f} s)")
    story_rows, links = [], []
    for base, items in members.items():
        doc = docs[base]
        seen = [t for _, _, t in items]
        story_rows.append(
            {
                "id": base + 1,
                "status": "open",
                "title": doc.title,
                "summary": sentences(doc.text, doc.language)[:2],
                "keywords": [],
                "languages": [doc.language],
                "category": None,
                "article_count": len(items),
                "outlet_count": len({s for _, s, _ in items}),
                "trending_score": 0.0,
                "centroid": vectors[base].astype(np.float32).tobytes(),
                "first_seen_at": min(seen),
                "last_seen_at": max(seen),
                "version": 1,
                "created_at": min(seen),
                "updated_at": max(seen),
            }
        )
        links += [{"article_id": a, "story_id": base + 1, "score": 1.0, "added_at": t} for a, _, t in items]
    for start in range(0, len(story_rows), 5000):
        async with db.unit() as uow:
            await uow.session.execute(insert(Story), story_rows[start : start + 5000])
    for start in range(0, len(links), 10000):
        async with db.unit() as uow:
            await uow.session.execute(insert(StoryArticle), links[start : start + 10000])
    await db.dispose()


async def build_index(url: str) -> dict[str, float]:
    """Run the real rebuild (``newstalk search reindex``) and time it."""
    from newstalk.config import to_async_url
    from newstalk.kit.db import Database
    from newstalk.search.service import reindex

    db = Database.open(to_async_url(url))
    marks: dict[str, float] = {}

    def progress(what: str, done: int, total: int, elapsed: float) -> None:
        marks[what] = elapsed
        marks[f"{what}_n"] = done
        if done == total or done % 10000 < 1000:
            log(f"index {what} {done}/{total} ({done / max(elapsed, 1e-9):.0f}/s)")

    started = time.monotonic()
    await reindex(db, batch=1000, progress=progress)
    marks["total"] = time.monotonic() - started
    await db.dispose()
    if db.dialect == "postgresql":
        # Settle what autovacuum would do over the next minutes (measured: hybrid p95 198 ms
        # while it ran right after the build, 50 ms after), so a run times queries, not vacuum.
        import psycopg
        from sqlalchemy.engine import make_url

        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    return marks


async def index_size(url: str) -> int:
    """Bytes of the search tables and their indexes."""
    from sqlalchemy import text

    from newstalk.config import to_async_url
    from newstalk.kit.db import Database

    db = Database.open(to_async_url(url))
    async with db.read() as session:
        if db.dialect == "sqlite":
            size = await session.scalar(
                text(
                    "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search%' OR name LIKE 'ix_search%' "
                    "OR name LIKE 'sqlite_autoindex_search_docs%'"
                )
            )
        else:
            size = await session.scalar(text("SELECT pg_total_relation_size('search_docs')"))
    await db.dispose()
    return int(size or 0)


def make_queries(docs: list[Doc], n: int, seed: int) -> dict[str, list[str]]:
    """Two or three words of real headlines, as people type them (Korean words keep their particles)."""
    rng = random.Random(seed + 1)
    stop = {"the", "a", "an", "of", "to", "in", "on", "for", "and", "is", "at", "by", "with", "as", "from"}
    out: dict[str, list[str]] = {"en": [], "ko": []}
    for lang in out:
        pool = [d for d in docs if d.language == lang]
        while len(out[lang]) < n:
            words = [w for w in re.findall(r"\w+", rng.choice(pool).title) if w.casefold() not in stop]
            if len(words) >= 2:
                k = min(len(words), rng.randint(2, 3))
                start = rng.randint(0, len(words) - k)
                out[lang].append(" ".join(words[start : start + k]))
    return out


async def measure(
    url: str, queries: dict[str, list[str]]
) -> tuple[list[tuple[str, list[float], int, float]], dict[str, Any]]:
    """Latency per query type through search.service.search, after one warm-up query each."""
    from newstalk.config import Settings
    from newstalk.runtime import Services
    from newstalk.search import service
    from newstalk.search.repository import Filters

    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    services = Services.build(settings)
    info: dict[str, Any] = {}
    try:
        started = time.monotonic()
        index = await service.refresh_vectors(services, full=True)
        info["load_s"] = time.monotonic() - started
        info["rows"] = len(index)
        info["bytes"] = index.nbytes
        await service.encoder(services)
        mixed = [q for pair in zip(queries["en"], queries["ko"], strict=True) for q in pair]
        week = datetime.now(UTC) - timedelta(days=7)
        cases = [
            ("text, English", queries["en"], "text", Filters()),
            ("text, Korean", queries["ko"], "text", Filters()),
            ("semantic (en+ko, incl. e5 query encoding)", mixed, "semantic", Filters()),
            ("hybrid (en+ko)", mixed, "hybrid", Filters()),
            (
                "hybrid + filters (articles, ko, last 7 days)",
                queries["ko"],
                "hybrid",
                Filters(kind="article", language="ko", since=week),
            ),
            (
                "text + filters (stories, en, last 7 days)",
                queries["en"],
                "text",
                Filters(kind="story", language="en", since=week),
            ),
        ]
        results = []
        for name, qs, mode, flt in cases:
            await service.search(
                services, service.SearchRequest(q=qs[0], mode=mode, filters=flt, limit=20, offset=0)
            )  # type: ignore[arg-type]
            times, hits = [], 0
            cpu0 = time.process_time()
            for q in qs[: len(queries["en"])]:
                t0 = time.perf_counter()
                page, _ = await service.search(
                    services,
                    service.SearchRequest(q=q, mode=mode, filters=flt, limit=20, offset=0),  # type: ignore[arg-type]
                )
                times.append((time.perf_counter() - t0) * 1000)
                hits += bool(page.items)
            cpu_ms = (time.process_time() - cpu0) * 1000 / len(times)
            results.append((name, times, hits, cpu_ms))
            log(f"{name}: p50 {np.percentile(times, 50):.1f} ms p95 {np.percentile(times, 95):.1f} ms")
        # Several listeners at once: CONCURRENT hybrid queries in flight in one process (the
        # API's shape); shows whether one query's CPU work stalls the others' event loop.
        name = f"hybrid (en+ko), {CONCURRENT} queries in flight"
        gate = asyncio.Semaphore(CONCURRENT)

        async def one(q: str) -> tuple[float, bool]:
            async with gate:
                t0 = time.perf_counter()
                page, _ = await service.search(
                    services,
                    service.SearchRequest(q=q, mode="hybrid", filters=Filters(), limit=20, offset=0),
                )
                return (time.perf_counter() - t0) * 1000, bool(page.items)

        cpu0, wall0 = time.process_time(), time.perf_counter()
        done = await asyncio.gather(*(one(q) for q in mixed[: len(queries["en"])]))
        wall = time.perf_counter() - wall0
        times = [t for t, _ in done]
        cpu_ms = (time.process_time() - cpu0) * 1000 / len(times)
        info["concurrent_qps"] = len(times) / wall
        results.append((name, times, sum(h for _, h in done), cpu_ms))
        log(f"{name}: p50 {np.percentile(times, 50):.1f} ms p95 {np.percentile(times, 95):.1f} ms")
    finally:
        await services.aclose()
    return results, info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_PG, help="admin URL; the cached database is created beside it"
    )
    parser.add_argument("--queries", type=int, default=200, help="queries per type")
    parser.add_argument("--rebuild", action="store_true", help="build the database and index again")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from newstalk.config import to_sync_url
    from newstalk.kit.migrate import upgrade

    CACHE.mkdir(parents=True, exist_ok=True)
    docs = distinct_docs()
    if args.articles < len(docs):
        docs = random.Random(args.seed).sample(docs, args.articles)
    key = f"v{CORPUS_VERSION}-{args.articles}-{args.seed}"
    meta_path = CACHE / f"{args.database}-{key}.json"
    if args.database == "sqlite":
        url = f"sqlite:///{CACHE / f'search-{key}.db'}"
    else:
        from sqlalchemy.engine import make_url

        url = (
            make_url(args.postgres_url)
            .set(database=f"newstalk_bench_search_{key.replace('-', '_')}")
            .render_as_string(hide_password=False)
        )
    meta: dict[str, Any] = (
        json.loads(meta_path.read_text()) if meta_path.exists() and not args.rebuild else {}
    )
    if not meta:
        vectors = embed_titles(docs)
        articles = make_articles(docs, args.articles, args.seed)
        ko = sum(a.language == "ko" for a in articles)
        log(
            f"corpus: {len(docs)} distinct documents, {len(articles)} articles ({ko} Korean); load {loadavg()}"
        )
        _fresh_database(args, url)
        upgrade(to_sync_url(url))
        asyncio.run(populate(url, docs, articles, vectors, args.seed))
        marks = asyncio.run(build_index(url))
        meta = {
            "built": datetime.now(UTC).isoformat(timespec="minutes"),
            "articles": len(articles),
            "korean": ko,
            "distinct": len(docs),
            "index_articles_s": marks["articles"],
            "index_total_s": marks["total"],
            "stories": marks.get("stories_n", 0),
            "load_at_build": loadavg(),
        }
        meta["index_bytes"] = asyncio.run(index_size(url))
        meta_path.write_text(json.dumps(meta))
    else:
        log(f"reusing {url} built {meta['built']}")
    queries = make_queries(docs, args.queries, args.seed)
    results, info = asyncio.run(measure(url, queries))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    head = f"{args.database}: {meta['articles']:,} articles ({meta['korean']:,} Korean) + {meta['stories']:,} stories"
    print(f"| {head} | p50 | p95 | CPU per query | queries with hits |")
    print("|---|---|---|---|---|")
    for name, times, hits, cpu_ms in results:
        p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
        print(f"| {name} | {p50:.1f} ms | {p95:.1f} ms | {cpu_ms:.1f} ms | {hits}/{len(times)} |")
    print(
        f"| throughput with {CONCURRENT} hybrid queries in flight | {info['concurrent_qps']:.1f} queries/s | | | |"
    )
    rate = meta["articles"] / meta["index_articles_s"]
    print(
        f"| index build (Kiwi/stemming + writes, `search reindex`) | {rate:,.0f} articles/s | all {meta['index_total_s']:.0f} s incl. stories | built {meta['built']} | |"
    )
    print(
        f"| full-text index size (search_docs + {'FTS5' if args.database == 'sqlite' else 'tsvector + GIN'}) | {meta['index_bytes'] / 2**20:,.0f} MB | | | |"
    )
    print(
        f"| vector matrix in memory ({info['rows']:,} × 384 float32 + filters) | {info['bytes'] / 2**20:,.0f} MB | loaded in {info['load_s']:.1f} s | peak RSS {peak_mb:,.0f} MB | |"
    )
    print(f"| machine (2 cores, shared) | load 1/5/15 min {loadavg()} | | | |")
    return 0


def _fresh_database(args: argparse.Namespace, url: str) -> None:
    if args.database == "sqlite":
        path = Path(url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = make_url(args.postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    sys.exit(main())
