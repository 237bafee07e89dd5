"""API shapes for stories."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Trend(BaseModel):
    score: float
    reason: str | None
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
