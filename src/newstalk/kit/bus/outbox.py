"""The transactional outbox behind the Kafka transport, processed-event keys and the relay lease.

A stage's events are rows of ``bus_outbox`` written in the stage's own transaction, so they
exist exactly when its results do. The relay (:class:`Relay`, ``newstalk worker relay`` or a
task of every worker process) publishes unsent rows to Kafka in id order and marks them
sent; a relay that dies between the publish and the mark publishes them again after its
restart, and consumers drop the repeat through ``bus_processed`` (one row per stage and
event id, written in the consumer's transaction). One relay holds ``stage_leases['relay']`` (:mod:`newstalk.kit.lease`) at
a time; another takes over when the lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Index, String, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit import lease
from newstalk.kit.bus import Event
from newstalk.kit.db import Base, BigId, Database, UTCDateTime, smaller, utcnow

log = logging.getLogger(__name__)


class OutboxEvent(Base):
    """One event waiting for (or already through) the relay; its id is the event id consumers dedupe on."""

    __tablename__ = "bus_outbox"
    __table_args__ = (
        Index("ix_bus_outbox_unsent", "available_at", "id", postgresql_where=text("sent_at IS NULL")),
        # While an event is unsent, the same topic and key again is dropped (the debounce of
        # ``Event.delay_s``, as the queue table does per stage).
        Index(
            "uq_bus_outbox_pending_key",
            "topic",
            "dedup_key",
            unique=True,
            sqlite_where=text("sent_at IS NULL"),
            postgresql_where=text("sent_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(128))
    # Set for a retry of one stage's dead letter: the event goes to that stage's retry topic only.
    stage: Mapped[str | None] = mapped_column(String(64))
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    # The Kafka message key: events with the same one land on the same partition, in order.
    partition_key: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProcessedEvent(Base):
    """An event a stage has committed the results of; a redelivery of it is skipped."""

    __tablename__ = "bus_processed"

    stage: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def _insert(session: AsyncSession, model: type[Base]) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def write_outbox(
    session: AsyncSession,
    events: Sequence[Event],
    partition_key: Callable[[Event], str | None],
    *,
    stage: str | None = None,
) -> None:
    """Add events to the outbox inside the caller's transaction."""
    if not events:
        return
    now = utcnow()
    pairs = [
        (
            {
                "topic": ev.topic,
                "stage": stage,
                "dedup_key": ev.key,
                "partition_key": partition_key(ev),
                "payload": dict(ev.payload),
                "first_seen_at": ev.first_seen_at,
                "available_at": now + timedelta(seconds=ev.delay_s) if ev.delay_s else now,
                "created_at": now,
            },
            ev.hurry,
        )
        for ev in events
    ]
    ins = _insert(session, OutboxEvent)
    if keep := [row for row, hurry in pairs if not hurry]:
        stmt = ins.on_conflict_do_nothing(
            index_elements=["topic", "dedup_key"], index_where=text("sent_at IS NULL")
        )
        await session.execute(stmt, keep)
    if hurried := [row for row, hurry in pairs if hurry]:
        # An unsent event for the key is sent at the earlier of the two times (Event.hurry).
        stmt = ins.on_conflict_do_update(
            index_elements=["topic", "dedup_key"],
            index_where=text("sent_at IS NULL"),
            set_={"available_at": smaller(ins.excluded.available_at, OutboxEvent.available_at)},
        )
        await session.execute(stmt, hurried)


async def mark_processed(session: AsyncSession, stage: str, event_ids: Sequence[int]) -> int:
    """Record events as processed by ``stage`` in the caller's transaction; returns how many were new."""
    if not event_ids:
        return 0
    now = utcnow()
    rows = [{"stage": stage, "event_id": i, "processed_at": now} for i in event_ids]
    # RETURNING, not rowcount: the PostgreSQL driver reports -1 for a multi-row INSERT.
    stmt = (
        _insert(session, ProcessedEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["stage", "event_id"])
        .returning(ProcessedEvent.event_id)
    )
    return len((await session.execute(stmt)).all())


async def already_processed(db: Database, stage: str, event_ids: Sequence[int]) -> set[int]:
    """The ids among ``event_ids`` that ``stage`` has already committed."""
    if not event_ids:
        return set()
    async with db.read() as session:
        rows = await session.scalars(
            select(ProcessedEvent.event_id).where(
                ProcessedEvent.stage == stage, ProcessedEvent.event_id.in_(list(event_ids))
            )
        )
        return set(rows.all())


async def outbox_oldest_due(db: Database) -> datetime | None:
    """When the oldest unsent event became due (events held back by a delay are not late yet)."""
    stmt = select(func.min(OutboxEvent.available_at)).where(
        OutboxEvent.sent_at.is_(None), OutboxEvent.available_at <= utcnow()
    )
    async with db.read() as session:
        oldest: datetime | None = await session.scalar(stmt)
        return oldest


