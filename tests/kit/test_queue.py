"""The queue-table transport and the stage worker, against the real (migrated) database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from newstalk.config import Settings
from newstalk.kit.bus import CONTEXT_KEY, Event, Job, LeaseLost, Routes
from newstalk.kit.bus.dbqueue import DbQueueTransport, QueueJob
from newstalk.kit.db import utcnow
from newstalk.pipeline.worker import JobContext, Stage, StageWorker
from newstalk.runtime import Services
from newstalk.sources.models import Source
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

T_ONE, T_TWO = "test.one", "test.two"


def stage_routes() -> Routes:
    r = Routes()
    r.add("alpha", [T_ONE])
    r.add("beta", [T_ONE, T_TWO])
    r.add("beta", [T_ONE])  # adding twice routes once
    return r


@pytest.fixture
def transport(services: Services) -> DbQueueTransport:
    """The services' transport, rerouted to two test stages; units publish through it."""
    t = DbQueueTransport(services.db, stage_routes())
    services.transport = t
    services.db.transport = t
    return t


def event(topic: str = T_ONE, key: str | None = "k1", **payload: Any) -> Event:
    return Event(topic, key, payload or {"n": 1}, utcnow())


async def publish(services: Services, *events: Event) -> None:
    async with services.db.unit() as uow:
        for ev in events:
            uow.emit(ev)


async def rows(services: Services, stage: str | None = None) -> list[QueueJob]:
    stmt = select(QueueJob).order_by(QueueJob.id)
    if stage:
        stmt = stmt.where(QueueJob.stage == stage)
    async with services.db.read() as session:
        return list((await session.scalars(stmt)).all())


async def source_count(services: Services) -> int:
    async with services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Source)) or 0)


def a_source(url: str) -> Source:
    now = utcnow()
    return Source(
        feed_url=url,
        title="t",
        status="active",
        fetch_interval_s=900,
        next_fetch_at=now,
        consecutive_failures=0,
        fetch_count=0,
        not_modified_count=0,
        article_count=0,
        created_at=now,
        updated_at=now,
    )


async def test_publish_fans_out_per_route(services: Services, transport: DbQueueTransport) -> None:
    seen = utcnow() - timedelta(minutes=3)
    await publish(
        services,
        Event(T_ONE, "a", {"x": 1}, seen),
        Event(T_TWO, "b", {"x": 2}, seen),
        Event("test.nobody", "c", {"x": 3}, seen),
    )
    got = sorted((r.stage, r.topic, r.dedup_key, r.payload["x"]) for r in await rows(services))
    assert got == [("alpha", T_ONE, "a", 1), ("beta", T_ONE, "a", 1), ("beta", T_TWO, "b", 2)]
    for r in await rows(services):
        assert r.status == "ready"
        assert r.attempts == 0
        assert r.lease_token is None
        assert abs((r.first_seen_at - seen).total_seconds()) < 0.001


async def test_events_are_dropped_when_the_unit_rolls_back(
    services: Services, transport: DbQueueTransport
) -> None:
    async def emit_then_abort() -> None:
        async with services.db.unit() as uow:
            uow.emit(event())
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await emit_then_abort()
    assert await rows(services) == []


async def test_dedup_keeps_one_pending_job_per_stage_and_key(
    services: Services, transport: DbQueueTransport
) -> None:
    await publish(services, event(key="k1"), event(key="k1"))
    await publish(services, event(key="k1"))
    await publish(services, event(key=None), event(key=None))  # no key, no dedup
    assert sorted(r.dedup_key or "" for r in await rows(services, "alpha")) == ["", "", "k1"]
    # While claimed (running) the key is still pending: no second job.
    claimed = await transport.claim("alpha", limit=10, lease_s=30)
    await publish(services, event(key="k1"))
    assert len(await rows(services, "alpha")) == 3
    async with services.db.unit() as uow:
        for job in claimed:
            await transport.complete(uow.session, job)
    assert await rows(services, "alpha") == []
    await publish(services, event(key="k1"))
    assert [r.dedup_key for r in await rows(services, "alpha")] == ["k1"]


