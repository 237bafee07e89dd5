"""The chain of pure ingestion steps for one feed document: parse, then normalize each entry."""

from __future__ import annotations

from datetime import datetime

from newstalk.articles.types import NormalizedArticle
from newstalk.ingestion.normalize import normalize_entry
from newstalk.ingestion.parse import parse_feed
from newstalk.ingestion.types import ParsedFeed

PR_SET_PDEATHSIG = 1
WATCHDOG_INTERVAL_S = 1.0


def warm_up() -> None:
    """Run in each parse process at start: die with the parent, ignore terminal signals, load models.

    The parent process owns shutdown; a Ctrl-C or SIGTERM sent to the whole process group
    must not kill parse processes mid-task with a traceback. Because they ignore SIGTERM, a
    parent killed by SIGKILL or the OOM killer used to leave them behind (issue 13): the
    kernel now sends them SIGKILL when the parent dies (Linux PR_SET_PDEATHSIG), and a
    watchdog thread exits when the parent is gone on systems without it.
    """
    import signal

    from newstalk.ingestion.language import detect_language

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent()
    detect_language("warm up the language model", None)


def die_with_parent() -> None:
    """End this process when its parent ends, however the parent ends."""
    import ctypes
    import os
    import signal
    import sys
    import threading
    import time

    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent or parent == 1:
        os._exit(1)  # the parent died before the death signal was armed

    def watch() -> None:
        # Fallback: PR_SET_PDEATHSIG fires when the *thread* that started us ends, and does
        # not exist off Linux; a reparented process has another parent pid.
        while True:
            time.sleep(WATCHDOG_INTERVAL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


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
