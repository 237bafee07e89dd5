"""The scheduler: turn sources that are due into poll jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from newstalk.kit import metrics
from newstalk.kit.db import utcnow
from newstalk.kit.periodic import PeriodicJob
from newstalk.pipeline.stages import STAGE_NAMES
from newstalk.sources import repository
from newstalk.sources.service import poll_event

if TYPE_CHECKING:
    from newstalk.pipeline.context import StageServices

log = logging.getLogger(__name__)

DUE_BATCH = 1000
PERIODIC_EVERY_S = 60.0
QUEUE_STATUSES = ("ready", "held", "running", "dead")


async def enqueue_due(services: StageServices) -> int:
    """Enqueue a poll for every active source whose time has come; returns how many."""
    now = utcnow()
    async with services.db.unit() as uow:
        ids = await repository.due(uow.session, now, limit=DUE_BATCH)
        if not ids:
            return 0
        # The collect stage sets the real next time; this only stops a second enqueue meanwhile.
        await repository.push_back(uow.session, ids, now + timedelta(seconds=services.settings.poll_min_s))
        for source_id in ids:
            uow.emit(poll_event(source_id, now))
    return len(ids)


async def refresh_queue_depth(services: StageServices) -> None:
    """Copy queue depth and the age of each stage's oldest due job into gauges (read at scrape time too)."""
    counts = {(row.stage, row.status): row.count for row in await services.transport.depth()}
    metrics.QUEUE_DEPTH.clear()
    # Every stage and status has a series (0 when empty), so dashboards and alerts see an empty
    # queue as 0, not as missing data.
    for key in {(stage, status) for stage in STAGE_NAMES for status in QUEUE_STATUSES} | set(counts):
        metrics.QUEUE_DEPTH.labels(*key).set(counts.get(key, 0))
    oldest = await services.transport.oldest_due()
    now = utcnow()
    for stage in STAGE_NAMES:
        due = oldest.get(stage)
        metrics.QUEUE_OLDEST_AGE.labels(stage).set(max(0.0, (now - due).total_seconds()) if due else 0.0)


async def run_scheduler(
    services: StageServices, stop: asyncio.Event, periodic: Sequence[PeriodicJob[StageServices]] = ()
) -> None:
    """Tick until ``stop``: enqueue due polls, refresh gauges, and about once a minute run ``periodic``.

    The periodic jobs come from the caller (``pipeline.periodic.periodic_jobs``), so the
    scheduler does not import the domains that own them.
    """
    from newstalk.sources.websub import renew_expiring

    tick = services.settings.scheduler_tick_s
    last_renewal = time.monotonic() - PERIODIC_EVERY_S  # the first tick runs them
    while not stop.is_set():
        try:
            count = await enqueue_due(services)
            if count:
                log.debug("scheduler: enqueued %d polls", count)
            await refresh_queue_depth(services)
            if time.monotonic() - last_renewal >= PERIODIC_EVERY_S:
                await renew_expiring(services)
                for job in periodic:
                    await job.run(services)
                last_renewal = time.monotonic()
        except Exception:
            log.exception("scheduler: tick failed; trying again in %.0fs", tick)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)
