"""Durability of the collect stage across a killed worker process.

A real ``newstalk worker collect`` subprocess polls feeds from a local server. One feed
is a straggler that answers slowly, so the worker sits in the middle of a batch whose
other jobs have already committed: that is where it gets SIGKILLed (or SIGTERMed). A
restarted worker must then finish the work with every article stored exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newstalk.articles.models import Article
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.runtime import Services
from newstalk.sources import service as sources
from newstalk.sources.models import Source
from tests.support.feedserver import FeedServer, Route, items, rss
from tests.support.processes import descendants, wait_gone

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

NEWSTALK = Path(sys.executable).parent / "newstalk"
ITEMS_PER_FEED = 25
FEED_DELAY_S = 0.05
STRAGGLER_DELAY_S = 2.5


class WorkerProcess:
    """One ``newstalk worker <stage>`` subprocess (collect unless told) with its log in a file."""

    def __init__(
        self,
        database_url: str,
        tmp_path: Path,
        *,
        batch: int,
        concurrency: int,
        extra_env: dict[str, str] | None = None,
        stage: str = "collect",
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
        env.update(
            NEWSTALK_DATABASE_URL=database_url,
            NEWSTALK_ALLOW_PRIVATE_NETWORKS="true",
            NEWSTALK_QUEUE_BATCH_SIZE=str(batch),
            NEWSTALK_FETCH_CONCURRENCY=str(concurrency),
            NEWSTALK_FETCH_PER_HOST_LIMIT="8",
            NEWSTALK_QUEUE_LEASE_S="2",
            NEWSTALK_QUEUE_POLL_IDLE_S="0.05",
            NEWSTALK_FETCH_TIMEOUT_S="10",
            # The parse process pool (off by default), so a kill is also tested with children.
            NEWSTALK_PARSE_PROCESSES="2",
        )
        env.update(extra_env or {})
        self.log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        # cwd is the test's directory so a developer's .env never leaks into the worker.
        self.proc = subprocess.Popen(
            [str(NEWSTALK), "worker", stage],
            env=env,
            cwd=tmp_path,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes; any still alive are killed when the test ends."""
    started: list[WorkerProcess] = []

    def start(*, batch: int = 8, concurrency: int = 8) -> WorkerProcess:
        w = WorkerProcess(database_url, tmp_path, batch=batch, concurrency=concurrency)
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()


def serve_feeds(feed_server: FeedServer, n: int, stragglers: set[int]) -> list[str]:
    """n feeds of ITEMS_PER_FEED distinct items; the ``stragglers`` answer slowly. Returns the URLs."""
    urls = []
    for i in range(n):
        path = f"/feed{i}.xml"
        entries = items(f"f{i}", ITEMS_PER_FEED, base_url=feed_server.url(""))
        delay = STRAGGLER_DELAY_S if i in stragglers else FEED_DELAY_S
        feed_server.routes[path] = Route(rss(f"Feed {i}", entries), delay_s=delay)
        urls.append(feed_server.url(path))
    return urls


def unslow(feed_server: FeedServer) -> None:
    """Make every route answer fast (for the restarted worker)."""
    for path, route in list(feed_server.routes.items()):
        feed_server.routes[path] = Route(route.body, route.content_type, delay_s=FEED_DELAY_S)


async def subscribe(services: Services, urls: list[str]) -> dict[str, int]:
    """Add the sources without fetching; each add enqueues its first poll, in this order."""
    async with services.db.unit() as uow:
        added = [
            await sources.add_source(uow, services.settings, None, url=url, title=f"feed {n}")
            for n, url in enumerate(urls)
        ]
    return {s.feed_url: s.id for s in added}


async def scalar(services: Services, stmt: object) -> int:
    async with services.db.read() as session:
        return int(await session.scalar(stmt) or 0)  # type: ignore[call-overload]


async def article_count(services: Services) -> int:
    return await scalar(services, select(func.count()).select_from(Article))


async def jobs(services: Services, stage: str = "collect") -> list[QueueJob]:
    async with services.db.read() as session:
        stmt = select(QueueJob).where(QueueJob.stage == stage).order_by(QueueJob.id)
        return list((await session.scalars(stmt)).all())


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, within: float, what: str, worker: WorkerProcess
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if worker.proc.poll() is not None:
            pytest.fail(
                f"worker exited with {worker.proc.returncode} while waiting for {what}:\n{worker.log()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}; worker log:\n{worker.log()}")
        await asyncio.sleep(0.02)


async def assert_exactly_once(services: Services, feed_ids: dict[str, int], feed_server: FeedServer) -> None:
    """Every item of every feed stored once; each source counted one successful poll."""
    n = len(feed_ids)
    async with services.db.read() as session:
        arts = (await session.execute(select(Article.url, Article.content_hash, Article.source_id))).all()
        srcs = list((await session.scalars(select(Source))).all())
    assert len(arts) == n * ITEMS_PER_FEED
    assert len({a.url for a in arts}) == len(arts)
    assert len({a.content_hash for a in arts}) == len(arts)
    expected_urls = {
        it.link for i in range(n) for it in items(f"f{i}", ITEMS_PER_FEED, base_url=feed_server.url(""))
    }
    assert {a.url for a in arts} == expected_urls
    per_source = dict.fromkeys(feed_ids.values(), 0)
    for a in arts:
        per_source[a.source_id] += 1
    assert set(per_source.values()) == {ITEMS_PER_FEED}
    assert len(srcs) == n
    for s in srcs:
        assert s.article_count == ITEMS_PER_FEED, s.feed_url
        # The killed attempt committed nothing, so exactly one poll is on record.
        assert s.fetch_count == 1, s.feed_url
        assert s.last_status == "ok"
        assert s.consecutive_failures == 0
    # The events left with the results exactly once too: one embed job per article, none twice.
    downstream = await jobs(services, stage="embed")
    assert sorted(j.dedup_key or "" for j in downstream) == sorted(a.content_hash for a in arts)


