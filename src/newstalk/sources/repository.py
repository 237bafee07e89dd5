"""Queries on sources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.sources.models import ACTIVE, Source


async def get(session: AsyncSession, source_id: int) -> Source | None:
    return await session.get(Source, source_id)


@dataclass(frozen=True, slots=True)
class PollTarget:
    """What a poll needs before fetching: where, whether, and the conditional-GET validators."""

    feed_url: str
    status: str
    etag: str | None
    last_modified: str | None
    fetch_interval_s: int


async def poll_target(session: AsyncSession, source_id: int) -> PollTarget | None:
    """One Core SELECT of the columns a poll needs; no ORM object is loaded."""
    row = (
        await session.execute(
            select(
                Source.feed_url, Source.status, Source.etag, Source.last_modified, Source.fetch_interval_s
            ).where(Source.id == source_id)
        )
    ).one_or_none()
    return None if row is None else PollTarget(*row)


async def mark_not_modified(
    session: AsyncSession, source_id: int, *, now: datetime, next_fetch_at: datetime, status: str
) -> None:
    """The whole bookkeeping of a 304 in one UPDATE: counters, health and the next poll time."""
    await session.execute(
        update(Source)
        .where(Source.id == source_id)
        .values(
            fetch_count=Source.fetch_count + 1,
            not_modified_count=Source.not_modified_count + 1,
            consecutive_failures=0,
            last_error=None,
            last_fetched_at=now,
            last_success_at=now,
            last_status=status,
            next_fetch_at=next_fetch_at,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


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
