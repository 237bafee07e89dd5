"""Read queries for stories: list pages and trending, selecting only what a summary shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from newstalk.articles.models import Article
from newstalk.stories.models import OPEN, Story, StoryArticle

# What StorySummary shows; the centroid (1.5 KB a story) and bookkeeping columns stay behind.
SUMMARY_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    Story.id,
    Story.title,
    Story.summary,
    Story.category,
    Story.languages,
    Story.keywords,
    Story.sentiment,
    Story.article_count,
    Story.outlet_count,
    Story.first_seen_at,
    Story.last_seen_at,
    Story.trending_score,
    Story.trending_reason,
    Story.trending_detail,
)


async def list_page(
    session: AsyncSession,
    *,
    category: str | None,
    language: str | None,
    since: datetime | None,
    until: datetime | None,
    sort: Literal["trending", "recent"],
    after: tuple[float | datetime, int] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Open stories with articles, newest (last seen) or most trending first, continuing after a cursor."""
    stmt = select(*SUMMARY_COLUMNS).where(Story.status == OPEN, Story.article_count > 0)
    if category:
        stmt = stmt.where(Story.category == category)
    if language:
        members = select(StoryArticle.story_id).join(Article, Article.id == StoryArticle.article_id)
        stmt = stmt.where(Story.id.in_(members.where(Article.language == language)))
    if since:
        stmt = stmt.where(Story.last_seen_at >= since)
    if until:
        stmt = stmt.where(Story.last_seen_at < until)
    key = Story.trending_score if sort == "trending" else Story.last_seen_at
    if after is not None:
        bound, last = after
        stmt = stmt.where(or_(key < bound, and_(key == bound, Story.id < last)))
    stmt = stmt.order_by(key.desc(), Story.id.desc()).limit(limit)
    return (await session.execute(stmt)).all()


async def trending(session: AsyncSession, *, category: str | None, limit: int) -> Sequence[Row[Any]]:
    """The most trending open stories."""
    stmt = select(*SUMMARY_COLUMNS).where(Story.status == OPEN, Story.trending_score > 0)
    if category:
        stmt = stmt.where(Story.category == category)
    stmt = stmt.order_by(Story.trending_score.desc(), Story.id.desc()).limit(limit)
    return (await session.execute(stmt)).all()
