"""The embedded transport: a durable queue table in the service database.

Claims take a lease; a worker that dies leaves its jobs to be reclaimed when the lease
ends. A job is completed by deleting its row in the same transaction as the handler's
results, guarded by the lease token, so a job's effects commit exactly once. On
PostgreSQL several workers share the table with FOR UPDATE SKIP LOCKED; SQLite
serializes writers itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Index,
    SmallInteger,
    String,
    Text,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit import logs, tracing
from newstalk.kit.bus import CONTEXT_KEY, Event, Job, LeaseLost, QueueDepth, Routes
from newstalk.kit.db import Base, BigId, Database, UTCDateTime, larger, smaller, utcnow

READY = "ready"
RUNNING = "running"
DEAD = "dead"
# Not a stored status: a ready job whose ``available_at`` is still ahead (``depth``).
HELD = "held"


class QueueJob(Base):
    __tablename__ = "queue_jobs"
    __table_args__ = (
        Index("ix_queue_jobs_claim", "stage", "status", "available_at"),
        Index(
            "uq_queue_jobs_pending_key",
            "stage",
            "dedup_key",
            unique=True,
            sqlite_where=text("status <> 'dead'"),
            postgresql_where=text("status <> 'dead'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    stage: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(128))
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    status: Mapped[str] = mapped_column(String(16), default=READY)
    attempts: Mapped[int] = mapped_column(default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Higher is claimed first among a stage's due jobs (``Event.priority``).
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(36))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class DbQueueTransport:
    """Queue-table transport for the embedded shape and for PostgreSQL without Kafka."""

    def __init__(self, db: Database, routes: Routes) -> None:
        self.db = db
        self.routes = routes

    async def publish(self, session: AsyncSession, events: Sequence[Event]) -> None:
        now = utcnow()
        origin = {**tracing.inject()}
        request_id = logs.bound().get("request_id")
        if request_id:
            origin["request_id"] = str(request_id)
        contexts = {id(ev): {**origin, "event_id": uuid.uuid4().hex} for ev in events}
        pairs = [
            (
                {
                    "stage": stage,
                    "topic": ev.topic,
                    "dedup_key": ev.key,
                    "payload": {**ev.payload, CONTEXT_KEY: contexts[id(ev)]},
                    "status": READY,
                    "attempts": 0,
                    "available_at": now + timedelta(seconds=ev.delay_s) if ev.delay_s else now,
                    "priority": ev.priority,
                    "first_seen_at": ev.first_seen_at,
                    "created_at": now,
                },
                ev.hurry,
            )
            for ev in events
            for stage in self.routes.stages_for(ev.topic)
        ]
        if not pairs:
            return
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(QueueJob)
        keep = [row for row, hurry in pairs if not hurry]
        if keep:
            stmt = ins.on_conflict_do_nothing(
                index_elements=["stage", "dedup_key"], index_where=text("status <> 'dead'")
            )
            await session.execute(stmt, keep)
        hurry_rows = [row for row, hurry in pairs if hurry]
        if hurry_rows:
            # A waiting job for the key comes forward (earlier time, higher priority); one that a
            # worker holds is left alone.
            stmt = ins.on_conflict_do_update(
                index_elements=["stage", "dedup_key"],
                index_where=text("status <> 'dead'"),
                set_={
                    "available_at": smaller(ins.excluded.available_at, QueueJob.available_at),
                    "priority": larger(ins.excluded.priority, QueueJob.priority),
                },
                where=QueueJob.status == READY,
            )
            await session.execute(stmt, hurry_rows)

    async def claim(self, stage: str, *, limit: int, lease_s: float) -> list[Job]:
        now = utcnow()
        token = str(uuid.uuid4())
        claimable = (
            select(QueueJob.id)
            .where(
                QueueJob.stage == stage,
                or_(
                    and_(QueueJob.status == READY, QueueJob.available_at <= now),
                    and_(QueueJob.status == RUNNING, QueueJob.lease_until < now),
                ),
            )
            .order_by(QueueJob.priority.desc(), QueueJob.available_at, QueueJob.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.db.unit() as uow:
            ids = list((await uow.session.scalars(claimable)).all())
            if not ids:
                return []
            await uow.session.execute(
                update(QueueJob)
                .where(QueueJob.id.in_(ids))
                .values(
                    status=RUNNING,
                    lease_until=now + timedelta(seconds=lease_s),
                    lease_token=token,
                    attempts=QueueJob.attempts + 1,
                )
            )
            rows = (
                await uow.session.scalars(select(QueueJob).where(QueueJob.id.in_(ids)).order_by(QueueJob.id))
            ).all()
            return [_job(r, token) for r in rows]

    async def complete(self, session: AsyncSession, job: Job) -> None:
        result = await session.execute(
            delete(QueueJob).where(QueueJob.id == job.id, QueueJob.lease_token == job.lease_token)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(f"pipeline: job {job.id} ({job.stage}) was taken over by another worker")

    async def complete_many(self, session: AsyncSession, jobs: Sequence[Job]) -> None:
        # The jobs of one claim share its lease token: one DELETE per claim.
        by_token: dict[str, list[int]] = {}
        for job in jobs:
            by_token.setdefault(job.lease_token, []).append(job.id)
        for token, ids in by_token.items():
            result = await session.execute(
                delete(QueueJob).where(QueueJob.id.in_(ids), QueueJob.lease_token == token)
            )
            done = int(result.rowcount)  # type: ignore[attr-defined]
            if done != len(ids):
                raise LeaseLost(
                    f"pipeline: {len(ids) - done} of {len(ids)} {jobs[0].stage} jobs were taken over "
                    "by another worker"
                )

    async def fail(self, job: Job, error: str, *, retry_at: datetime | None) -> None:
        values: dict[str, Any] = {
            "last_error": error[:4000],
            "lease_until": None,
            "lease_token": None,
        }
        if retry_at is None:
            values["status"] = DEAD
        else:
            values.update(status=READY, available_at=retry_at)
        async with self.db.unit() as uow:
            await uow.session.execute(
                update(QueueJob)
                .where(QueueJob.id == job.id, QueueJob.lease_token == job.lease_token)
                .values(**values)
            )

    async def release(self, jobs: Sequence[Job]) -> None:
        if not jobs:
            return
        async with self.db.unit() as uow:
            for job in jobs:
                await uow.session.execute(
                    update(QueueJob)
                    .where(QueueJob.id == job.id, QueueJob.lease_token == job.lease_token)
                    .values(
                        status=READY,
                        lease_until=None,
                        lease_token=None,
                        attempts=QueueJob.attempts - 1,
                        available_at=utcnow(),
                    )
                )

    async def ack(self, stage: str, jobs: Sequence[Job]) -> None:
        """Nothing to do: ``complete`` deleted each job in its own transaction."""

    async def aclose(self) -> None:
        """Nothing to close: the queue lives in the database."""

    async def depth(self) -> list[QueueDepth]:
        """Jobs per stage and status; ready jobs not due yet (debounce, retry backoff, a full
        script behind its first edition) count as ``held``, not as backlog."""
        now = utcnow()
        jobs = select(
            QueueJob.stage,
            case(
                (and_(QueueJob.status == READY, QueueJob.available_at > now), literal(HELD)),
                else_=QueueJob.status,
            ).label("status"),
        ).subquery()
        async with self.db.read() as session:
            # Grouped outside: PostgreSQL does not match a GROUP BY to a select-list CASE with its own parameter.
            rows = await session.execute(
                select(jobs.c.stage, jobs.c.status, func.count()).group_by(jobs.c.stage, jobs.c.status)
            )
            return [QueueDepth(stage=s, status=st, count=c) for s, st, c in rows.all()]

    async def lag(self, stage: str) -> int | None:
        """None: the queue table has no consumer lag (``depth`` counts its backlog)."""
        return None

    async def oldest_due(self) -> dict[str, datetime]:
        # Held-back jobs (debounce delays, retry backoff) are not late until they are due.
        now = utcnow()
        async with self.db.read() as session:
            rows = await session.execute(
                select(QueueJob.stage, func.min(QueueJob.available_at))
                .where(QueueJob.status.in_((READY, RUNNING)), QueueJob.available_at <= now)
                .group_by(QueueJob.stage)
            )
            # min() keeps the column's type, so values come back timezone-aware like the column's.
            return {stage: at for stage, at in rows.all() if at is not None}

    async def dead_jobs(self, *, stage: str | None, limit: int, after_id: int | None) -> list[QueueJob]:
        """Dead-lettered jobs, oldest first, for the API."""
        stmt = select(QueueJob).where(QueueJob.status == DEAD)
        if stage:
            stmt = stmt.where(QueueJob.stage == stage)
        if after_id is not None:
            stmt = stmt.where(QueueJob.id > after_id)
        async with self.db.read() as session:
            return list((await session.scalars(stmt.order_by(QueueJob.id).limit(limit))).all())

    async def retry_dead(self, job_id: int) -> bool:
        """Put a dead job back in line; False when no dead job has this id.

        When the same work is already pending again (same stage and key), the dead row is
        dropped instead: the pending job does it.
        """
        async with self.db.unit() as uow:
            dead = await uow.session.scalar(
                select(QueueJob).where(QueueJob.id == job_id, QueueJob.status == DEAD).with_for_update()
            )
            if dead is None:
                return False
            if dead.dedup_key is not None:
                twin = await uow.session.scalar(
                    select(QueueJob.id).where(
                        QueueJob.stage == dead.stage,
                        QueueJob.dedup_key == dead.dedup_key,
                        QueueJob.status != DEAD,
                    )
                )
                if twin is not None:
                    await uow.session.delete(dead)
                    return True
            dead.status, dead.attempts, dead.available_at, dead.last_error = READY, 0, utcnow(), None
            return True


def _job(row: QueueJob, token: str) -> Job:
    payload = dict(row.payload)
    context = payload.pop(CONTEXT_KEY, None)
    return Job(
        id=row.id,
        stage=row.stage,
        topic=row.topic,
        key=row.dedup_key,
        payload=payload,
        first_seen_at=row.first_seen_at,
        attempts=row.attempts,
        lease_token=token,
        context={str(k): str(v) for k, v in context.items()} if isinstance(context, dict) else {},
    )
