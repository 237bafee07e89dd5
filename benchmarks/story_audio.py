"""How long story audio scripts run, on the product path: stories and fact-check stages, then the script.

Two corpora go into a fresh, migrated SQLite database as articles with one
``article.ingested`` event each:

* ``demo``: the ``newstalk up --demo`` feeds (``newstalk.demo.FEEDS``) with every item
  visible, parsed and normalized by the collect stage's own code (one outlet per feed);
* ``bbc``: the first ``--bbc`` articles of ``../shared/data/news/bbc_news.jsonl`` (BBC News,
  2004-2005), one outlet each, so each is a story of one full-length article.

The real ``stories`` and ``factcheck`` stages run until their queues are empty; then each
open story's script is written as the ``briefings`` stage writes it
(``briefings.repository.story_inputs`` and ``briefings.scripts.story_script`` in
``NEWSTALK_BRIEFINGS_VOICE``) and its length estimated at the voice's measured speaking
rate (``script_seconds``); the ``--synthesize`` longest scripts of each corpus are also
synthesized with the product's engines and renderer to check the estimate.
Prints one markdown table on stdout; progress goes to stderr.

    .venv/bin/python benchmarks/story_audio.py [--bbc 30] [--corpora demo,bbc] [--synthesize 2] [--show]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NEWS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "news"


@dataclass(frozen=True)
class Doc:
    outlet: str
    language: str
    title: str
    text: str
    url: str


def log(msg: str) -> None:
    print(f"[story_audio {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def demo_docs() -> list[Doc]:
    """Every item of the demo feeds, as the collect stage would store it."""
    from newstalk import demo
    from newstalk.ingestion.process import parse_and_normalize

    base = "http://127.0.0.1:8000"
    later = time.time() + 365 * 86400  # every item of the growing feeds is visible by then
    docs = []
    for name, (media_type, render) in demo.FEEDS.items():
        url = f"{base}/demo/feeds/{name}"
        feed, items = parse_and_normalize(
            render(base, later), url=url, content_type=media_type, first_seen_at=datetime.now(UTC)
        )
        docs += [Doc(feed.title or name, a.language, a.title, a.content_text, a.url) for a in items]
    return docs


def bbc_docs(n: int) -> list[Doc]:
    docs = []
    with (NEWS / "bbc_news.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if len(docs) == n:
                break
            row = json.loads(line)
            docs.append(
                Doc(
                    f"BBC {len(docs) + 1}",
                    "en",
                    row["title"],
                    row["body"],
                    f"https://bbc.example/{row['id']}",
                )
            )
    return docs


async def measure(url: str, docs: list[Doc], show: bool = False) -> list[tuple[int, int, float, Any]]:
    """(articles, outlets, estimated seconds, script) per open story after the stories and factcheck stages."""
    from sqlalchemy import insert, select

    from newstalk.articles.models import Article
    from newstalk.briefings.repository import story_inputs
    from newstalk.briefings.scripts import script_seconds, story_script
    from newstalk.config import Settings
    from newstalk.ingestion.normalize import content_hash
    from newstalk.kit.bus import Event
    from newstalk.pipeline.stages import all_stages
    from newstalk.pipeline.topics import ARTICLE_INGESTED as INGESTED_TOPIC
    from newstalk.pipeline.worker import StageWorker
    from newstalk.runtime import Services
    from newstalk.sources.models import Source
    from newstalk.stories.models import OPEN, Story

    settings = Settings(database_url=url, parse_processes=0)
    services = Services.build(settings)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        outlets = list(dict.fromkeys(d.outlet for d in docs))
        async with services.db.unit() as uow:
            await uow.session.execute(
                insert(Source),
                [
                    {
                        "id": i,
                        "feed_url": f"https://outlet{i}.example/feed.xml",
                        "title": name,
                        "language": next(d.language for d in docs if d.outlet == name),
                        "fetch_interval_s": 900,
                        "next_fetch_at": now + timedelta(days=365),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, name in enumerate(outlets, 1)
                ],
            )
            for i, d in enumerate(docs, 1):
                seen = now - timedelta(minutes=len(docs) - i)
                digest = content_hash(d.title, d.text)
                source_id = outlets.index(d.outlet) + 1
                await uow.session.execute(
                    insert(Article).values(
                        id=i,
                        source_id=source_id,
                        url=d.url,
                        content_hash=digest,
                        title=d.title,
                        summary=d.text[:300],
                        content_text=d.text,
                        language=d.language,
                        published_at=seen,
                        first_seen_at=seen,
                        stored_at=seen,
                    )
                )
                payload = {
                    "article_id": i,
                    "source_id": source_id,
                    "content_hash": digest,
                    "language": d.language,
                }
                uow.emit(Event(INGESTED_TOPIC, digest, payload, seen))
        stages = {s.name: s for s in all_stages(settings)}
        workers = [StageWorker(services, stages[name]) for name in ("stories", "factcheck")]
        while True:
            done = 0
            for worker in workers:
                while n := await worker.run_once():
                    done += n
            if not done:
                break
        out = []
        async with services.db.read() as session:
            stories = (await session.scalars(select(Story).where(Story.status == OPEN))).all()
            for story in stories:
                inputs = await story_inputs(session, story.id, None)
                if inputs:
                    script = story_script(inputs[0], settings.briefings_voice)
                    out.append((story.article_count, story.outlet_count, script_seconds(script), script))
                    if show:
                        log(
                            f"story {story.id} ({story.article_count} articles, {out[-1][2]:.1f} s):\n{script.text}"
                        )
        return out
    finally:
        await services.aclose()


def synthesized(lengths: list[tuple[int, int, float, Any]], n: int) -> str:
    """Real audio length of the ``n`` longest scripts, through the product's engines and renderer."""
    if n <= 0:
        return "-"
    from newstalk.config import load_settings
    from newstalk.speech.engines import available_engines
    from newstalk.speech.render import render_script

    engines = available_engines(load_settings())
    out = []
    for _, _, estimate, script in sorted(lengths, key=lambda x: -x[2])[:n]:
        t0 = time.perf_counter()
        audio = render_script(engines, script).duration_s
        log(f"synthesized {audio:.1f} s (estimated {estimate:.1f} s) in {time.perf_counter() - t0:.1f} s")
        out.append(f"{audio:.1f} ({estimate:.1f})")
    return ", ".join(out)