async def test_claim_leases_until_the_lease_runs_out(services: Services, transport: DbQueueTransport) -> None:
    await publish(services, event(key="a"), event(key="b"), event(key="c"))
    first = await transport.claim("alpha", limit=2, lease_s=0.05)
    assert [j.key for j in first] == ["a", "b"]
    assert all(j.attempts == 1 for j in first)
    assert len({j.lease_token for j in first}) == 1
    second = await transport.claim("alpha", limit=10, lease_s=0.05)
    assert [j.key for j in second] == ["c"]
    assert await transport.claim("alpha", limit=10, lease_s=0.05) == []
    assert await transport.claim("beta", limit=10, lease_s=30) != []  # other stages are independent
    await asyncio.sleep(0.1)
    again = await transport.claim("alpha", limit=10, lease_s=30)
    assert sorted(j.key or "" for j in again) == ["a", "b", "c"]
    assert all(j.attempts == 2 for j in again)
    assert {j.lease_token for j in again}.isdisjoint({first[0].lease_token, second[0].lease_token})
    assert {r.status for r in await rows(services, "alpha")} == {"running"}


async def test_claim_takes_higher_priority_first_then_the_oldest_due(
    services: Services, transport: DbQueueTransport
) -> None:
    # "held" fell due before "new" was published, yet its lower priority puts it last: a
    # story's full script that fell due waits for the first editions queued meanwhile.
    now = utcnow()
    await publish(
        services,
        Event(T_ONE, "held", {"n": 1}, now, priority=-1),
        Event(T_ONE, "first", {"n": 2}, now),
        Event(T_ONE, "asked", {"n": 3}, now, priority=1),
        Event(T_ONE, "new", {"n": 4}, now),
    )
    claimed = [[j.key for j in await transport.claim("alpha", limit=1, lease_s=30)] for _ in range(4)]
    assert claimed == [["asked"], ["first"], ["new"], ["held"]]
    both = await transport.claim("beta", limit=2, lease_s=30)
    assert sorted(j.key or "" for j in both) == ["asked", "first"]


async def test_depth_tells_held_back_jobs_from_due_ones(
    services: Services, transport: DbQueueTransport
) -> None:
    now = utcnow()
    await publish(
        services, Event(T_ONE, "due", {"n": 1}, now), Event(T_ONE, "later", {"n": 2}, now, delay_s=300)
    )
    depth = {(d.stage, d.status): d.count for d in await transport.depth()}
    # The delayed job is no backlog: a full script waiting behind its first edition.
    assert depth[("alpha", "ready")] == 1
    assert depth[("alpha", "held")] == 1
    assert [j.key for j in await transport.claim("alpha", limit=10, lease_s=30)] == ["due"]
    depth = {(d.stage, d.status): d.count for d in await transport.depth()}
    assert (depth[("alpha", "running")], depth[("alpha", "held")]) == (1, 1)
    assert ("alpha", "ready") not in depth


async def test_a_hurried_event_brings_a_held_job_forward_and_leaves_a_running_one(
    services: Services, transport: DbQueueTransport
) -> None:
    now = utcnow()
    await publish(services, Event(T_ONE, "full", {"n": 1}, now, delay_s=300, priority=-1))
    await publish(services, Event(T_ONE, "full", {"n": 2}, now))  # the same again: dropped
    assert await transport.claim("alpha", limit=10, lease_s=30) == []
    # A listener asks: the held job is due now, ahead of the others, still one job.
    await publish(services, Event(T_ONE, "other", {"n": 3}, now))
    await publish(services, Event(T_ONE, "full", {"n": 4}, now, priority=1, hurry=True))
    [held] = [r for r in await rows(services, "alpha") if r.dedup_key == "full"]
    assert (held.priority, held.payload["n"]) == (1, 1)
    [first] = await transport.claim("alpha", limit=1, lease_s=30)
    assert first.key == "full"
    # Hurrying a job a worker holds changes nothing; a later time never delays a due job.
    await publish(services, Event(T_ONE, "full", {"n": 5}, now, priority=2, hurry=True))
    await publish(services, Event(T_ONE, "other", {"n": 6}, now, delay_s=300, hurry=True))
    by_key = {r.dedup_key: r for r in await rows(services, "alpha")}
    assert (by_key["full"].status, by_key["full"].priority) == ("running", 1)
    assert by_key["other"].available_at <= utcnow()


