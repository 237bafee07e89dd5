"""API shapes for articles (the /api/v1/news endpoints)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ArticleSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source_id: int
    url: str
    title: str
    summary: str
    language: str
    author: str | None
    image_url: str | None
    published_at: datetime
    first_seen_at: datetime


class ArticleOut(ArticleSummary):
    content_html: str
    content_text: str
    content_hash: str
    guid: str | None
    full_text_extracted: bool
    stored_at: datetime


class ArticlePage(BaseModel):
    items: list[ArticleSummary]
    next_cursor: str | None
