"""Trending score: how fast a story is gathering coverage now, against what is usual.

Velocity is the story's articles per hour in the last ``WINDOW``. It is compared with two baselines:
the story's own earlier pace (articles per hour over the preceding ``LOOKBACK``) and the category's
usual pace per story (``category_baseline``); the surge is the geometric mean of the two ratios, or
the category ratio alone for a story with no earlier history. Coverage counts once per outlet in the
score (a single outlet re-posting does not trend), and the whole score decays with the age of the
newest article (half-life ``HALF_LIFE``). The score is squashed into [0, 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from newstalk.stories.category import CATEGORY_KO

WINDOW = timedelta(hours=1)
LOOKBACK = timedelta(hours=24)
HALF_LIFE = timedelta(minutes=90)
MIN_BASELINE_PER_HOUR = 0.25
SURGE_TO_MENTION = 1.5
SCORE_SCALE = 4.0


@dataclass(frozen=True)
class TrendInput:
    """A story's coverage: arrival time and outlet of each article, its category, and the current time."""

    published_at: Sequence[datetime]
    outlets: Sequence[str]
    category: str
    now: datetime

    def __post_init__(self) -> None:
        if len(self.published_at) != len(self.outlets):
            raise ValueError(
                f"trending: {len(self.published_at)} arrival times but {len(self.outlets)} outlets; "
                "pass one outlet per article"
            )


@dataclass(frozen=True)
class TrendReason:
    """Why a story trends (or not), as parts, so it can be said in English and in Korean.

    ``kind``: ``none`` (no coverage), ``quiet`` (nothing for ``minutes``), ``active`` (``outlets``
    outlets wrote ``articles`` articles over ``minutes``; ``pace`` against the category's usual
    pace, ``ratio`` times it when faster).
    """

    kind: Literal["none", "quiet", "active"]
    minutes: float = 0.0
    outlets: int = 0
    articles: int = 0
    pace: Literal["faster", "slower", "usual"] = "usual"
    ratio: float = 1.0
    category: str = ""

    def text(self, lang: str = "en") -> str:
        """The reason in ``lang`` (``ko``, else English)."""
        return _korean(self) if lang == "ko" else _english(self)

    @classmethod
    def from_dict(cls, data: Any) -> TrendReason | None:
        """The reason stored by :meth:`as_dict`, or None when ``data`` is not one."""
        if not isinstance(data, dict) or data.get("kind") not in ("none", "quiet", "active"):
            return None
        try:
            return cls(
                kind=data["kind"],
                minutes=float(data.get("minutes", 0.0)),
                outlets=int(data.get("outlets", 0)),
                articles=int(data.get("articles", 0)),
                pace=data.get("pace", "usual")
                if data.get("pace") in ("faster", "slower", "usual")
                else "usual",
                ratio=float(data.get("ratio", 1.0)),
                category=str(data.get("category", "")),
            )
        except (TypeError, ValueError):
            return None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrendResult:
    """Trending score in [0, 1) with the reason the API shows and the numbers behind it."""

    score: float
    velocity_per_hour: float
    baseline_per_hour: float
    outlets: int
    why: TrendReason

    @property
    def reason(self) -> str:
        """The reason in English, as stored and served in ``trending.reason``."""
        return self.why.text()


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600.0


def _span_text(minutes: float) -> str:
    if minutes < 90:
        n = max(1, round(minutes))
        return "1 minute" if n == 1 else f"{n} minutes"
    return f"{minutes / 60:.1f} hours".replace(".0 hours", " hours")


def _span_ko(minutes: float) -> str:
    if minutes < 90:
        return f"{max(1, round(minutes))}분"
    return f"{minutes / 60:.1f}".removesuffix(".0") + "시간"


def _ratio_text(ratio: float) -> str:
    return f"{ratio:.0f}×" if ratio >= 3 else f"{ratio:.1f}×"


def _english(why: TrendReason) -> str:
    if why.kind == "none":
        return "no coverage yet"
    if why.kind == "quiet":
        return f"no new coverage for {_span_text(why.minutes)}"
    noun = "outlet" if why.outlets == 1 else "outlets"
    head = f"{why.outlets} {noun} in {_span_text(why.minutes)}"
    if why.articles > why.outlets:
        head = f"{why.articles} articles from {head}"
    if why.pace == "faster":
        return f"{head}, {_ratio_text(why.ratio)} the usual pace for {why.category}"
    if why.pace == "slower":
        return f"{head}, slower than usual for {why.category}"
    return f"{head}, about the usual pace for {why.category}"


