"""Stage priorities in one process and bigger batches under a backlog, on the real queue table."""

from __future__ import annotations

import asyncio

import pytest

from newstalk.kit.bus import Event, Routes
from newstalk.kit.bus.dbqueue import DbQueueTransport
from newstalk.kit.db import utcnow
from newstalk.pipeline.stages import all_stages
from newstalk.pipeline.worker import BatchContext, JobContext, Priorities, Stage, StageWorker
from newstalk.runtime import Services

pytestmark = pytest.mark.anyio

TOPIC = "test.burst"


async def _ignore(ctx: JobContext) -> None:
    return None


def test_listener_path_goes_before_indexing() -> None:
    by_name = {s.name: s for s in all_stages(None)}
    order = ["stories", "factcheck", "speech", "search"]
    assert [by_name[n].priority for n in order] == sorted((by_name[n].priority for n in order), reverse=True)
    assert by_name["briefings"].priority < by_name["factcheck"].priority
    assert (by_name["stories"].backlog_batch_size or 0) > 32


async def test_lower_stages_wait_for_a_higher_backlog_but_not_forever() -> None:
    stories = Stage("stories", (), _ignore, priority=80)
    factcheck = Stage("factcheck", (), _ignore, priority=70)
    search = Stage("search", (), _ignore, priority=20)
    gate = Priorities(max_defer_s=0.0)
    gate.note(factcheck, backlog=True)
    assert gate.ahead(search) == ["factcheck"]
    assert gate.ahead(stories) == []  # a lower stage's backlog never holds a higher one
    assert gate.ahead(factcheck) == []  # nor its own
    # With no time left to defer, the lower stage goes anyway: it lags, it does not starve.
    await gate.turn(search, asyncio.Event())
    stop = asyncio.Event()
    stop.set()
    await Priorities(max_defer_s=3600).turn(search, stop)  # stopping ends the wait
    gate.note(factcheck, backlog=False)
    assert gate.ahead(search) == []


async def test_batches_grow_under_a_backlog_and_shrink_after(services: Services) -> None:
    routes = Routes()
    routes.add("burst", [TOPIC])
    transport = DbQueueTransport(services.db, routes)
    services.transport = transport
    services.db.transport = transport
    async with services.db.unit() as uow:
        for i in range(20):
            uow.emit(Event(TOPIC, f"k{i}", {"i": i}, utcnow()))
    sizes: list[int] = []

    async def record(ctx: BatchContext) -> None:
        sizes.append(len(ctx.jobs))

    stage = Stage("burst", (TOPIC,), _ignore, batch_handler=record, batch_size=2, backlog_batch_size=8)
    gate = Priorities()
    worker = StageWorker(services, stage, priorities=gate)
    while await worker.run_once():
        pass
    assert sizes == [2, 4, 8, 6]  # full claims double the next one, up to the cap
    assert gate.ahead(Stage("low", (), _ignore, priority=0)) == []  # drained: no backlog left
    async with services.db.unit() as uow:
        for i in range(3):
            uow.emit(Event(TOPIC, f"again{i}", {"i": i}, utcnow()))
    await worker.run_once()
    assert sizes[-1] == 2  # back to the stage's own batch size