def row(name: str, docs: list[Doc], lengths: list[tuple[int, int, float, Any]], real: str) -> str:
    secs = sorted(x[2] for x in lengths)
    single = [x[2] for x in lengths if x[0] == 1]
    multi = [x[2] for x in lengths if x[0] > 1]

    def span(xs: list[float]) -> str:
        return f"{min(xs):.1f}-{max(xs):.1f}" if xs else "-"

    return (
        f"| {name} | {len(docs)} | {len(lengths)} | {span(secs)} | {statistics.median(secs):.1f} | "
        f"{sum(60 <= s <= 90 for s in secs)}/{len(secs)} | {span(single)} | {span(multi)} | {real} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bbc", type=int, default=30, help="BBC articles (one story each)")
    parser.add_argument("--show", action="store_true", help="print every script to stderr")
    parser.add_argument("--corpora", default="demo,bbc", help="comma-separated: demo, bbc")
    parser.add_argument(
        "--synthesize", type=int, default=2, help="synthesize the N longest scripts of each corpus (0: none)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from newstalk.config import to_sync_url
    from newstalk.kit.migrate import upgrade

    wanted = args.corpora.split(",")
    corpora: dict[str, list[Doc]] = {}
    if "demo" in wanted:
        corpora["demo"] = demo_docs()
    if "bbc" in wanted:
        corpora["bbc"] = bbc_docs(args.bbc)
    rows: list[str] = []
    for name, docs in corpora.items():
        with tempfile.TemporaryDirectory(prefix="newstalk-bench-story-audio-") as tmp:
            url = f"sqlite:///{tmp}/story_audio.db"
            upgrade(to_sync_url(url))
            t0 = time.perf_counter()
            lengths = asyncio.run(measure(url, docs, args.show))
            log(f"{name}: {len(docs)} articles, {len(lengths)} stories in {time.perf_counter() - t0:.1f}s")
            rows.append(row(name, docs, lengths, synthesized(lengths, args.synthesize)))
    print(
        "| corpus | articles | stories | script length s (estimated) | median s | within 60-90 s "
        "| one-article stories s | stories of 2+ articles s | synthesized s (estimated), longest |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