async def test_sigkill_mid_batch_then_restart_loses_and_duplicates_nothing(
    services: Services, feed_server: FeedServer, workers: Callable[..., WorkerProcess]
) -> None:
    n_feeds, batch, straggler = 60, 8, 20  # feed 20 is in the third batch (16..23)
    urls = serve_feeds(feed_server, n_feeds, stragglers={straggler})
    feed_ids = await subscribe(services, urls)
    assert len(await jobs(services)) == n_feeds

    first = workers(batch=batch, concurrency=batch)
    done_before_kill = (2 * batch + batch - 1) * ITEMS_PER_FEED  # batches 0, 1 and batch 2 but the straggler

    async def batch_two_waits_on_straggler() -> bool:
        return await article_count(services) >= done_before_kill

    await wait_for(batch_two_waits_on_straggler, within=30, what="the third batch", worker=first)
    children = descendants(first.proc.pid)
    assert children, "the worker runs its parse processes"
    os.kill(first.proc.pid, signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    # Its parse processes ignore SIGTERM; they die with it (PR_SET_PDEATHSIG / watchdog).
    assert wait_gone(children, within=10) == set()

    # Killed in the middle of a batch: seven of its jobs committed, the straggler's did not.
    assert await article_count(services) == done_before_kill
    left = await jobs(services)
    assert len(left) == n_feeds - (done_before_kill // ITEMS_PER_FEED)
    running = [j for j in left if j.status == "running"]
    assert [j.payload["source_id"] for j in running] == [feed_ids[urls[straggler]]]
    assert running[0].lease_token
    assert running[0].lease_until is not None
    assert running[0].attempts == 1
    assert all(j.status == "ready" and j.attempts == 0 for j in left if j not in running)
    straggler_articles = select(func.count()).where(Article.source_id == feed_ids[urls[straggler]])
    assert await scalar(services, straggler_articles) == 0

    unslow(feed_server)
    second = workers(batch=batch, concurrency=batch)

    async def queue_empty() -> bool:
        return not await jobs(services)

    await wait_for(queue_empty, within=60, what="the queue to drain", worker=second)
    await assert_exactly_once(services, feed_ids, feed_server)
    # Only the straggler was fetched twice: once by the dead worker, once after its lease ran out.
    assert feed_server.hits[f"/feed{straggler}.xml"] == 2
    assert all(feed_server.hits[f"/feed{i}.xml"] == 1 for i in range(n_feeds) if i != straggler)

    second_children = descendants(second.proc.pid)
    second.proc.send_signal(signal.SIGTERM)
    assert second.wait(timeout=25) == 0, second.log()
    assert "Traceback" not in second.log()
    assert wait_gone(second_children, within=10) == set()


async def test_sigterm_finishes_in_flight_jobs_and_releases_the_rest(
    services: Services, feed_server: FeedServer, workers: Callable[..., WorkerProcess]
) -> None:
    # Two slow feeds fill both concurrency slots; the other six claimed jobs wait for a slot.
    n_feeds, batch, concurrency = 20, 8, 2
    urls = serve_feeds(feed_server, n_feeds, stragglers={0, 1})
    feed_ids = await subscribe(services, urls)

    first = workers(batch=batch, concurrency=concurrency)

    async def stragglers_in_flight() -> bool:
        claimed = [j for j in await jobs(services) if j.status == "running"]
        return len(claimed) == batch and feed_server.hits["/feed0.xml"] == feed_server.hits["/feed1.xml"] == 1

    await wait_for(stragglers_in_flight, within=30, what="the slow feeds to be fetched", worker=first)
    first.proc.send_signal(signal.SIGTERM)
    assert first.wait(timeout=25) == 0, first.log()
    assert "Traceback" not in first.log()

    # The two in-flight polls finished and committed; the unstarted claims went back unspent.
    left = await jobs(services)
    assert [j.status for j in left] == ["ready"] * (n_feeds - 2)
    assert all(j.lease_token is None and j.lease_until is None and j.attempts == 0 for j in left)
    assert {j.payload["source_id"] for j in left} == {feed_ids[u] for u in urls[2:]}
    assert await article_count(services) == 2 * ITEMS_PER_FEED
    assert sum(feed_server.hits.values()) == 2

    unslow(feed_server)
    second = workers(batch=batch, concurrency=concurrency)

    async def queue_empty() -> bool:
        return not await jobs(services)

    await wait_for(queue_empty, within=60, what="the queue to drain", worker=second)
    await assert_exactly_once(services, feed_ids, feed_server)
    assert all(feed_server.hits[f"/feed{i}.xml"] == 1 for i in range(n_feeds))
    second.proc.send_signal(signal.SIGTERM)
    assert second.wait(timeout=25) == 0, second.log()
