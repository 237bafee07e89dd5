"""The 304s of one collect claim commit together: one UPDATE of sources, each source's own values,
and a failing job undoes no other (real feed server, real queue table; SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.kit.db import utcnow
from newstalk.pipeline.stages import all_stages
from newstalk.pipeline.worker import JobContext, StageWorker
from newstalk.runtime import Services
from newstalk.sources import service as sources
from newstalk.sources.models import Source
from newstalk.sources.tasks import enqueue_due
from tests.support.feedserver import FeedServer, Route, items, rss

pytestmark = pytest.mark.anyio

FEEDS = 5


async def _subscribe(services: Services, feed_server: FeedServer) -> list[int]:
    ids = []
    async with services.db.unit() as uow:
        for i in range(FEEDS):
            path = f"/quiet{i}.xml"
            feed_server.routes[path] = Route(
                rss(f"Quiet {i}", items(f"quiet{i}", 2, base_url=feed_server.url("")))
            )
            src = await sources.add_source(uow, services.settings, None, url=feed_server.url(path))
            ids.append(src.id)
    # Different intervals, so each source's next poll must come from its own row.
    async with services.db.unit() as uow:
        for n, source_id in enumerate(ids):
            await uow.session.execute(
                update(Source).where(Source.id == source_id).values(fetch_interval_s=600 + 300 * n)
            )
    return ids


def _worker(services: Services, **replace: object) -> StageWorker:
    stage = next(s for s in all_stages(services.settings) if s.name == "collect")
    return StageWorker(services, dataclasses.replace(stage, **replace))  # type: ignore[arg-type]


async def _all_due(services: Services) -> None:
    async with services.db.unit() as uow:
        await uow.session.execute(update(Source).values(next_fetch_at=utcnow() - timedelta(seconds=1)))
    assert await enqueue_due(services) == FEEDS


async def _rows(services: Services, ids: list[int]) -> dict[int, Source]:
    async with services.db.read() as session:
        return {s.id: s for s in (await session.scalars(select(Source).where(Source.id.in_(ids)))).all()}


async def test_a_claims_304s_are_one_update_with_each_sources_values(
    services: Services, feed_server: FeedServer
) -> None:
    ids = await _subscribe(services, feed_server)
    worker = _worker(services)
    while await worker.run_once():
        pass
    before = await _rows(services, ids)
    await _all_due(services)
    statements: list[tuple[str, bool]] = []

    def record(
        conn: object, cursor: object, statement: str, params: object, context: object, many: bool
    ) -> None:
        statements.append((statement, many))

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert await worker.run_once() == FEEDS
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert all(feed_server.not_modified[f"/quiet{i}.xml"] == 1 for i in range(FEEDS))
    updates = [(s, many) for s, many in statements if s.lstrip().upper().startswith("UPDATE SOURCES")]
    assert len(updates) == 1, updates
    assert updates[0][1]  # one executemany for the whole claim
    deletes = [s for s, _ in statements if s.lstrip().upper().startswith("DELETE FROM QUEUE_JOBS")]
    assert len(deletes) == 1  # the claim's jobs completed in one statement
    # Every source's URL and validators were read at once, before the polls (the prefetch).
    reads = [s for s, _ in statements if "FROM sources" in s and s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, reads
    # Everything the five 304s cost: the claim (its SELECT and UPDATE, and the jobs read
    # back), that one read, one UPDATE of sources and one DELETE: seven at most, whatever
    # the claim's size, where each 304 used to add a SELECT of its own.
    assert (
        len([s for s, _ in statements if s.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))]) <= 7
    )
    after = await _rows(services, ids)
    for source_id in ids:
        old, new = before[source_id], after[source_id]
        assert (new.fetch_count, new.not_modified_count) == (old.fetch_count + 1, old.not_modified_count + 1)
        assert (new.last_status, new.consecutive_failures, new.last_error) == ("not-modified", 0, None)
        assert new.last_fetched_at == new.last_success_at == new.updated_at
        assert (new.etag, new.fetch_interval_s) == (old.etag, old.fetch_interval_s)
        wait = (new.next_fetch_at - new.last_fetched_at).total_seconds()  # type: ignore[operator]
        assert 0.9 * new.fetch_interval_s <= wait <= 1.1 * new.fetch_interval_s
    async with services.db.read() as session:
        assert (await session.scalars(select(QueueJob.id).where(QueueJob.stage == "collect"))).all() == []


async def test_one_job_that_cannot_commit_undoes_no_other_304(
    services: Services, feed_server: FeedServer
) -> None:
    """A job another worker took over fails the shared commit; the others commit one by one."""
    ids = await _subscribe(services, feed_server)
    stage = next(s for s in all_stages(services.settings) if s.name == "collect")
    while await StageWorker(services, stage).run_once():
        pass
    before = await _rows(services, ids)
    stolen = ids[2]

    async def steal_after(ctx: JobContext) -> None:
        await stage.handler(ctx)
        if int(ctx.job.payload["source_id"]) == stolen:
            async with services.db.unit() as uow:
                await uow.session.execute(
                    update(QueueJob).where(QueueJob.id == ctx.job.id).values(lease_token="another-worker")
                )

    await _all_due(services)
    assert await _worker(services, handler=steal_after).run_once() == FEEDS
    after = await _rows(services, ids)
    for source_id in ids:
        gained = after[source_id].not_modified_count - before[source_id].not_modified_count
        assert gained == (0 if source_id == stolen else 1), source_id
        assert after[source_id].next_fetch_at > utcnow() or source_id == stolen  # type: ignore[operator]
    async with services.db.read() as session:
        left = (await session.scalars(select(QueueJob).where(QueueJob.stage == "collect"))).all()
    # The stolen job is the other worker's to finish: still there, under its lease.
    assert [(j.payload["source_id"], j.lease_token) for j in left] == [(stolen, "another-worker")]