def _korean(why: TrendReason) -> str:
    if why.kind == "none":
        return "아직 보도 없음"
    if why.kind == "quiet":
        return f"{_span_ko(why.minutes)}째 새 보도 없음"
    head = f"{_span_ko(why.minutes)} 동안 언론사 {why.outlets}곳"
    if why.articles > why.outlets:
        head += f", 기사 {why.articles}건"
    category = CATEGORY_KO.get(why.category, why.category)
    if why.pace == "faster":
        return f"{head}: {category} 분야 평소의 {_ratio_text(why.ratio)} 속도"
    if why.pace == "slower":
        return f"{head}: {category} 분야 평소보다 느림"
    return f"{head}: {category} 분야 평소 속도"


def trending(story: TrendInput, category_baseline_per_hour: float) -> TrendResult:
    """Score how strongly a story is trending now and say why in one line."""
    now = story.now
    arrivals = [
        (t, o)
        for t, o in zip(story.published_at, story.outlets, strict=True)
        if t <= now + timedelta(minutes=5)
    ]
    recent = [(t, o) for t, o in arrivals if now - t <= WINDOW]
    earlier = [(t, o) for t, o in arrivals if WINDOW < now - t <= WINDOW + LOOKBACK]
    category_base = max(category_baseline_per_hour, MIN_BASELINE_PER_HOUR)
    if not recent:
        last = max((t for t, _ in arrivals), default=None)
        why = TrendReason("none") if last is None else TrendReason("quiet", minutes=_hours(now - last) * 60)
        return TrendResult(0.0, 0.0, category_base, len({o for _, o in arrivals}), why)

    outlets_recent = len({o for _, o in recent})
    velocity = len(recent) / _hours(WINDOW)
    # Distinct outlets carry the signal; repeats by one outlet count for little.
    outlet_velocity = outlets_recent / _hours(WINDOW)
    ratio_category = outlet_velocity / category_base
    if earlier:
        first_earlier = min(t for t, _ in earlier)
        own_hours = max(_hours(now - WINDOW - first_earlier), _hours(WINDOW))
        own_base = max(len(earlier) / own_hours, MIN_BASELINE_PER_HOUR)
        surge = math.sqrt(ratio_category * (outlet_velocity / own_base))
        baseline = math.sqrt(category_base * own_base)
    else:
        surge = ratio_category
        baseline = category_base
    newest = max(t for t, _ in recent)
    recency = 0.5 ** (max(_hours(now - newest), 0.0) / _hours(HALF_LIFE))
    raw = math.log1p(surge) * math.log1p(outlets_recent) * recency
    score = 1.0 - math.exp(-raw / SCORE_SCALE)

    minutes = max(_hours(now - min(t for t, _ in recent)) * 60, 1.0)
    pace: Literal["faster", "slower", "usual"] = (
        "faster"
        if ratio_category >= SURGE_TO_MENTION
        else "slower"
        if ratio_category <= 1 / SURGE_TO_MENTION
        else "usual"
    )
    why = TrendReason(
        "active",
        minutes=minutes,
        outlets=outlets_recent,
        articles=len(recent),
        pace=pace,
        ratio=ratio_category,
        category=story.category,
    )
    return TrendResult(score, velocity, baseline, outlets_recent, why)


def category_baseline(
    article_counts: Mapping[str, int],
    *,
    days: float = 7.0,
    story_counts: Mapping[str, int] | None = None,
) -> dict[str, float]:
    """Usual articles per hour for each category over the last ``days``; per story when story counts are given.

    ``trending`` compares one story's outlet velocity with this number, so pass ``story_counts``
    (stories per category over the same days) to get the pace of a typical story.
    """
    if days <= 0:
        raise ValueError(f"trending: baseline window must be positive, got {days} days")
    hours = days * 24.0
    out: dict[str, float] = {}
    for category, count in article_counts.items():
        if story_counts is None:
            rate = count / hours
        else:
            # A typical story gathers its coverage within about a day, not over the whole window.
            rate = count / max(story_counts.get(category, 0), 1) / min(hours, 24.0)
        out[category] = max(rate, 0.0)
    return out
