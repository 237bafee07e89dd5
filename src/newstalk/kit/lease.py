"""A named lease in the database: one holder at a time, taken over when it is not renewed.

A single-writer stage (``stories``) runs on several workers; the one holding the lease
works, the others wait as hot standbys. The holder renews the lease inside each unit it
commits (:func:`renew`, so a holder that lost the lease cannot commit: its unit rolls
back) and between units (:func:`acquire`). A holder that dies stops renewing; once
``expires_at`` passes, the first standby to ask takes the lease. A holder that stops
cleanly hands the lease back at once (:func:`release`).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import String, case, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, Database, UTCDateTime, utcnow


class StageLease(Base):
    """Who holds a single-writer stage, and until when."""

    __tablename__ = "stage_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())


def new_holder() -> str:
    """A holder id unique to this process and call: host, pid and a random part."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


async def acquire(db: Database, name: str, holder: str, ttl_s: float) -> bool:
    """Take or renew the lease (own transaction); True when ``holder`` holds it for ``ttl_s`` more."""
    now = utcnow()
    async with db.unit() as uow:
        session = uow.session
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(StageLease)
        created = await session.execute(
            ins.on_conflict_do_nothing(index_elements=["name"]),
            [
                {
                    "name": name,
                    "holder": holder,
                    "expires_at": now + timedelta(seconds=ttl_s),
                    "acquired_at": now,
                }
            ],
        )
        if _count(created):
            return True
        taken = await session.execute(
            update(StageLease)
            .where(StageLease.name == name, or_(StageLease.holder == holder, StageLease.expires_at < now))
            .values(
                holder=holder,
                expires_at=now + timedelta(seconds=ttl_s),
                # A takeover starts a new tenure; a renewal keeps the first acquired_at.
                acquired_at=case((StageLease.holder == holder, StageLease.acquired_at), else_=now),
            )
        )
        return _count(taken) == 1


async def renew(session: AsyncSession, name: str, holder: str, ttl_s: float) -> bool:
    """Renew inside the caller's transaction; False when another holder has taken the lease.

    A lease that ran out while its holder worked (a long first batch) is still the holder's
    until someone else takes it, so only a takeover makes this fail.
    """
    now = utcnow()
    result = await session.execute(
        update(StageLease)
        .where(StageLease.name == name, StageLease.holder == holder)
        .values(expires_at=now + timedelta(seconds=ttl_s))
    )
    return _count(result) == 1


async def release(db: Database, name: str, holder: str) -> None:
    """Hand the lease back (expire it now) if ``holder`` has it, so a standby need not wait."""
    async with db.unit() as uow:
        await uow.session.execute(
            update(StageLease)
            .where(StageLease.name == name, StageLease.holder == holder)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def _count(result: object) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
