"""Start stage workers and the scheduler as tasks of the current event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from newstalk.kit.memory import trim_periodically
from newstalk.pipeline.bus import run_relay
from newstalk.pipeline.periodic import periodic_jobs
from newstalk.pipeline.stages import all_stages
from newstalk.pipeline.worker import Priorities, StageWorker
from newstalk.runtime import Services
from newstalk.sources.tasks import run_scheduler


def start_pipeline(
    services: Services,
    stop: asyncio.Event,
    *,
    stages: Sequence[str] | None = None,
    scheduler: bool = True,
    relay: bool | None = None,
) -> list[asyncio.Task[None]]:
    """Spawn a worker per stage (all, or the named ones) and optionally the scheduler.

    On Kafka, ``relay`` (default: when any stage runs here) adds the outbox relay and the
    dead-letter sink (``pipeline/bus.py``); one relay in the deployment publishes at a time.
    """
    chosen = all_stages(services.settings, stages)
    # Stages sharing this process share its cores: a backlog of a higher-priority stage
    # (stories before search) makes the lower ones wait their turn (Stage.priority).
    priorities = Priorities()
    tasks = [
        asyncio.create_task(
            StageWorker(services, s, stop=stop, priorities=priorities).run(), name=f"stage-{s.name}"
        )
        for s in chosen
    ]
    if relay is None:
        relay = bool(chosen)
    if relay and services.settings.bus == "kafka":
        relay_task = run_relay(services.settings, services.db, services.transport, stop)
        tasks.append(asyncio.create_task(relay_task, name="relay"))
    if scheduler:
        tasks.append(asyncio.create_task(run_scheduler(services, stop, periodic_jobs()), name="scheduler"))
    if chosen and services.settings.memory_trim_s > 0:
        # Stages free what a batch allocated; glibc keeps it unless asked (kit/memory.py).
        trim = trim_periodically(services.settings.memory_trim_s, stop)
        tasks.append(asyncio.create_task(trim, name="memory-trim"))
    return tasks
