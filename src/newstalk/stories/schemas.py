"""API shapes for stories."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from newstalk.stories.trending import TrendReason

if TYPE_CHECKING:
    from sqlalchemy import Row

    from newstalk.stories.models import Story


class Trend(BaseModel):
    score: float
    reason: str | None = Field(description="Why it trends (or not), in English")
    reasons: dict[str, str] | None = Field(
        default=None,
        description="The same reason in each UI language (`en`, `ko`); absent for a story last scored by an older version",
    )
    velocity_per_hour: float | None = None
    baseline_per_hour: float | None = None


class StorySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    summary: list[str]
    category: str | None
    languages: list[str]
    keywords: list[str]
    sentiment: float | None
    article_count: int
    outlet_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    trending: Trend


class OutletCoverage(BaseModel):
    source_id: int
    outlet: str
    articles: int
    headline: str
    url: str
    language: str
    first_seen_at: datetime


class TimelineEntry(BaseModel):
    article_id: int
    source_id: int
    outlet: str
    title: str
    url: str
    language: str
    published_at: datetime
    first_seen_at: datetime
    duplicate_of: int | None
    reason: str | None


class StoryDetail(StorySummary):
    coverage: list[OutletCoverage]
    timeline: list[TimelineEntry]
    merged_into: int | None = None


class StoryPage(BaseModel):
    items: list[StorySummary]
    next_cursor: str | None


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    article_ids: list[int] = Field(min_length=1, max_length=1000)


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    story_id: int = Field(ge=1, description="The story to fold into this one")


def _reasons(stored: Any) -> dict[str, str] | None:
    why = TrendReason.from_dict(stored)
    return None if why is None else {lang: why.text(lang) for lang in ("en", "ko")}


def summary_of(story: Story | Row[Any]) -> StorySummary:
    """The list shape of a story, from the ORM object or a row of repository.SUMMARY_COLUMNS."""
    detail = story.trending_detail or {}
    return StorySummary(
        id=story.id,
        title=story.title,
        summary=story.summary,
        category=story.category,
        languages=story.languages,
        keywords=story.keywords,
        sentiment=story.sentiment,
        article_count=story.article_count,
        outlet_count=story.outlet_count,
        first_seen_at=story.first_seen_at,
        last_seen_at=story.last_seen_at,
        trending=Trend(
            score=story.trending_score,
            reason=story.trending_reason,
            reasons=_reasons(detail.get("why")),
            velocity_per_hour=detail.get("velocity_per_hour"),
            baseline_per_hour=detail.get("baseline_per_hour"),
        ),
    )