async def outbox_backlog(db: Database, *, due_only: bool = False) -> int:
    """Events written and not yet relayed (``due_only``: leaving out those held back by a delay)."""
    stmt = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None))
    if due_only:
        stmt = stmt.where(OutboxEvent.available_at <= utcnow())
    async with db.read() as session:
        return int(await session.scalar(stmt) or 0)


Send = Callable[[Sequence[OutboxEvent]], Awaitable[None]]
Check = Callable[[], Awaitable[bool]]


class Relay:
    """Publishes unsent outbox rows through ``send`` in id order, then marks them sent.

    ``send`` must return only when the broker has acknowledged every row it was given. A
    failed send leaves the rows unsent and is tried again after a backoff (up to 5 s).

    ``lost`` (every ``check_s`` and after a failed send) says whether the broker lost what
    was sent (its topics had to be created again); the relay then publishes again the sent
    rows still kept (``outbox_retention_s``), in id order, and consumers skip what they
    have already processed.
    """

    LEASE = "relay"

    def __init__(
        self,
        db: Database,
        send: Send,
        *,
        poll_s: float,
        lease_s: float,
        outbox_retention_s: float,
        processed_retention_s: float,
        batch: int = 500,
        lost: Check | None = None,
        check_s: float = 10.0,
    ) -> None:
        self.db = db
        self.send = send
        self.poll_s = poll_s
        self.lease_s = lease_s
        self.outbox_retention_s = outbox_retention_s
        self.processed_retention_s = processed_retention_s
        self.batch = batch
        self.lost = lost
        self.check_s = check_s
        self._last_check = 0.0
        self.holder = f"relay-{uuid.uuid4()}"
        self._lease_until = 0.0
        self._last_prune = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop``; waits as a standby while another relay holds the lease."""
        loop = asyncio.get_running_loop()
        failures = 0
        try:
            while not stop.is_set():
                wait = self.poll_s
                try:
                    if await self._hold(loop.time()):
                        if failures or loop.time() - self._last_check > self.check_s:
                            await self.check()
                            self._last_check = loop.time()
                        sent = await self.relay_once()
                        if sent >= self.batch:
                            wait = 0.0
                        if loop.time() - self._last_prune > 60:
                            await self.prune()
                            self._last_prune = loop.time()
                    else:
                        wait = max(self.poll_s, self.lease_s / 3)
                    failures = 0
                except Exception as exc:
                    failures += 1
                    wait = min(5.0, self.poll_s * 2**failures)
                    log.warning("relay: publishing failed (%s); retrying in %.1fs", exc, wait)
                if wait:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            if self._lease_until:
                with suppress(Exception):
                    await lease.release(self.db, self.LEASE, self.holder)

    async def _hold(self, now: float) -> bool:
        if now < self._lease_until - self.lease_s / 2:
            return True
        if await lease.acquire(self.db, self.LEASE, self.holder, self.lease_s):
            if not self._lease_until:
                log.info("relay: %s holds the outbox lease", self.holder)
            self._lease_until = now + self.lease_s
            return True
        self._lease_until = 0.0
        return False

    async def check(self) -> int:
        """Publish the kept sent rows again if the broker lost them; returns how many."""
        if self.lost is None or not await self.lost():
            return 0
        since = utcnow() - timedelta(seconds=self.outbox_retention_s)
        after, total = 0, 0
        while True:
            async with self.db.read() as session:
                rows = list(
                    (
                        await session.scalars(
                            select(OutboxEvent)
                            .where(
                                OutboxEvent.sent_at.is_not(None),
                                OutboxEvent.sent_at >= since,
                                OutboxEvent.id > after,
                            )
                            .order_by(OutboxEvent.id)
                            .limit(self.batch)
                        )
                    ).all()
                )
            if not rows:
                break
            await self.send(rows)
            after, total = rows[-1].id, total + len(rows)
        log.warning("relay: the broker lost its topics; published %d kept events again", total)
        return total

    async def relay_once(self) -> int:
        """Send one batch of due, unsent rows; returns how many were sent."""
        now = utcnow()
        async with self.db.read() as session:
            rows = list(
                (
                    await session.scalars(
                        select(OutboxEvent)
                        .where(OutboxEvent.sent_at.is_(None), OutboxEvent.available_at <= now)
                        .order_by(OutboxEvent.id)
                        .limit(self.batch)
                    )
                ).all()
            )
        if not rows:
            return 0
        await self.send(rows)
        async with self.db.unit() as uow:
            await uow.session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_([r.id for r in rows])).values(sent_at=utcnow())
            )
        return len(rows)

    async def prune(self) -> None:
        """Drop sent rows and processed-event keys past their retention."""
        now = utcnow()
        async with self.db.unit() as uow:
            await uow.session.execute(
                delete(OutboxEvent).where(
                    OutboxEvent.sent_at.is_not(None),
                    OutboxEvent.sent_at < now - timedelta(seconds=self.outbox_retention_s),
                )
            )
            await uow.session.execute(
                delete(ProcessedEvent).where(
                    ProcessedEvent.processed_at < now - timedelta(seconds=self.processed_retention_s)
                )
            )
