"""Queries for push devices."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.delivery.push_models import PushDevice
from newstalk.listeners.models import Preferences


async def device_by_token(session: AsyncSession, token: str) -> PushDevice | None:
    return (await session.execute(select(PushDevice).where(PushDevice.token == token))).scalar_one_or_none()


async def devices_of(session: AsyncSession, user_id: int) -> Sequence[PushDevice]:
    rows = await session.execute(
        select(PushDevice).where(PushDevice.user_id == user_id).order_by(PushDevice.id)
    )
    return rows.scalars().all()


async def delete_tokens(session: AsyncSession, tokens: Sequence[str], *, user_id: int | None = None) -> int:
    stmt = delete(PushDevice).where(PushDevice.token.in_(list(tokens)))
    if user_id is not None:
        stmt = stmt.where(PushDevice.user_id == user_id)
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def devices_with_preferences(session: AsyncSession) -> list[tuple[PushDevice, Preferences]]:
    """Every device whose listener has preferences (listeners without any follow nothing)."""
    rows = await session.execute(
        select(PushDevice, Preferences).join(Preferences, Preferences.user_id == PushDevice.user_id)
    )
    return [(row[0], row[1]) for row in rows.all()]
