"""When to poll a source next: adaptive to how often it publishes, backing off on errors."""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

RECENT_ITEMS = 20
JITTER = 0.1


def publishing_interval(
    item_times: Iterable[datetime | None],
    *,
    default_s: int,
    min_s: int,
    max_s: int,
    polls_per_gap: float = 2,
) -> int:
    """Poll ``polls_per_gap`` times per typical gap between recent items, clamped to [min_s, max_s].

    Feeds with fewer than three dated items get ``default_s``.
    """
    times = sorted((t for t in item_times if t is not None), reverse=True)[:RECENT_ITEMS]
    if len(times) < 3:
        return default_s
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(times)]
    gaps = [g for g in gaps if g > 0]
    if not gaps:
        return default_s
    return int(min(max(statistics.median(gaps) / polls_per_gap, min_s), max_s))


def backoff_interval(failures: int, *, base_s: int, max_s: int) -> int:
    """Exponential backoff after ``failures`` consecutive failures (1 → base_s)."""
    exponent = min(max(failures - 1, 0), 20)
    return int(min(base_s * (2**exponent), max_s))


def next_fetch_at(
    now: datetime,
    interval_s: int,
    *,
    rng: random.Random | None = None,
    floor_s: int | None = None,
    ceiling_s: int | None = None,
) -> datetime:
    """``now + interval`` with ±10% jitter, so sources added together don't poll together.

    The jitter stays within ``[floor_s, ceiling_s]`` where given (the politeness floor, the
    freshness target), unless the interval itself is outside them.
    """
    r = rng or random
    low, high = interval_s * (1 - JITTER), interval_s * (1 + JITTER)
    if floor_s is not None:
        low = max(low, min(floor_s, interval_s))
    if ceiling_s is not None:
        high = min(high, max(ceiling_s, interval_s))
    return now + timedelta(seconds=r.uniform(low, max(low, high)))


# --- The freshness target (NEWSTALK_FRESHNESS_S) ------------------------------------------------
#
# Every live source is polled at least once per freshness target. A busy feed is polled
# more often (about BUSY_POLLS_PER_GAP times per typical gap between its items, never under
# the politeness floor NEWSTALK_POLL_MIN_S); only a dormant one (no item for DORMANT_AFTER)
# is polled less often, and then about once per hour per day of silence, up to
# NEWSTALK_POLL_MAX_S. A source whose hub pushes is polled as a safety net every
# PUSH_SAFETY_FACTOR freshness targets. An interval set on the source wins over all of
# these (bounded by the floor). Errors back off from the interval (``backoff_interval``).

BUSY_POLLS_PER_GAP = 10
# A feed that answers conditional GET (it sent an ETag or Last-Modified) costs its publisher
# a header comparison and a 304 of a few hundred bytes per unchanged poll, so a busy one is
# polled about this many times per typical gap, down to NEWSTALK_POLL_MIN_VALIDATED_S.
VALIDATED_POLLS_PER_GAP = 30
DORMANT_AFTER = timedelta(days=2)
DORMANT_POLLS_PER_SILENCE = 24
PUSH_SAFETY_FACTOR = 4
PUSH_RECENT = timedelta(days=1)

FRESHNESS = "freshness target"
BUSY = "busy feed"
DORMANT = "dormant"
PUSHED = "websub push + safety poll"
SET_BY_SOURCE = "set by source"
PUBLISHER_HINT = "publisher's ttl / max-age"
ERROR_BACKOFF = "error backoff"


@dataclass(frozen=True, slots=True)
class PollPlan:
    """How often to poll a source, and why (shown in source health)."""

    interval_s: int
    reason: str


def busy_interval(
    item_times: Iterable[datetime | None],
    *,
    floor_s: int,
    freshness_s: int,
    polls_per_gap: float = BUSY_POLLS_PER_GAP,
) -> int | None:
    """The interval for a feed that publishes faster than the freshness target, else None.

    About ``polls_per_gap`` polls per median gap between recent items (``BUSY_POLLS_PER_GAP``,
    or ``VALIDATED_POLLS_PER_GAP`` for a feed with validators), never under ``floor_s``.
    """
    interval = publishing_interval(
        item_times, default_s=freshness_s, min_s=floor_s, max_s=freshness_s, polls_per_gap=polls_per_gap
    )
    return interval if interval < freshness_s else None


