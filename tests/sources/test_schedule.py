"""Adaptive polling: publishing rate sets the interval within bounds; errors back off."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from newstalk.sources.schedule import backoff_interval, next_fetch_at, publishing_interval

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BOUNDS = {"default_s": 900, "min_s": 120, "max_s": 21600}


def every(minutes: float, n: int = 10) -> list[datetime]:
    return [NOW - timedelta(minutes=minutes * i) for i in range(n)]


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (every(60), 1800),  # hourly publisher: poll every 30 min
        (every(1), 120),  # a wire feed: never under the 2-minute floor
        (every(60 * 24), 21600),  # daily: never over the 6-hour ceiling
        (every(20), 600),
        ([NOW, NOW - timedelta(hours=1)], 900),  # too few items to tell: the default
        ([], 900),
        ([None, None, None, None], 900),
        ([NOW, NOW, NOW, NOW], 900),  # all items share one timestamp: no gap to learn from
    ],
)
def test_publishing_interval(times: list[datetime | None], expected: int) -> None:
    assert publishing_interval(times, **BOUNDS) == expected


def test_publishing_interval_uses_recent_items_and_ignores_order() -> None:
    recent = every(10, 20)
    old = [NOW - timedelta(days=30 + i) for i in range(50)]
    shuffled = recent + old
    random.Random(1).shuffle(shuffled)
    assert publishing_interval(shuffled, **BOUNDS) == 300


def test_backoff_doubles_up_to_the_ceiling() -> None:
    seq = [backoff_interval(n, base_s=900, max_s=21600) for n in range(1, 8)]
    assert seq == [900, 1800, 3600, 7200, 14400, 21600, 21600]
    assert backoff_interval(10_000, base_s=900, max_s=21600) == 21600


def test_next_fetch_at_jitters_within_ten_percent() -> None:
    rng = random.Random(7)
    times = [(next_fetch_at(NOW, 1000, rng=rng) - NOW).total_seconds() for _ in range(200)]
    assert min(times) >= 900
    assert max(times) <= 1100
    assert len(set(times)) > 100