async def test_complete_deletes_the_row_in_the_callers_unit(
    services: Services, transport: DbQueueTransport
) -> None:
    await publish(services, event())
    [job] = await transport.claim("alpha", limit=1, lease_s=30)
    async with services.db.unit() as uow:
        await transport.complete(uow.session, job)
        uow.session.add(a_source("http://example.org/done.xml"))
    assert await rows(services, "alpha") == []
    assert await source_count(services) == 1
    # A unit that fails after complete() keeps the job.
    await publish(services, event(key="again"))
    [job] = await transport.claim("alpha", limit=1, lease_s=30)

    async def complete_then_break() -> None:
        async with services.db.unit() as uow:
            await transport.complete(uow.session, job)
            raise RuntimeError("handler broke after completing")

    with pytest.raises(RuntimeError):
        await complete_then_break()
    assert [(r.dedup_key, r.status) for r in await rows(services, "alpha")] == [("again", "running")]


async def test_complete_with_a_stale_lease_raises_and_rolls_back_the_unit(
    services: Services, transport: DbQueueTransport
) -> None:
    await publish(services, event())
    [stale] = await transport.claim("alpha", limit=1, lease_s=0.05)
    await asyncio.sleep(0.1)
    [fresh] = await transport.claim("alpha", limit=1, lease_s=30)
    assert fresh.id == stale.id
    assert fresh.lease_token != stale.lease_token

    async def write_results_then_complete_stale() -> None:
        async with services.db.unit() as uow:
            uow.session.add(a_source("http://example.org/stale.xml"))
            uow.emit(event(T_TWO, key="from-stale"))
            await transport.complete(uow.session, stale)

    with pytest.raises(LeaseLost, match=f"job {stale.id}"):
        await write_results_then_complete_stale()
    assert await source_count(services) == 0
    assert [r for r in await rows(services, "beta") if r.topic == T_TWO] == []
    [row] = await rows(services, "alpha")
    assert row.lease_token == fresh.lease_token
    assert row.status == "running"

    async with services.db.unit() as uow:
        uow.session.add(a_source("http://example.org/fresh.xml"))
        await transport.complete(uow.session, fresh)
    assert await source_count(services) == 1
    assert await rows(services, "alpha") == []


async def test_fail_with_retry_at_schedules_a_retry(services: Services, transport: DbQueueTransport) -> None:
    await publish(services, event())
    [job] = await transport.claim("alpha", limit=1, lease_s=30)
    await transport.fail(job, "boom: upstream said no", retry_at=utcnow() + timedelta(seconds=0.2))
    [row] = await rows(services, "alpha")
    assert row.status == "ready"
    assert row.last_error == "boom: upstream said no"
    assert row.lease_token is None
    assert row.lease_until is None
    assert await transport.claim("alpha", limit=1, lease_s=30) == []  # not before retry_at
    await asyncio.sleep(0.3)
    [retry] = await transport.claim("alpha", limit=1, lease_s=30)
    assert retry.id == job.id
    assert retry.attempts == 2


