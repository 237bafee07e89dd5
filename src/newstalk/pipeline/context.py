"""What a stage handler is given: the process's services, seen through a small Protocol.

Domain ``tasks.py`` and services type their ``services`` argument with
:class:`StageServices` instead of importing ``newstalk.runtime``, so domains depend on
this low module and ``kit`` only; ``runtime.Services`` satisfies the Protocol. Imports
from ``newstalk`` here are ``kit``, ``config`` and ``errors`` (and, for typing only, the
live-event broadcaster), never a domain at run time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from newstalk.kit.bus import Job, Transport
from newstalk.kit.db import UnitOfWork

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.kit.db import Database
    from newstalk.kit.http import Fetcher
    from newstalk.kit.pubsub import Broadcaster
    from newstalk.kit.ratelimit import Limiter
    from newstalk.kit.resources import Resources


class StageServices(Protocol):
    """The process-wide services a handler, service or endpoint may use."""

    settings: Settings
    db: Database
    transport: Transport
    fetcher: Fetcher
    limiter: Limiter
    broadcaster: Broadcaster[Any]
    parse_pool: Executor | None
    # Models, engines and stores built on first use and shared in this process.
    resources: Resources

    def restart_parse_pool(self) -> None:
        """Replace a broken parse pool."""


Handler = Callable[["JobContext"], Awaitable[None]]
BatchHandler = Callable[["BatchContext"], Awaitable[None]]
Gate = Callable[[StageServices], Awaitable[bool]]
# Reads what every job of a claim needs in one query before the jobs run (``Stage.prefetch``).
Prefetch = Callable[[StageServices, Sequence["Job"]], Awaitable[Any]]
# Writes the results of many jobs at once (one statement where it can), inside the unit given.
BatchWrite = Callable[[UnitOfWork, Sequence[Any]], Awaitable[None]]


class JobContext:
    """What a handler gets: the services, its job, and the unit that completes the job."""

    def __init__(self, services: StageServices, job: Job, claim: Any = None) -> None:
        self.services = services
        self.job = job
        # What the stage's prefetch read for the whole claim (None: read your own).
        self.claim = claim
        self.completed = False
        self.deferred: tuple[BatchWrite, Any] | None = None

    def commit_later(self, write: BatchWrite, item: Any) -> None:
        """Leave this job's results to the worker, to commit with the claim's other deferred jobs.

        The worker calls ``write(uow, items)`` once for every deferred job of a claim that
        shares ``write``, and completes those jobs, in one transaction; if that transaction
        fails it calls ``write(uow, [item])`` per job in the job's own transaction, so one
        bad item undoes no other. For small results that emit no events (a 304's bookkeeping).
        """
        if self.completed or self.deferred is not None:
            raise RuntimeError(f"pipeline: job {self.job.id} committed twice")
        self.deferred = (write, item)

    @asynccontextmanager
    async def commit(self) -> AsyncIterator[UnitOfWork]:
        """The one transaction holding this job's results, emitted events and completion."""
        if self.completed:
            raise RuntimeError(f"pipeline: job {self.job.id} committed twice")
        async with self.services.db.unit() as uow:
            yield uow
            await self.services.transport.complete(uow.session, self.job)
        self.completed = True


class BatchContext:
    """What a batch handler gets: its jobs and the one unit that completes them all."""

    def __init__(self, services: StageServices, jobs: list[Job]) -> None:
        self.services = services
        self.jobs = jobs
        self.completed = False

    @asynccontextmanager
    async def commit(self) -> AsyncIterator[UnitOfWork]:
        """The transaction holding the batch's results, emitted events and every job's completion."""
        if self.completed:
            raise RuntimeError("pipeline: batch committed twice")
        async with self.services.db.unit() as uow:
            yield uow
            await self.services.transport.complete_many(uow.session, self.jobs)
        self.completed = True
