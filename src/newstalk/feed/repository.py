"""Queries the feed needs: recent stories and their outlets, a listener's feedback, outlet names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.listeners.models import FeedbackEvent, Preferences
from newstalk.sources.models import Source
from newstalk.stories.models import OPEN, Story, StoryArticle


async def recent_stories(
    session: AsyncSession, *, seen_since: datetime, updated_after: datetime | None
) -> Sequence[Any]:
    """Stories with an article since ``seen_since`` (changed after ``updated_after`` when given), any status.

    Merged stories come back too, so the caller can drop them from its index.
    """
    stmt = select(
        Story.id,
        Story.status,
        Story.title,
        Story.keywords,
        Story.languages,
        Story.category,
        Story.article_count,
        Story.outlet_count,
        Story.trending_score,
        Story.centroid,
        Story.first_seen_at,
        Story.last_seen_at,
        Story.updated_at,
    ).where(Story.last_seen_at >= seen_since)
    if updated_after is not None:
        stmt = stmt.where(Story.updated_at > updated_after)
    return (await session.execute(stmt)).all()


async def story_outlets(
    session: AsyncSession, *, seen_since: datetime, updated_after: datetime | None
) -> Sequence[Any]:
    """(story id, source id, articles, first article time) for the same stories as ``recent_stories``."""
    stmt = (
        select(
            StoryArticle.story_id,
            Article.source_id,
            func.count().label("articles"),
            func.min(Article.first_seen_at).label("first"),
        )
        .join(Article, Article.id == StoryArticle.article_id)
        .join(Story, Story.id == StoryArticle.story_id)
        .where(Story.last_seen_at >= seen_since, Story.status == OPEN)
        .group_by(StoryArticle.story_id, Article.source_id)
    )
    if updated_after is not None:
        stmt = stmt.where(Story.updated_at > updated_after)
    return (await session.execute(stmt)).all()


async def trending_scores(session: AsyncSession, *, seen_since: datetime) -> Sequence[Any]:
    """(id, trending score) of open recent stories: the trending job rescores without touching updated_at."""
    stmt = select(Story.id, Story.trending_score).where(
        Story.status == OPEN, Story.last_seen_at >= seen_since
    )
    return (await session.execute(stmt)).all()


async def outlet_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(Source.id, Source.title, Source.feed_url))
    return {r.id: r.title or r.feed_url for r in rows}


async def feedback_with_stories(
    session: AsyncSession, user_id: int, *, after_id: int, up_to_id: int | None, limit: int
) -> Sequence[Any]:
    """A listener's newest events after ``after_id`` (at most ``limit``), with each story's centroid.

    Only this listener's rows: the profile of one listener never reads another's feedback.
    """
    stmt = (
        select(
            FeedbackEvent.id,
            FeedbackEvent.story_id,
            FeedbackEvent.kind,
            FeedbackEvent.percent,
            FeedbackEvent.created_at,
            Story.centroid,
            Story.category,
            Story.title,
        )
        .join(Story, Story.id == FeedbackEvent.story_id)
        .where(FeedbackEvent.user_id == user_id, FeedbackEvent.id > after_id)
        .order_by(FeedbackEvent.id.desc())
        .limit(limit)
    )
    if up_to_id is not None:
        stmt = stmt.where(FeedbackEvent.id <= up_to_id)
    return (await session.execute(stmt)).all()


async def listener_stamp(session: AsyncSession, user_id: int) -> tuple[datetime | None, int]:
    """When the listener's preferences last changed and their newest feedback event id, in one query.

    Equal to what a cached profile was built from, nothing else needs reading.
    """
    prefs = select(Preferences.updated_at).where(Preferences.user_id == user_id).scalar_subquery()
    newest = select(func.max(FeedbackEvent.id)).where(FeedbackEvent.user_id == user_id).scalar_subquery()
    row = (await session.execute(select(prefs.label("prefs"), newest.label("newest")))).one()
    return row.prefs, int(row.newest or 0)
