"""Feed parsing CPU: feedparser against the lxml reader of plain RSS 2.0 / Atom 1.0, same documents.

Run: ``.venv/bin/python benchmarks/parse.py [--feeds 200 --items 50 --repeat 3]``.

Reads the benchmark feeds (``_feeds.py``: the 200 × 50 Korean and English RSS/Atom items
that ``ingest.py``, ``peer.py`` and ``freshness.py`` serve) and every XML file of the real
corpus in ``../shared/data/feeds`` the exact way ``newstalk.ingestion.parse`` does, once
through feedparser and once through ``plainxml.read_plain_feed`` (with feedparser for
what it declines), and ``parse_and_normalize`` (what the collect stage runs per feed) as
shipped. CPU time per article (``time.process_time``, best of ``--repeat``) in one table.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _feeds
from newstalk.errors import FeedParseError
from newstalk.ingestion.decode import decode_body
from newstalk.ingestion.parse import feed_from, prepare_xml, read_with_feedparser
from newstalk.ingestion.plainxml import read_plain_feed
from newstalk.ingestion.process import parse_and_normalize

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "feeds"


def _best(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeat):
        start = time.process_time()
        count = run()
        best = min(best, time.process_time() - start)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    epoch = datetime(2026, 12, 1, tzinfo=UTC)
    bench = [
        (f"http://127.0.0.1:8000/feed/{f}.xml", _feeds.render_feed(f, args.items, args.items, 1, epoch))
        for f in range(args.feeds)
    ]
    corpus = []
    for path in sorted(CORPUS.rglob("*.xml")) if CORPUS.is_dir() else []:
        try:
            text = decode_body(path.read_bytes(), None)[0].lstrip("\ufeff")
            feed_from(read_with_feedparser(prepare_xml(text), "https://example.com/f.xml"), text, "")
        except (FeedParseError, UnicodeDecodeError, ValueError):
            continue
        corpus.append(("https://example.com/f.xml", path.read_bytes()))

    def reader(docs: list[tuple[str, bytes]], plain: bool) -> Callable[[], int]:
        prepared = []
        for url, body in docs:
            text = decode_body(body, None)[0].lstrip("\ufeff")
            prepared.append((url, text, prepare_xml(text)))

        def run() -> int:
            n = 0
            for url, text, data in prepared:
                result = (read_plain_feed(data, url) if plain else None) or read_with_feedparser(data, url)
                n += len(feed_from(result, text, url).entries)
            return n

        return run

    def shipped(docs: list[tuple[str, bytes]]) -> Callable[[], int]:
        def run() -> int:
            first_seen = datetime.now(UTC)
            n = 0
            for url, body in docs:
                n += len(parse_and_normalize(body, url=url, content_type=None, first_seen_at=first_seen)[1])
            return n

        return run

    accepted = sum(
        1
        for url, body in corpus
        if read_plain_feed(prepare_xml(decode_body(body, None)[0].lstrip("\ufeff")), url)
    )
    rows = []
    for name, docs in (("benchmark feeds", bench), ("real corpus", corpus)):
        fp_s, n = _best(args.repeat, reader(docs, plain=False))
        lx_s, _ = _best(args.repeat, reader(docs, plain=True))
        norm_s, _ = _best(args.repeat, shipped(docs))
        share = f"{len(docs)}/{len(docs)}" if docs is bench else f"{accepted}/{len(docs)}"
        rows.append(
            f"| {name} | {len(docs)} docs, {n} items | {share} | {1000 * fp_s / n:.3f} | {1000 * lx_s / n:.3f} "
            f"| {fp_s / lx_s:.1f}x | {1000 * norm_s / n:.3f} |"
        )
    print(
        "| documents | size | read by lxml | feedparser ms/item | lxml reader ms/item | speed-up "
        "| parse_and_normalize ms/item (shipped) |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
