"""Queries for saved question threads; no commits here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.ask.models import AskThread, AskTurn


async def get_thread(session: AsyncSession, thread_id: int, user_id: int) -> AskThread | None:
    """The thread when it is this listener's; another listener's thread is as good as missing."""
    thread = await session.get(AskThread, thread_id)
    if thread is None or thread.user_id != user_id:
        return None
    return thread


async def recent_turns(session: AsyncSession, thread_id: int, n: int) -> list[AskTurn]:
    """The thread's last ``n`` turns, oldest first."""
    rows = (
        await session.scalars(
            select(AskTurn).where(AskTurn.thread_id == thread_id).order_by(AskTurn.position.desc()).limit(n)
        )
    ).all()
    return list(reversed(rows))


async def turns(session: AsyncSession, thread_id: int) -> list[AskTurn]:
    """Every turn of the thread, in order."""
    rows = await session.scalars(
        select(AskTurn).where(AskTurn.thread_id == thread_id).order_by(AskTurn.position)
    )
    return list(rows.all())


async def list_threads(
    session: AsyncSession, user_id: int, *, before: tuple[datetime, int] | None, limit: int
) -> list[AskThread]:
    """This listener's threads, most recently active first (keyset on updated_at, id)."""
    query = select(AskThread).where(AskThread.user_id == user_id)
    if before is not None:
        at, thread_id = before
        query = query.where(
            or_(AskThread.updated_at < at, and_(AskThread.updated_at == at, AskThread.id < thread_id))
        )
    rows = await session.scalars(
        query.order_by(AskThread.updated_at.desc(), AskThread.id.desc()).limit(limit)
    )
    return list(rows.all())


async def delete_thread(session: AsyncSession, thread_id: int, user_id: int) -> bool:
    """Delete the listener's thread (its turns go by foreign key); False when there was none."""
    result = await session.execute(
        delete(AskThread).where(AskThread.id == thread_id, AskThread.user_id == user_id)
    )
    return bool(getattr(result, "rowcount", 0))
