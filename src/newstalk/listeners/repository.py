"""Queries for preferences, outlet choices and feedback events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.listeners.models import FeedbackEvent, ListeningPosition, OutletChoice, Preferences
from newstalk.sources.models import Source


async def get_preferences(session: AsyncSession, user_id: int) -> Preferences | None:
    return await session.get(Preferences, user_id)


async def outlet_choices(session: AsyncSession, user_id: int) -> Sequence[OutletChoice]:
    stmt = select(OutletChoice).where(OutletChoice.user_id == user_id).order_by(OutletChoice.source_id)
    return (await session.execute(stmt)).scalars().all()


async def replace_outlet_choices(session: AsyncSession, user_id: int, choices: dict[int, str]) -> None:
    await session.execute(delete(OutletChoice).where(OutletChoice.user_id == user_id))
    session.add_all(OutletChoice(user_id=user_id, source_id=sid, stance=st) for sid, st in choices.items())


async def existing_source_ids(session: AsyncSession, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    rows = await session.execute(select(Source.id).where(Source.id.in_(ids)))
    return {r[0] for r in rows}


async def add_feedback(session: AsyncSession, event: FeedbackEvent) -> FeedbackEvent:
    session.add(event)
    await session.flush()
    return event


async def list_feedback(
    session: AsyncSession, user_id: int, *, story_id: int | None, before_id: int | None, limit: int
) -> Sequence[FeedbackEvent]:
    """A listener's events, newest first; only theirs."""
    stmt = select(FeedbackEvent).where(FeedbackEvent.user_id == user_id)
    if story_id is not None:
        stmt = stmt.where(FeedbackEvent.story_id == story_id)
    if before_id is not None:
        stmt = stmt.where(FeedbackEvent.id < before_id)
    stmt = stmt.order_by(FeedbackEvent.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def active_listeners(session: AsyncSession, since: datetime) -> int:
    """Accounts with any feedback event since ``since``."""
    count = await session.scalar(
        select(func.count(func.distinct(FeedbackEvent.user_id))).where(FeedbackEvent.created_at >= since)
    )
    return int(count or 0)


async def get_position(session: AsyncSession, user_id: int, audio_id: str) -> ListeningPosition | None:
    return await session.get(ListeningPosition, (user_id, audio_id))
