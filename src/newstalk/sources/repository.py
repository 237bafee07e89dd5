"""Queries on sources."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.sources.models import ACTIVE, Source


async def get(session: AsyncSession, source_id: int) -> Source | None:
    return await session.get(Source, source_id)


async def get_by_url(session: AsyncSession, feed_url: str) -> Source | None:
    return await session.scalar(select(Source).where(Source.feed_url == feed_url))


async def list_page(session: AsyncSession, *, after_id: int | None, limit: int) -> Sequence[Source]:
    stmt = select(Source).order_by(Source.id).limit(limit)
    if after_id is not None:
        stmt = stmt.where(Source.id > after_id)
    return (await session.scalars(stmt)).all()


async def list_all(session: AsyncSession) -> Sequence[Source]:
    return (await session.scalars(select(Source).order_by(Source.id))).all()


async def due(session: AsyncSession, now: datetime, *, limit: int) -> Sequence[int]:
    stmt = (
        select(Source.id)
        .where(Source.status == ACTIVE, Source.next_fetch_at <= now)
        .order_by(Source.next_fetch_at)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def push_back(session: AsyncSession, ids: Sequence[int], until: datetime) -> None:
    """Keep the scheduler from enqueueing these again while their poll is pending."""
    await session.execute(update(Source).where(Source.id.in_(ids)).values(next_fetch_at=until))
