"""Two stories workers on one database: one writes, the other stands by and takes over within the lease."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from newstalk.kit import lease
from newstalk.kit.db import utcnow
from newstalk.runtime import Services
from newstalk.stories.models import StoryArticle
from newstalk.stories.tasks import LEASE, LEASE_NAME
from tests.conftest import make_settings
from tests.pipeline.test_ingest_flow import drain
from tests.stories.articles import HEADLINES, add_articles, pending
from tests.support.newsroom import stage_worker

pytestmark = pytest.mark.anyio

LEASE_S = 3.0


async def _lease_row(services: Services) -> lease.StageLease:
    async with services.db.read() as session:
        row = await session.get(lease.StageLease, LEASE_NAME)
    assert row is not None
    return row


async def test_standby_takes_over_within_the_lease_and_the_old_writer_is_fenced(database_url: str) -> None:
    # Claims of two jobs: the writer takes the first two articles, the rest wait.
    settings = make_settings(database_url, stories_lease_s=LEASE_S, queue_batch_size=2)
    active, standby = Services.build(settings), Services.build(settings)
    try:
        ids = await add_articles(active, HEADLINES)
        await drain(stage_worker(active, "embed"))
        first, later = ids[:2], ids[2:]
        writer, waiting = stage_worker(active, "stories"), stage_worker(standby, "stories")
        assert await writer.run_once() == len(first)
        holder = active.resources.get(LEASE)
        assert holder is not None
        assert (await _lease_row(active)).holder == holder.holder

        # The standby claims nothing while the writer's lease runs: its jobs stay ready for the writer.
        assert await waiting.run_once() == 0
        assert await pending(standby, "stories") == len(later)

        # The writer dies: it neither renews nor hands the lease back. The standby keeps asking.
        expires = (await _lease_row(active)).expires_at
        deadline = time.monotonic() + 10 * LEASE_S
        handled = 0
        while not handled and time.monotonic() < deadline:
            handled = await waiting.run_once()
            if not handled:
                await asyncio.sleep(0.05)
        took_over = utcnow()
        assert handled == len(later)
        # Within the lease: no earlier than its expiry, and only a poll or two after it.
        assert expires <= took_over
        assert (took_over - expires).total_seconds() < 2.0
        row = await _lease_row(standby)
        standby_lease = standby.resources.get(LEASE)
        assert standby_lease is not None
        assert row.holder == standby_lease.holder

        # The old writer, back from the dead, is fenced: it claims nothing and cannot renew.
        await add_articles(active, ["Parliament passes the new budget bill"], start=20)
        await drain(stage_worker(active, "embed"))
        assert await writer.run_once() == 0
        async with active.db.unit() as uow:
            assert not await lease.renew(uow.session, LEASE_NAME, holder.holder, LEASE_S)
        assert await waiting.run_once() == 1

        async with standby.db.read() as session:
            placed = sorted((await session.scalars(select(StoryArticle.article_id))).all())
        assert len(placed) == len(first) + len(later) + 1
        assert len(set(placed)) == len(placed)
    finally:
        await active.aclose()
        await standby.aclose()
    # A clean shutdown hands the lease back: the next writer need not wait.
    check = Services.build(settings)
    try:
        assert (await _lease_row(check)).expires_at <= utcnow()
    finally:
        await check.aclose()
