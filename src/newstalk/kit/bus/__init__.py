"""Pipeline transport: events, jobs and the interface every transport implements.

A stage consumes the topics it subscribes to and emits new events inside the same
transaction as its results (see ``UnitOfWork.emit``). Delivery is at-least-once;
handlers are idempotent, keyed by content hashes. The embedded transport is a queue
table in the service database (``dbqueue``); the Kafka transport (``kafka``, chosen by
``NEWSTALK_BUS=kafka``) plugs in behind the same interface, publishing through an outbox
table (``outbox``) in the same transaction, without touching domain code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Event:
    """A fact one stage tells the next; ``key`` deduplicates pending work per stage.

    ``delay_s`` holds the job back that long. With a key it debounces: while one delayed
    job for the key is pending, the same event again is dropped, so a burst of events
    becomes one job that runs after the delay and reads the newest state.

    ``priority`` orders a stage's due jobs on the queue table (higher first, then oldest
    first): a story's short first edition is spoken before full scripts that fell due
    meanwhile. Kafka keeps each partition's order and ignores it (docs/pipeline.md).

    ``hurry``: when a job for the key is still waiting (held back by its delay, or queued at
    a lower priority), bring it forward to this event's time and priority instead of dropping
    this event (a listener asked for audio the pipeline had scheduled for later). On Kafka it
    brings forward the unsent outbox row.
    """

    topic: str
    key: str | None
    payload: Mapping[str, Any]
    first_seen_at: datetime
    delay_s: float = 0.0
    priority: int = 0
    hurry: bool = False


# The payload key under which an event carries where it came from: ``event_id`` (one per
# event, shared by its jobs in every stage), the publishing request's ``request_id`` and W3C
# trace headers. The transport adds it on publish and moves it to ``Job.context`` on claim,
# so handlers never see it.
CONTEXT_KEY = "_ctx"


@dataclass(frozen=True, slots=True)
class Job:
    """One delivery of an event to one stage, leased to one worker."""

    id: int
    stage: str
    topic: str
    key: str | None
    payload: dict[str, Any]
    first_seen_at: datetime
    attempts: int
    lease_token: str
    # Where the event came from (``CONTEXT_KEY``): event_id, request_id, traceparent.
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueDepth:
    stage: str
    status: str
    count: int


@dataclass(slots=True)
class Routes:
    """Which stages receive which topics; static, so every process routes alike."""

    by_topic: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, stage: str, topics: Sequence[str]) -> None:
        for topic in topics:
            current = self.by_topic.get(topic, ())
            if stage not in current:
                self.by_topic[topic] = (*current, stage)

    def stages_for(self, topic: str) -> tuple[str, ...]:
        return self.by_topic.get(topic, ())


class LeaseLost(Exception):
    """Another worker took this job over after our lease expired; our results roll back."""


class Transport(Protocol):
    """What the pipeline needs from a transport."""

    async def publish(self, session: AsyncSession, events: Sequence[Event]) -> None:
        """Write events inside the caller's transaction."""

    async def claim(self, stage: str, *, limit: int, lease_s: float) -> list[Job]:
        """Lease up to ``limit`` ready jobs of a stage (own transaction)."""

    async def complete(self, session: AsyncSession, job: Job) -> None:
        """Mark a job done inside the handler's transaction; raise LeaseLost if not ours."""

    async def complete_many(self, session: AsyncSession, jobs: Sequence[Job]) -> None:
        """Mark several jobs done in one statement inside the caller's transaction.

        Raises LeaseLost if any of them is not ours any more; the caller rolls back and
        completes them one by one.
        """

    async def fail(self, job: Job, error: str, *, retry_at: datetime | None) -> None:
        """Record a failure: retry at ``retry_at`` or dead-letter when it is None."""

    async def release(self, jobs: Sequence[Job]) -> None:
        """Give leased jobs back unprocessed (shutdown)."""

    async def ack(self, stage: str, jobs: Sequence[Job]) -> None:
        """The last claim of ``stage`` is settled (each job committed, failed or released).

        The queue table has nothing left to do; Kafka commits the consumer offsets here, after
        the transactions, never before.
        """

    async def depth(self) -> list[QueueDepth]:
        """Pending, running and dead counts per stage."""

    async def oldest_due(self) -> dict[str, datetime]:
        """Per stage, when its oldest due job (ready or running) became due; stages with none absent."""

    async def lag(self, stage: str) -> int | None:
        """Records of ``stage`` this process's consumer has not read yet; None where the transport
        has no such thing (the queue table: its depth is the backlog) or before it joined."""

    async def dead_jobs(self, *, stage: str | None, limit: int, after_id: int | None) -> Sequence[Any]:
        """Dead-lettered jobs (rows of the queue table), oldest first."""

    async def retry_dead(self, job_id: int) -> bool:
        """Put a dead job back in line; False when no dead job has this id."""

    async def aclose(self) -> None:
        """Close broker connections (nothing for the queue table)."""
