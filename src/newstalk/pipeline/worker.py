"""Runs pipeline stages: claim a batch, handle each job in its own transaction, retry or dead-letter.

A handler commits its results, the events it emits and the job's completion in one
unit (``JobContext.commit``). If the process dies first, nothing of the job is kept
and its lease runs out, so another worker redoes it: at-least-once delivery with
effects committed once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from newstalk.errors import NewsTalkError
from newstalk.kit import logs, metrics, tracing
from newstalk.kit.bus import Job, LeaseLost
from newstalk.kit.db import utcnow
from newstalk.kit.logs import describe_error
from newstalk.pipeline.context import (
    BatchContext,
    BatchHandler,
    BatchWrite,
    Gate,
    Handler,
    JobContext,
    Prefetch,
    StageServices,
)

__all__ = [
    "BatchContext",
    "BatchHandler",
    "BatchWrite",
    "Gate",
    "Handler",
    "JobContext",
    "Prefetch",
    "Stage",
    "StageWorker",
]

log = logging.getLogger(__name__)
# How often a worker copies its consumer lag (Kafka) into newstalk_kafka_lag_records.
LAG_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    topics: tuple[str, ...]
    handler: Handler
    concurrency: int = 1
    # Stages that observe per-article latency themselves (collect) turn the per-job one off.
    observe_job_latency: bool = True
    # Handles a whole claimed batch in one unit (models that batch, like embeddings). If the
    # batch fails, its jobs are handled one by one with ``handler``, so one bad job can't
    # hold back the others.
    batch_handler: BatchHandler | None = None
    # Jobs claimed at once; None: NEWSTALK_QUEUE_BATCH_SIZE. Slow stages claim fewer so a
    # batch finishes well inside its lease.
    batch_size: int | None = None
    # Where the stages of one process compete (``newstalk up``, ``newstalk worker all``), a
    # stage with a backlog goes first: a lower-priority stage waits up to
    # ``Priorities.max_defer_s`` between its claims while a higher one has one.
    priority: int = 50
    # Its guaranteed share while a higher-priority stage has a backlog: it may spend this
    # many seconds handling per second the busiest such stage spends (``Priorities``);
    # 0: it waits its turn (up to ``Priorities.max_defer_s`` per claim).
    share: float = 0.0
    # Under a backlog (the last claim came back full) a batch stage doubles its claim, up to
    # this many jobs: one batch then embeds and refreshes a story once for many articles.
    backlog_batch_size: int | None = None
    # Asked before every claim: False means this worker may not claim now (a single-writer
    # stage whose lease another worker holds; docs/pipeline.md).
    gate: Gate | None = None
    # Reads what the claim's jobs need in one query before they run (``JobContext.claim``):
    # collect reads every polled source's validators at once, not one SELECT per poll.
    prefetch: Prefetch | None = None


class Priorities:
    """How the stages of one process share it while some of them have a backlog.

    A stage has a backlog when its last claim came back full (within ``stale_s``). While a
    stage of higher priority has one, a lower stage claims only while its time spent
    handling (decayed, half-life ``half_life_s``) is at most ``Stage.share`` times that of
    the busiest stage ahead of it, and otherwise waits, never longer than ``max_defer_s``
    at a time. So stories go first, fact-checks keep a guaranteed share (weighted fair
    shares, not strict priority), and later work lags a burst without starving: its time
    decays while the stages ahead keep working, so its turn comes. A stage whose single
    claim runs long (a speech synthesis) waits in proportion, where a fixed wait per claim
    would let it hold the cores most of the time.
    """

    def __init__(
        self,
        max_defer_s: float = 300.0,
        step_s: float = 0.2,
        half_life_s: float = 60.0,
        stale_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_defer_s = max_defer_s
        self.step_s = step_s
        self.half_life_s = half_life_s
        self.stale_s = stale_s
        self.clock = clock
        self._backlog: dict[str, tuple[int, float]] = {}
        self._busy: dict[str, tuple[float, float]] = {}

    def note(self, stage: Stage, *, backlog: bool) -> None:
        """Record whether ``stage``'s last claim came back full."""
        if backlog:
            self._backlog[stage.name] = (stage.priority, self.clock())
        else:
            self._backlog.pop(stage.name, None)

    def spent(self, stage: Stage, seconds: float) -> None:
        """Record ``seconds`` of ``stage`` handling a claim."""
        self._busy[stage.name] = (self.busy(stage.name) + seconds, self.clock())
        metrics.STAGE_BUSY.labels(stage.name).inc(seconds)

    def busy(self, name: str) -> float:
        """The stage's recent handling time in seconds, each second halved every ``half_life_s``."""
        value, at = self._busy.get(name, (0.0, 0.0))
        return value * 0.5 ** ((self.clock() - at) / self.half_life_s) if value else 0.0

    def ahead(self, stage: Stage) -> list[str]:
        """The stages with a backlog and a higher priority than ``stage``.

        A backlog noted more than ``stale_s`` ago counts no more: that stage stopped claiming
        (a standby replica waiting on the writer lease) and holds nobody back.
        """
        fresh = self.clock() - self.stale_s
        return [
            name
            for name, (p, at) in self._backlog.items()
            if p > stage.priority and name != stage.name and at >= fresh
        ]

    def owed(self, stage: Stage) -> bool:
        """Whether ``stage`` may claim now: nothing ahead has a backlog, or its share is not used up."""
        ahead = self.ahead(stage)
        if not ahead:
            return True
        if stage.share <= 0:
            return False
        return self.busy(stage.name) <= stage.share * max(self.busy(n) for n in ahead)

    async def turn(self, stage: Stage, stop: asyncio.Event) -> float:
        """Wait until ``stage`` is owed a turn (at most ``max_defer_s``); returns the wait."""
        started = time.monotonic()
        while not self.owed(stage) and not stop.is_set():
            left = self.max_defer_s - (time.monotonic() - started)
            if left <= 0:
                break
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(self.step_s, left))
        waited = time.monotonic() - started
        if waited > 0.001:
            metrics.STAGE_DEFERRED.labels(stage.name).inc(waited)
        return waited