@dataclass(frozen=True, slots=True)
class Politeness:
    """How often a source may be polled: its floor, and how many polls per gap a busy one gets."""

    floor_s: int
    polls_per_gap: float
    # The publisher's own hint (RSS ``<ttl>``, ``Cache-Control: max-age``), already capped at
    # the freshness target; 0 when it gave none. It raises the floor, never past the target.
    hint_s: int = 0


def politeness(
    *,
    has_validators: bool,
    floor_s: int,
    validated_floor_s: int,
    freshness_s: int,
    ttl_s: int | None = None,
    max_age_s: int | None = None,
) -> Politeness:
    """The floor for one source: ``validated_floor_s`` (never above ``floor_s``) when the feed
    answers conditional GET, else ``floor_s``; raised to the publisher's longest hint, capped at
    ``freshness_s`` so that a hint never breaks the freshness target."""
    hint = max(ttl_s or 0, max_age_s or 0)
    hint = min(hint, freshness_s) if hint > 0 else 0
    if has_validators:
        base, per_gap = min(validated_floor_s, floor_s), float(VALIDATED_POLLS_PER_GAP)
    else:
        base, per_gap = floor_s, float(BUSY_POLLS_PER_GAP)
    return Politeness(max(base, hint), per_gap, hint)


def _age(seconds: float) -> str:
    if seconds >= 86400:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    hours = int(seconds // 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def plan_poll(
    *,
    now: datetime,
    freshness_s: int,
    floor_s: int,
    max_s: int,
    source_interval_s: int | None = None,
    pushed_at: datetime | None = None,
    last_item_at: datetime | None = None,
    busy_s: int | None = None,
    hint_s: int = 0,
) -> PollPlan:
    """The interval for a healthy source, first rule that applies:

    1. an interval set on the source (never under ``floor_s``): "set by source";
    2. a WebSub push within ``PUSH_RECENT``: a safety poll every ``PUSH_SAFETY_FACTOR``
       freshness targets;
    3. no item for ``DORMANT_AFTER``: one poll per ``1/DORMANT_POLLS_PER_SILENCE`` of the
       silence (a feed quiet for 4 days: every 4 h), between the freshness target and ``max_s``;
    4. ``busy_s`` (from ``busy_interval``), when the feed publishes faster than the target;
       "publisher's ttl / max-age" instead when the feed's own hint ``hint_s`` is what holds
       it back (``floor_s`` already includes the hint: see :func:`politeness`);
    5. the freshness target.
    """
    floor_s = max(1, min(floor_s, freshness_s))
    if source_interval_s is not None:
        return PollPlan(max(source_interval_s, floor_s), SET_BY_SOURCE)
    if pushed_at is not None and now - pushed_at <= PUSH_RECENT:
        return PollPlan(max(freshness_s * PUSH_SAFETY_FACTOR, floor_s), PUSHED)
    if last_item_at is not None and now - last_item_at >= DORMANT_AFTER:
        silence = (now - last_item_at).total_seconds()
        interval = int(min(max(silence / DORMANT_POLLS_PER_SILENCE, freshness_s), max(max_s, freshness_s)))
        return PollPlan(interval, f"{DORMANT}: last item {_age(silence)} ago")
    if busy_s is not None and busy_s < freshness_s:
        if hint_s and hint_s >= floor_s and hint_s >= busy_s:
            return PollPlan(hint_s, PUBLISHER_HINT)
        return PollPlan(max(busy_s, floor_s), BUSY)
    return PollPlan(freshness_s, FRESHNESS)


def backoff_reason(failures: int) -> str:
    return f"{ERROR_BACKOFF}: {failures} failure{'s' if failures != 1 else ''} in a row"


def poll_reason(consecutive_failures: int, planned_reason: str | None) -> str | None:
    """Why a source is polled when it is, for source health: error backoff while polls fail,
    else the reason its interval was planned with (:func:`plan_poll`)."""
    return backoff_reason(consecutive_failures) if consecutive_failures else planned_reason


def newest_item_at(item_times: Iterable[datetime | None], now: datetime) -> datetime | None:
    """The newest item date that is not in the future (feeds' clocks and typos vary)."""
    dated = [t for t in item_times if t is not None and t <= now + timedelta(minutes=5)]
    return min(max(dated), now) if dated else None
