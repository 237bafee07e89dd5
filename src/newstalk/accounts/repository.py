"""Queries for users, login sessions, refresh tokens and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.accounts.models import ApiKey, AuthSession, RefreshToken, User


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def list_users(session: AsyncSession, *, after_id: int | None, limit: int) -> Sequence[User]:
    stmt = select(User).order_by(User.id).limit(limit)
    if after_id is not None:
        stmt = stmt.where(User.id > after_id)
    return (await session.execute(stmt)).scalars().all()


async def delete_user(session: AsyncSession, user_id: int) -> bool:
    """Delete a user; foreign keys cascade to everything that is theirs.

    Personal podcast feeds carry the listener's id without a foreign key (shared feeds have
    none), so they go explicitly: their token must stop working with the account.
    """
    from newstalk.briefings.models import PodcastSubscription

    await session.execute(delete(PodcastSubscription).where(PodcastSubscription.listener_id == user_id))
    result = await session.execute(delete(User).where(User.id == user_id))
    return bool(getattr(result, "rowcount", 0))


async def user_with_live_session(
    session: AsyncSession, user_id: int, session_id: int, now: datetime
) -> User | None:
    """The user if the login session exists, belongs to them, and is neither revoked nor expired."""
    stmt = (
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            User.id == user_id,
            AuthSession.id == session_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_session(session: AsyncSession, session_id: int) -> AuthSession | None:
    return await session.get(AuthSession, session_id)


async def claim_refresh_token(session: AsyncSession, token_hash: str, now: datetime) -> int | None:
    """Mark an unused refresh token used and return its session id; None if it was used or unknown.

    One UPDATE decides, so two concurrent refreshes with one token cannot both win.
    """
    stmt = (
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .returning(RefreshToken.session_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def revoke_session(session: AsyncSession, session_id: int, reason: str, now: datetime) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


async def api_key_owner(session: AsyncSession, key_hash: str) -> tuple[ApiKey, User] | None:
    """The live (unrevoked) key with this hash and its user."""
    stmt = (
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    row = (await session.execute(stmt)).one_or_none()
    return (row[0], row[1]) if row else None


async def list_api_keys(session: AsyncSession, user_id: int) -> Sequence[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id)
    return (await session.execute(stmt)).scalars().all()


async def count_live_api_keys(session: AsyncSession, user_id: int) -> int:
    stmt = select(ApiKey.id).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
    return len((await session.execute(stmt)).all())


async def get_api_key(session: AsyncSession, user_id: int, key_id: int) -> ApiKey | None:
    """A key by id, only if it is this user's: someone else's key is 'not found'."""
    stmt = select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def touch_api_key(session: AsyncSession, key_id: int, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
