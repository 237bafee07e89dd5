"""The scheduler runs the periodic jobs it is given, and the pipeline gives it every domain's."""

from __future__ import annotations

import asyncio

import pytest

from newstalk.kit.periodic import PeriodicJob
from newstalk.pipeline.periodic import periodic_jobs
from newstalk.runtime import Services
from newstalk.sources.tasks import run_scheduler


@pytest.mark.anyio
@pytest.mark.db
async def test_scheduler_runs_each_periodic_job_once_per_minute_in_order(services: Services) -> None:
    ran: list[tuple[str, Services]] = []
    stop = asyncio.Event()

    async def first(svc: Services) -> None:
        ran.append(("first", svc))

    async def second(svc: Services) -> int:
        ran.append(("second", svc))
        stop.set()
        return 3

    jobs = [PeriodicJob("test.first", first), PeriodicJob("test.second", second)]
    await asyncio.wait_for(run_scheduler(services, stop, jobs), timeout=30)
    assert ran == [("first", services), ("second", services)]


def test_the_pipeline_wires_trending_and_daily_briefings() -> None:
    from newstalk.briefings.tasks import schedule_daily_briefings
    from newstalk.stories.tasks import refresh_trending

    jobs = {job.name: job.run for job in periodic_jobs()}
    assert jobs == {"stories.trending": refresh_trending, "briefings.daily": schedule_daily_briefings}
