"""The chain of pure ingestion steps for one feed document: parse, then normalize each entry."""

from __future__ import annotations

from datetime import datetime

from newstalk.ingestion.normalize import normalize_entry
from newstalk.ingestion.parse import parse_feed
from newstalk.ingestion.types import NormalizedArticle, ParsedFeed


def warm_up() -> None:
    """Run in each parse process at start: load the language model, ignore terminal signals.

    The parent process owns shutdown; a Ctrl-C or SIGTERM sent to the whole process group
    must not kill parse processes mid-task with a traceback.
    """
    import signal

    from newstalk.ingestion.language import detect_language

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    detect_language("warm up the language model", None)


def parse_and_normalize(
    body: bytes,
    *,
    url: str,
    content_type: str | None,
    first_seen_at: datetime,
    max_entries: int | None = None,
) -> tuple[ParsedFeed, list[NormalizedArticle]]:
    """Parse a feed body and normalize its entries, dropping entries with no usable link.

    Only the first ``max_entries`` entries are normalized (NEWSTALK_COLLECT_MAX_ENTRIES).
    """
    feed = parse_feed(body, url=url, content_type=content_type)
    items = []
    for entry in feed.entries[:max_entries]:
        article = normalize_entry(entry, feed=feed, first_seen_at=first_seen_at)
        if article is not None:
            items.append(article)
    return feed, items