class StageWorker:
    """Claims and handles one stage's jobs until told to stop."""

    def __init__(
        self,
        services: StageServices,
        stage: Stage,
        *,
        stop: asyncio.Event | None = None,
        priorities: Priorities | None = None,
    ) -> None:
        self.services = services
        self.stage = stage
        self.stop = stop or asyncio.Event()
        self.priorities = priorities
        self._sem = asyncio.Semaphore(stage.concurrency)
        self._backlog_limit: int | None = None

    async def run(self) -> None:
        """Loop until ``stop`` is set; in-flight jobs finish, unstarted ones are released."""
        idle = self.services.settings.queue_poll_idle_s
        lag_seen = 0.0
        while not self.stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("pipeline: %s worker could not claim jobs; retrying", self.stage.name)
                handled = 0
                await asyncio.sleep(min(idle * 10, 5.0))
            if time.monotonic() - lag_seen >= LAG_EVERY_S:
                lag_seen = time.monotonic()
                await self.observe_lag()
            if handled == 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=idle)

    async def observe_lag(self) -> None:
        """Copy this process's consumer lag of the stage into its gauge (Kafka; no broker request)."""
        try:
            lag = await self.services.transport.lag(self.stage.name)
        except Exception as exc:  # a metric never stops the worker
            log.debug("pipeline: %s: lag unknown (%s)", self.stage.name, describe_error(exc))
            return
        if lag is not None:
            metrics.KAFKA_LAG.labels(self.stage.name).set(lag)

    async def run_once(self) -> int:
        """Claim one batch and handle it; returns how many jobs were claimed."""
        settings = self.services.settings
        base = max(self.stage.batch_size or settings.queue_batch_size, self.stage.concurrency)
        limit = self._backlog_limit or base
        if self.priorities is not None:
            await self.priorities.turn(self.stage, self.stop)
        if self.stage.gate is not None and not await self.stage.gate(self.services):
            return 0
        jobs = await self.services.transport.claim(
            self.stage.name, limit=limit, lease_s=settings.queue_lease_s
        )
        full = len(jobs) >= limit
        if self.priorities is not None:
            self.priorities.note(self.stage, backlog=full)
        grow = self.stage.backlog_batch_size
        self._backlog_limit = min(max(limit * 2, base), grow) if full and grow and grow > base else None
        if not jobs:
            return 0
        started = time.monotonic()
        try:
            await self._handle_claim(jobs)
        finally:
            if self.priorities is not None:
                self.priorities.spent(self.stage, time.monotonic() - started)
        return len(jobs)

    async def _handle_claim(self, jobs: list[Job]) -> None:
        transport = self.services.transport
        if self.stage.batch_handler is not None and len(jobs) > 1 and await self._handle_batch(jobs):
            await transport.ack(self.stage.name, jobs)
            return
        unstarted: list[Job] = []
        deferred: list[JobContext] = []
        claim = await self._prefetch(jobs)
        await asyncio.gather(*(self._guarded(job, unstarted, deferred, claim) for job in jobs))
        if deferred:
            await self.commit_deferred(deferred)
        if unstarted:
            await transport.release(unstarted)
        # Every job is now committed, retried or dead (or released): Kafka commits offsets here.
        await transport.ack(self.stage.name, jobs)

    async def commit_deferred(self, deferred: list[JobContext]) -> None:
        """Commit the jobs whose handlers left their writes to the worker (``JobContext.commit_later``).

        One transaction for all of them; if it fails, one per job, so a bad one undoes no other.
        """
        groups: dict[BatchWrite, list[Any]] = {}
        for ctx in deferred:
            assert ctx.deferred is not None
            write, item = ctx.deferred
            groups.setdefault(write, []).append(item)
        try:
            async with self.services.db.unit() as uow:
                for write, items in groups.items():
                    await write(uow, items)
                await self.services.transport.complete_many(uow.session, [c.job for c in deferred])
        except Exception as exc:
            log.warning(
                "pipeline: %s: committing %d jobs together failed (%s); committing them one by one",
                self.stage.name,
                len(deferred),
                describe_error(exc),
            )
            for ctx in deferred:
                await self._commit_one(ctx)
            return
        for ctx in deferred:
            ctx.completed = True
            self._done(ctx.job)

    async def _commit_one(self, ctx: JobContext) -> None:
        assert ctx.deferred is not None
        write, item = ctx.deferred
        try:
            async with ctx.commit() as uow:
                await write(uow, [item])
        except LeaseLost as exc:
            log.warning("%s", exc)
            metrics.STAGE_JOBS.labels(self.stage.name, "lease_lost").inc()
            return
        except Exception as exc:
            await self._fail(ctx.job, exc)
            return
        self._done(ctx.job)

    def _done(self, job: Job) -> None:
        metrics.STAGE_JOBS.labels(self.stage.name, "ok").inc()
        if self.stage.observe_job_latency:
            metrics.STAGE_LATENCY.labels(self.stage.name).observe(
                (utcnow() - job.first_seen_at).total_seconds()
            )

    async def _handle_batch(self, jobs: list[Job]) -> bool:
        """Try the batch handler; False means fall back to one job at a time."""
        assert self.stage.batch_handler is not None
        ctx = BatchContext(self.services, jobs)
        name = self.stage.name
        try:
            # The batch continues its first job's trace and links the others' traces.
            with (
                logs.bind(stage=name, job_id=f"{jobs[0].id}+{len(jobs) - 1}"),
                tracing.span(
                    f"{name} batch",
                    parent=jobs[0].context,
                    links=[j.context for j in jobs[1:]],
                    kind="consumer",
                    attributes={"newstalk.stage": name, "newstalk.jobs": len(jobs)},
                ),
            ):
                started = time.perf_counter()
                await self.stage.batch_handler(ctx)
                if not ctx.completed:
                    async with ctx.commit():
                        pass
                log.debug(
                    "pipeline: %s batch of %d done in %.3f s", name, len(jobs), time.perf_counter() - started
                )
        except LeaseLost as exc:
            log.warning("%s; handling the batch's jobs one by one", exc)
            return False
        except Exception as exc:
            log.warning(
                "pipeline: %s batch of %d failed (%s); handling its jobs one by one",
                self.stage.name,
                len(jobs),
                exc,
            )
            return False
        now = utcnow()
        metrics.STAGE_JOBS.labels(self.stage.name, "ok").inc(len(jobs))
        if self.stage.observe_job_latency:
            for job in jobs:
                metrics.STAGE_LATENCY.labels(self.stage.name).observe(
                    (now - job.first_seen_at).total_seconds()
                )
        return True

    async def _prefetch(self, jobs: list[Job]) -> Any:
        """The stage's claim-wide read, or None (then each handler reads its own)."""
        if self.stage.prefetch is None:
            return None
        try:
            return await self.stage.prefetch(self.services, jobs)
        except Exception as exc:
            log.warning(
                "pipeline: %s: the claim's prefetch failed (%s); jobs read their own", self.stage.name, exc
            )
            return None

    async def _guarded(self, job: Job, unstarted: list[Job], deferred: list[JobContext], claim: Any) -> None:
        async with self._sem:
            if self.stop.is_set():
                unstarted.append(job)
                return
            await self.handle(job, deferred, claim)

    async def handle(self, job: Job, deferred: list[JobContext] | None = None, claim: Any = None) -> None:
        """Run the handler for one job and record the outcome.

        A job whose handler left its writes to the worker (``JobContext.commit_later``) is
        appended to ``deferred`` for the caller to commit with others, or committed now.
        ``claim`` is what the stage's prefetch read for the claim (``JobContext.claim``).
        """
        ctx = JobContext(self.services, job, claim)
        name = self.stage.name
        started = time.perf_counter()
        with (
            logs.bind(
                stage=name,
                job_id=job.id,
                event_id=job.context.get("event_id"),
                request_id=job.context.get("request_id"),
            ),
            tracing.span(
                f"{name} {job.topic}",
                parent=job.context,
                kind="consumer",
                attributes={
                    "newstalk.stage": name,
                    "newstalk.job_id": job.id,
                    "newstalk.attempt": job.attempts,
                },
            ) as span,
        ):
            try:
                await self.stage.handler(ctx)
                if ctx.deferred is not None:
                    if deferred is not None:
                        deferred.append(ctx)
                    else:
                        await self.commit_deferred([ctx])
                    return
                if not ctx.completed:
                    async with ctx.commit():
                        pass
            except LeaseLost as exc:
                log.warning("%s", exc)
                metrics.STAGE_JOBS.labels(name, "lease_lost").inc()
                return
            except Exception as exc:
                tracing.failed(span, exc)
                await self._fail(job, exc)
                return
            log.debug("pipeline: %s job %s done in %.3f s", name, job.id, time.perf_counter() - started)
        self._done(job)

    async def _fail(self, job: Job, exc: Exception) -> None:
        settings = self.services.settings
        detail = exc.detail if isinstance(exc, NewsTalkError) else describe_error(exc)
        if job.attempts >= settings.queue_max_attempts:
            log.error(
                "pipeline: %s job %s dead-lettered after %d attempts: %s",
                job.stage,
                job.id,
                job.attempts,
                detail,
            )
            metrics.STAGE_JOBS.labels(job.stage, "dead").inc()
            await self.services.transport.fail(job, detail, retry_at=None)
            return
        delay = settings.queue_retry_base_s * (2 ** (job.attempts - 1)) * random.uniform(0.8, 1.2)
        log.warning(
            "pipeline: %s job %s failed (attempt %d), retrying in %.0fs: %s",
            job.stage,
            job.id,
            job.attempts,
            delay,
            detail,
        )
        metrics.STAGE_JOBS.labels(job.stage, "retry").inc()
        await self.services.transport.fail(job, detail, retry_at=utcnow() + timedelta(seconds=delay))
