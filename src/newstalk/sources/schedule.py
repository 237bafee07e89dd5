"""When to poll a source next: adaptive to how often it publishes, backing off on errors."""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta

RECENT_ITEMS = 20
JITTER = 0.1


def publishing_interval(
    item_times: Iterable[datetime | None], *, default_s: int, min_s: int, max_s: int
) -> int:
    """Poll about twice per typical gap between recent items, clamped to [min_s, max_s].

    Feeds with fewer than three dated items get ``default_s``.
    """
    times = sorted((t for t in item_times if t is not None), reverse=True)[:RECENT_ITEMS]
    if len(times) < 3:
        return default_s
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(times)]
    gaps = [g for g in gaps if g > 0]
    if not gaps:
        return default_s
    return int(min(max(statistics.median(gaps) / 2, min_s), max_s))


def backoff_interval(failures: int, *, base_s: int, max_s: int) -> int:
    """Exponential backoff after ``failures`` consecutive failures (1 → base_s)."""
    exponent = min(max(failures - 1, 0), 20)
    return int(min(base_s * (2**exponent), max_s))


def next_fetch_at(now: datetime, interval_s: int, *, rng: random.Random | None = None) -> datetime:
    """``now + interval`` with ±10% jitter, so sources added together don't poll together."""
    r = rng or random
    return now + timedelta(seconds=interval_s * r.uniform(1 - JITTER, 1 + JITTER))
