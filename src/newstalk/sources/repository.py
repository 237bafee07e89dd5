"""Queries on sources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, update
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
    return (await poll_targets(session, [source_id])).get(source_id)


async def poll_targets(session: AsyncSession, source_ids: Sequence[int]) -> dict[int, PollTarget]:
    """The columns a poll needs for many sources in one Core SELECT (a claim's polls); no ORM object."""
    if not source_ids:
        return {}
    rows = await session.execute(
        select(
            Source.id,
            Source.feed_url,
            Source.status,
            Source.etag,
            Source.last_modified,
            Source.fetch_interval_s,
        ).where(Source.id.in_(sorted(set(source_ids))))
    )
    return {int(r[0]): PollTarget(*r[1:]) for r in rows}


@dataclass(frozen=True, slots=True)
class NotModified:
    """One poll answered 304: which source, when, and when to poll it next."""

    source_id: int
    at: datetime
    next_fetch_at: datetime


async def mark_not_modified(session: AsyncSession, polls: Sequence[NotModified], *, status: str) -> None:
    """The whole bookkeeping of many 304s in one UPDATE (executemany): counters, health, next poll."""
    if not polls:
        return
    table = cast(Table, Source.__table__)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            fetch_count=table.c.fetch_count + 1,
            not_modified_count=table.c.not_modified_count + 1,
            consecutive_failures=0,
            last_error=None,
            last_fetched_at=bindparam("b_at"),
            last_success_at=bindparam("b_at"),
            last_status=status,
            next_fetch_at=bindparam("b_next"),
            updated_at=bindparam("b_at"),
        )
    )
    conn = await session.connection()
    await conn.execute(stmt, [{"b_id": p.source_id, "b_at": p.at, "b_next": p.next_fetch_at} for p in polls])


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
