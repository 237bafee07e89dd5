"""API shapes for the personal feed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Reason = Literal["keyword", "outlet", "category", "habit", "similar", "trending", "recent", "explore"]


class FeedItemOut(BaseModel):
    story_id: int
    rank: int = Field(description="Position in the whole feed, 1 first")
    score: float
    reason: Reason = Field(description="Why the story is here, as a code")
    why: str = Field(description="Why the story is here, in the listener's language")
    title: str
    category: str | None
    languages: list[str]
    keywords: list[str]
    outlets: list[str] = Field(
        description="Outlets carrying the story, most articles first; muted ones left out"
    )
    article_count: int
    outlet_count: int
    trending_score: float
    first_seen_at: datetime
    last_seen_at: datetime


class FeedPageOut(BaseModel):
    items: list[FeedItemOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the end")
    as_of: datetime = Field(
        description="The instant the feed was ranked at; later stories wait for a new first page"
    )
    exploration_rate: float = Field(description="Share of slots given to stories outside your interests")
