"""Adaptive polling: publishing rate sets the interval within bounds; errors back off."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from newstalk.sources.schedule import (
    PUBLISHER_HINT,
    PUSH_SAFETY_FACTOR,
    VALIDATED_POLLS_PER_GAP,
    backoff_interval,
    backoff_reason,
    busy_interval,
    newest_item_at,
    next_fetch_at,
    plan_poll,
    politeness,
    publishing_interval,
)

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


# --- The freshness target: plan_poll and busy_interval ---------------------------------------
TARGET = {"freshness_s": 300, "floor_s": 60, "max_s": 21600}


def test_a_normal_feed_is_polled_on_the_freshness_target() -> None:
    # Hourly: half-hour polls under the old rule; now never later than the target.
    assert busy_interval(every(60), floor_s=60, freshness_s=300) is None
    plan = plan_poll(now=NOW, last_item_at=NOW - timedelta(hours=3), busy_s=None, **TARGET)
    assert (plan.interval_s, plan.reason) == (300, "freshness target")
    # A daily publisher is not dormant: a day without an item is normal for it.
    daily = plan_poll(now=NOW, last_item_at=NOW - timedelta(hours=30), **TARGET)
    assert (daily.interval_s, daily.reason) == (300, "freshness target")
    # Unknown rate (a new source): the target too.
    assert plan_poll(now=NOW, **TARGET).interval_s == 300


def test_a_busy_feed_is_polled_about_ten_times_per_gap_never_under_the_floor() -> None:
    assert busy_interval(every(20), floor_s=60, freshness_s=300) == 120
    assert busy_interval(every(1), floor_s=60, freshness_s=300) == 60  # a wire: the politeness floor
    assert busy_interval(every(50), floor_s=60, freshness_s=300) is None  # 300 s: not faster than the target
    assert busy_interval(every(20)[:2], floor_s=60, freshness_s=300) is None  # too few items to tell
    plan = plan_poll(now=NOW, last_item_at=NOW, busy_s=120, **TARGET)
    assert (plan.interval_s, plan.reason) == (120, "busy feed")
    assert plan_poll(now=NOW, busy_s=10, **TARGET).interval_s == 60


def test_only_a_dormant_feed_is_polled_less_often_than_the_target() -> None:
    four_days = plan_poll(now=NOW, last_item_at=NOW - timedelta(days=4, hours=2), busy_s=60, **TARGET)
    assert four_days.reason == "dormant: last item 4 days ago"
    assert four_days.interval_s == 4 * 3600 + 300  # an hour per day of silence
    two_days = plan_poll(now=NOW, last_item_at=NOW - timedelta(days=2), **TARGET)
    assert (two_days.interval_s, two_days.reason) == (7200, "dormant: last item 2 days ago")
    year = plan_poll(now=NOW, last_item_at=NOW - timedelta(days=365), **TARGET)
    assert year.interval_s == 21600  # the cap
    assert year.reason == "dormant: last item 365 days ago"


def test_an_interval_set_on_the_source_wins_but_not_under_the_floor() -> None:
    slow = plan_poll(now=NOW, source_interval_s=3600, busy_s=60, **TARGET)
    assert (slow.interval_s, slow.reason) == (3600, "set by source")
    fast = plan_poll(now=NOW, source_interval_s=5, **TARGET)
    assert (fast.interval_s, fast.reason) == (60, "set by source")
    dormant = plan_poll(now=NOW, source_interval_s=120, last_item_at=NOW - timedelta(days=9), **TARGET)
    assert dormant.interval_s == 120


def test_a_source_that_pushed_recently_keeps_a_safety_poll() -> None:
    pushed = plan_poll(now=NOW, pushed_at=NOW - timedelta(minutes=3), busy_s=60, **TARGET)
    assert (pushed.interval_s, pushed.reason) == (300 * PUSH_SAFETY_FACTOR, "websub push + safety poll")
    # A hub silent for more than a day: back to the target.
    stale = plan_poll(now=NOW, pushed_at=NOW - timedelta(days=2), last_item_at=NOW, **TARGET)
    assert (stale.interval_s, stale.reason) == (300, "freshness target")


def test_error_backoff_grows_from_the_interval_and_says_so() -> None:
    plan = plan_poll(now=NOW, busy_s=60, **TARGET)
    assert [backoff_interval(n, base_s=plan.interval_s, max_s=21600) for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff_reason(1) == "error backoff: 1 failure in a row"
    assert backoff_reason(3) == "error backoff: 3 failures in a row"


def test_jitter_never_crosses_the_floor_or_the_freshness_target() -> None:
    rng = random.Random(3)
    at_target = [
        (next_fetch_at(NOW, 300, rng=rng, floor_s=60, ceiling_s=300) - NOW).total_seconds()
        for _ in range(200)
    ]
    assert min(at_target) >= 270
    assert max(at_target) <= 300
    at_floor = [
        (next_fetch_at(NOW, 60, rng=rng, floor_s=60, ceiling_s=300) - NOW).total_seconds() for _ in range(200)
    ]
    assert min(at_floor) >= 60
    assert max(at_floor) <= 66
    dormant = [
        (next_fetch_at(NOW, 7200, rng=rng, floor_s=60, ceiling_s=300) - NOW).total_seconds()
        for _ in range(50)
    ]
    assert min(dormant) >= 6480
    assert max(dormant) <= 7920


def test_newest_item_ignores_future_dates() -> None:
    assert newest_item_at([NOW - timedelta(hours=2), None, NOW - timedelta(days=1)], NOW) == NOW - timedelta(
        hours=2
    )
    assert newest_item_at([NOW + timedelta(days=3), NOW - timedelta(hours=5)], NOW) == NOW - timedelta(
        hours=5
    )
    assert newest_item_at([NOW + timedelta(minutes=2)], NOW) == NOW
    assert newest_item_at([None], NOW) is None


def test_a_feed_with_validators_gets_the_lower_floor_and_more_polls_per_gap() -> None:
    validated = politeness(has_validators=True, floor_s=60, validated_floor_s=30, freshness_s=300)
    plain = politeness(has_validators=False, floor_s=60, validated_floor_s=30, freshness_s=300)
    assert (validated.floor_s, validated.polls_per_gap) == (30, VALIDATED_POLLS_PER_GAP)
    assert (plain.floor_s, plain.polls_per_gap) == (60, 10)
    # A feed publishing every 15 min: 30 s with validators (a 304 per unchanged poll), 90 s without.
    assert busy_interval(every(15), floor_s=30, freshness_s=300, polls_per_gap=validated.polls_per_gap) == 30
    assert busy_interval(every(15), floor_s=60, freshness_s=300, polls_per_gap=plain.polls_per_gap) == 90
    # A plain floor under the validated one applies to validated feeds too.
    assert politeness(has_validators=True, floor_s=20, validated_floor_s=30, freshness_s=300).floor_s == 20


def test_a_publishers_hint_raises_the_floor_but_never_past_the_freshness_target() -> None:
    hinted = politeness(has_validators=True, floor_s=60, validated_floor_s=30, freshness_s=300, max_age_s=150)
    assert (hinted.floor_s, hinted.hint_s) == (150, 150)
    ttl = politeness(has_validators=True, floor_s=60, validated_floor_s=30, freshness_s=300, ttl_s=3600)
    assert (ttl.floor_s, ttl.hint_s) == (300, 300)
    small = politeness(has_validators=True, floor_s=60, validated_floor_s=30, freshness_s=300, max_age_s=10)
    assert (small.floor_s, small.hint_s) == (30, 10)
    busy = busy_interval(every(15), floor_s=hinted.floor_s, freshness_s=300, polls_per_gap=30)
    plan = plan_poll(now=NOW, freshness_s=300, floor_s=hinted.floor_s, max_s=21600, busy_s=busy, hint_s=150)
    assert (plan.interval_s, plan.reason) == (150, PUBLISHER_HINT)
    # A hint under the floor changes nothing: the feed is busy for its own reasons.
    plan = plan_poll(now=NOW, freshness_s=300, floor_s=30, max_s=21600, busy_s=30, hint_s=10)
    assert (plan.interval_s, plan.reason) == (30, "busy feed")
