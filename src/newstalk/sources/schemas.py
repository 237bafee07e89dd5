"""API shapes for sources."""

from __future__ import annotations

from datetime import datetime

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="A feed URL, or a web page that links to its feed")
    title: str | None = Field(None, max_length=512)
    category: str | None = Field(None, max_length=128)
    language: str | None = Field(None, max_length=16, description="Hint such as 'ko' or 'en'")
    full_text: bool = Field(False, description="Fetch each article page: the feed has summaries only")
    poll_interval_s: int | None = Field(
        None,
        ge=1,
        le=7 * 24 * 3600,
        description="Poll this source every N seconds (at least NEWSTALK_POLL_MIN_S); "
        "unset or null: adaptive, at least every NEWSTALK_FRESHNESS_S",
    )


class SourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=512)
    category: str | None = Field(None, max_length=128)
    language: str | None = Field(None, max_length=16)
    full_text: bool | None = None
    status: str | None = Field(None, pattern="^(active|paused)$", description="'paused' stops polling")
    poll_interval_s: int | None = Field(
        None,
        ge=1,
        le=7 * 24 * 3600,
        description="Poll this source every N seconds (at least NEWSTALK_POLL_MIN_S); "
        "unset or null: adaptive, at least every NEWSTALK_FRESHNESS_S",
    )


class SourceHealth(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str
    paused_reason: str | None
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    fetch_interval_s: int = Field(description="The current poll interval (before error backoff)")
    poll_reason: str | None = Field(description="Why: freshness target, busy feed, dormant, error backoff, …")
    poll_interval_s: int | None = Field(description="An interval set for this source; null: adaptive")
    next_fetch_at: datetime
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    last_item_at: datetime | None = Field(description="The newest item date the feed showed")
    last_push_at: datetime | None = Field(description="The last signed WebSub push")
    fetch_count: int
    not_modified_count: int
    websub_state: str | None
    websub_lease_until: datetime | None


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    feed_url: str
    site_url: str | None
    title: str
    language: str | None
    category: str | None
    full_text: bool
    status: str
    paused_reason: str | None
    last_error: str | None
    consecutive_failures: int
    article_count: int
    fetch_interval_s: int
    poll_reason: str | None
    poll_interval_s: int | None
    next_fetch_at: datetime
    last_fetched_at: datetime | None
    created_at: datetime


class SourcePage(BaseModel):
    items: list[SourceOut]
    next_cursor: str | None


class OpmlImportResult(BaseModel):
    added: int
    skipped: int
    errors: list[str]