async def test_dead_letter_shows_in_api_and_can_be_retried(
    services: Services, transport: DbQueueTransport, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await publish(services, event(key="doomed", n=7))
    [job] = await transport.claim("alpha", limit=1, lease_s=30)
    await transport.fail(job, "ingestion: not a feed", retry_at=None)
    assert await transport.claim("alpha", limit=1, lease_s=30) == []
    dead = await transport.dead_jobs(stage=None, limit=10, after_id=None)
    assert [(d.id, d.status, d.last_error) for d in dead] == [(job.id, "dead", "ingestion: not a feed")]
    assert await transport.dead_jobs(stage="beta", limit=10, after_id=None) == []

    assert (await client.get("/api/v1/pipeline/dead")).status_code == 401
    resp = await client.get("/api/v1/pipeline/dead", headers=admin)
    assert resp.status_code == 200
    [item] = resp.json()["items"]
    assert item["id"] == job.id
    assert item["stage"] == "alpha"
    assert item["topic"] == T_ONE
    assert item["last_error"] == "ingestion: not a feed"
    assert item["attempts"] == 1
    assert item["payload"] == {"n": 7}
    assert item["dedup_key"] == "doomed"
    depth = {
        (d["stage"], d["status"]): d["count"] for d in (await client.get("/api/v1/pipeline/queue")).json()
    }
    assert depth[("alpha", "dead")] == 1

    assert (await client.post(f"/api/v1/pipeline/dead/{job.id}/retry")).status_code == 401
    assert (await client.post(f"/api/v1/pipeline/dead/{job.id}/retry", headers=admin)).status_code == 204
    [row] = await rows(services, "alpha")
    assert (row.status, row.attempts, row.last_error) == ("ready", 0, None)
    assert (await client.get("/api/v1/pipeline/dead", headers=admin)).json()["items"] == []
    missing = await client.post(f"/api/v1/pipeline/dead/{job.id}/retry", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    [again] = await transport.claim("alpha", limit=1, lease_s=30)
    assert again.id == job.id
    assert again.attempts == 1


async def test_a_dead_job_does_not_block_new_work_with_its_key(
    services: Services, transport: DbQueueTransport
) -> None:
    await publish(services, event(key="k"))
    [job] = await transport.claim("alpha", limit=1, lease_s=30)
    await transport.fail(job, "broken", retry_at=None)
    await publish(services, event(key="k"))
    assert sorted(r.status for r in await rows(services, "alpha")) == ["dead", "ready"]


async def test_retrying_a_dead_job_whose_key_is_pending_again_is_not_a_server_error(
    services: Services, transport: DbQueueTransport, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await publish(services, event(key="k"))
    [job] = await transport.claim("alpha", limit=1, lease_s=30)
    await transport.fail(job, "broken", retry_at=None)
    await publish(services, event(key="k"))
    resp = await client.post(f"/api/v1/pipeline/dead/{job.id}/retry", headers=admin)
    assert resp.status_code == 204, resp.text
    # The pending twin does the work; the dead row is gone rather than duplicated.
    assert [r.status for r in await rows(services, "alpha")] == ["ready"]


async def test_release_returns_jobs_unspent(services: Services, transport: DbQueueTransport) -> None:
    await publish(services, event(key="a"), event(key="b"), event(key="c"))
    claimed = await transport.claim("alpha", limit=3, lease_s=30)
    await transport.release(claimed[:2])
    by_key = {r.dedup_key: r for r in await rows(services, "alpha")}
    assert {k: (r.status, r.attempts, r.lease_token) for k, r in by_key.items() if k != "c"} == {
        "a": ("ready", 0, None),
        "b": ("ready", 0, None),
    }
    assert by_key["c"].status == "running"
    again = await transport.claim("alpha", limit=10, lease_s=30)
    assert sorted(j.key or "" for j in again) == ["a", "b"]
    # A release with a token that no longer holds the job changes nothing.
    await transport.release(claimed[:1])
    assert {r.dedup_key: r.lease_token for r in await rows(services, "alpha")}["a"] == again[0].lease_token


# The stage worker


@pytest.fixture
async def worker_services(settings: Settings) -> Any:
    svc = Services.build(make_settings(settings.database_url, queue_max_attempts=2, queue_retry_base_s=0.01))
    t = DbQueueTransport(svc.db, stage_routes())
    svc.transport = t
    svc.db.transport = t
    try:
        yield svc
    finally:
        await svc.aclose()


def stage(handler: Any, concurrency: int = 2) -> Stage:
    return Stage("alpha", (T_ONE,), handler, concurrency=concurrency)


async def test_worker_completes_jobs_and_commits_emitted_events_with_them(worker_services: Services) -> None:
    svc = worker_services
    handled: list[Job] = []

    async def handler(ctx: JobContext) -> None:
        handled.append(ctx.job)
        if ctx.job.key == "quiet":
            return  # no explicit commit: the worker completes the job itself
        async with ctx.commit() as uow:
            uow.emit(event(T_TWO, key=f"next-{ctx.job.key}", source=ctx.job.payload["n"]))

    await publish(svc, event(key="a", n=1), event(key="quiet", n=2))
    beta_before = {r.id for r in await rows(svc, "beta")}
    worker = StageWorker(svc, stage(handler))
    assert await worker.run_once() == 2
    assert await worker.run_once() == 0
    assert sorted(j.key or "" for j in handled) == ["a", "quiet"]
    assert await rows(svc, "alpha") == []
    emitted = [r for r in await rows(svc, "beta") if r.id not in beta_before]
    assert [(r.topic, r.dedup_key, r.payload["source"]) for r in emitted] == [(T_TWO, "next-a", 1)]
    # The event's origin rides along in the row and reaches the next job, not its handler.
    assert set(emitted[0].payload) == {"source", CONTEXT_KEY}
    assert len(emitted[0].payload[CONTEXT_KEY]["event_id"]) == 32


async def test_failing_handler_retries_then_dead_letters(worker_services: Services) -> None:
    svc = worker_services
    calls = 0

    async def handler(ctx: JobContext) -> None:
        nonlocal calls
        calls += 1
        async with ctx.commit() as uow:
            uow.emit(event(T_TWO, key=f"emitted-{calls}"))
            uow.session.add(a_source(f"http://example.org/{calls}.xml"))
            raise ValueError(f"bad payload on attempt {calls}")

    await publish(svc, event(key="x"))
    beta_before = len(await rows(svc, "beta"))
    worker = StageWorker(svc, stage(handler))
    assert await worker.run_once() == 1
    [row] = await rows(svc, "alpha")
    assert (row.status, row.attempts, row.last_error) == ("ready", 1, "ValueError: bad payload on attempt 1")
    assert row.available_at > utcnow() - timedelta(seconds=1)

    await asyncio.sleep(0.05)
    assert await worker.run_once() == 1
    [row] = await rows(svc, "alpha")
    assert (row.status, row.attempts, row.last_error) == ("dead", 2, "ValueError: bad payload on attempt 2")
    await asyncio.sleep(0.05)
    assert await worker.run_once() == 0
    assert calls == 2
    # Emitted events and results of the failed attempts were rolled back with them.
    assert len(await rows(svc, "beta")) == beta_before
    assert await source_count(svc) == 0
    assert [d.id for d in await svc.transport.dead_jobs(stage="alpha", limit=5, after_id=None)] == [row.id]


async def test_handler_that_lost_its_lease_keeps_none_of_its_results(worker_services: Services) -> None:
    svc = worker_services
    svc.settings = svc.settings.model_copy(update={"queue_lease_s": 0.05})
    stolen: list[Job] = []

    async def handler(ctx: JobContext) -> None:
        await asyncio.sleep(0.1)  # outlive the lease; another worker takes the job over
        stolen.extend(await svc.transport.claim("alpha", limit=1, lease_s=30))
        async with ctx.commit() as uow:
            uow.session.add(a_source("http://example.org/late.xml"))
            uow.emit(event(T_TWO, key="late"))

    await publish(svc, event(key="slow"))
    beta_before = len(await rows(svc, "beta"))
    assert await StageWorker(svc, stage(handler)).run_once() == 1
    assert [j.attempts for j in stolen] == [2]
    [row] = await rows(svc, "alpha")
    assert row.status == "running"
    assert row.lease_token == stolen[0].lease_token
    assert row.last_error is None
    assert await source_count(svc) == 0
    assert len(await rows(svc, "beta")) == beta_before


async def test_stopped_worker_releases_claimed_but_unstarted_jobs(worker_services: Services) -> None:
    svc = worker_services
    stop = asyncio.Event()
    started: list[str] = []

    async def handler(ctx: JobContext) -> None:
        started.append(ctx.job.key or "")
        stop.set()  # shutdown arrives while the first job runs
        await asyncio.sleep(0.05)

    await publish(svc, *(event(key=f"j{i}") for i in range(5)))
    worker = StageWorker(svc, stage(handler, concurrency=1), stop=stop)
    assert await worker.run_once() == 5
    assert started == ["j0"]
    left = await rows(svc, "alpha")
    assert [(r.dedup_key, r.status, r.attempts, r.lease_token) for r in left] == [
        (f"j{i}", "ready", 0, None) for i in range(1, 5)
    ]
    await asyncio.wait_for(worker.run(), timeout=5)  # run() returns at once when stopped


async def test_oldest_due_is_the_wait_of_the_oldest_due_job_per_stage(
    services: Services, transport: DbQueueTransport
) -> None:
    assert await transport.oldest_due() == {}
    await publish(
        services, event(key="old"), event(key="new"), Event(T_TWO, "later", {}, utcnow(), delay_s=600)
    )
    ten_minutes_ago = utcnow() - timedelta(minutes=10)
    async with services.db.unit() as uow:
        await uow.session.execute(
            update(QueueJob).where(QueueJob.dedup_key == "old").values(available_at=ten_minutes_ago)
        )
    oldest = await transport.oldest_due()
    assert set(oldest) == {"alpha", "beta"}  # the held-back T_TWO job is not due, so not late
    for stage in ("alpha", "beta"):
        assert abs((oldest[stage] - ten_minutes_ago).total_seconds()) < 1
        assert oldest[stage].tzinfo is not None
    (claimed,) = await transport.claim("alpha", limit=1, lease_s=30)
    assert claimed.payload == {"n": 1}
    # A running job is still unprocessed: its stage stays late until it completes.
    assert abs(((await transport.oldest_due())["alpha"] - ten_minutes_ago).total_seconds()) < 1
