"""Stage priorities in one process and bigger batches under a backlog, on the real queue table."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from newstalk.kit.bus import Event, Routes
from newstalk.kit.bus.dbqueue import DbQueueTransport, QueueJob
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
    # Scripts before their synthesis: speech looks backlogged whenever it works (one job a claim).
    assert by_name["briefings"].priority > by_name["speech"].priority
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


async def test_a_stage_with_a_share_claims_while_a_higher_one_has_a_backlog() -> None:
    now = [1000.0]
    stories = Stage("stories", (), _ignore, priority=80)
    factcheck = Stage("factcheck", (), _ignore, priority=70, share=0.5)
    search = Stage("search", (), _ignore, priority=20)
    gate = Priorities(max_defer_s=3600, half_life_s=60, clock=lambda: now[0])
    gate.note(stories, backlog=True)
    assert gate.owed(factcheck)  # nothing spent yet: its share is not used up
    assert not gate.owed(search)  # no share: it waits its turn
    gate.spent(stories, 10.0)
    gate.spent(factcheck, 5.0)
    assert gate.owed(factcheck)  # 5 s against half of 10 s
    gate.spent(factcheck, 1.0)
    assert not gate.owed(factcheck)  # over its share: it waits while stories work
    now[0] += 600  # time spent long ago counts for little: the share is of recent time
    assert gate.ahead(search) == []  # a backlog noted long ago holds nobody back (stale)
    gate.note(stories, backlog=True)
    gate.spent(stories, 10.0)
    assert gate.owed(factcheck)
    assert not gate.owed(search)
    gate.note(stories, backlog=False)
    assert gate.owed(search)


async def test_no_starvation_on_the_queue_table(services: Services) -> None:
    """Stories keep a backlog throughout; fact-checks still get claims, search waits."""
    routes = Routes()
    for name in ("stories", "factcheck", "search"):
        routes.add(name, [f"test.{name}"])
    transport = DbQueueTransport(services.db, routes)
    services.transport = transport
    services.db.transport = transport
    async with services.db.unit() as uow:
        for name, n in (("stories", 400), ("factcheck", 6), ("search", 6)):
            for i in range(n):
                uow.emit(Event(f"test.{name}", f"{name}{i}", {"i": i}, utcnow()))
    gate = Priorities(max_defer_s=3600, step_s=0.01)
    stop = asyncio.Event()
    checked_behind: list[list[str]] = []
    indexed: list[int] = []

    async def busy(ctx: BatchContext) -> None:
        await asyncio.sleep(0.02)  # stands for the CPU a stories batch holds

    async def check(ctx: JobContext) -> None:
        checked_behind.append(gate.ahead(factcheck))
        await asyncio.sleep(0.01)
        if len(checked_behind) == 6:
            stop.set()

    async def index(ctx: JobContext) -> None:
        indexed.append(1)

    stories = Stage("stories", ("test.stories",), _ignore, batch_handler=busy, batch_size=4, priority=80)
    factcheck = Stage("factcheck", ("test.factcheck",), check, batch_size=1, priority=70, share=0.5)
    search = Stage("search", ("test.search",), index, batch_size=1, priority=20)
    gate.note(stories, backlog=True)  # as in a running process: stories' last claim came back full
    workers = [StageWorker(services, s, stop=stop, priorities=gate) for s in (stories, factcheck, search)]
    await asyncio.wait_for(asyncio.gather(*(w.run() for w in workers)), timeout=120)
    assert len(checked_behind) == 6
    assert all(ahead == ["stories"] for ahead in checked_behind)  # checked while stories had a backlog
    assert indexed == []  # no share: search waited for stories
    async with services.db.read() as session:
        left = await session.scalar(
            select(func.count()).select_from(QueueJob).where(QueueJob.stage == "stories")
        )
    assert (left or 0) > 0  # the backlog was still there
