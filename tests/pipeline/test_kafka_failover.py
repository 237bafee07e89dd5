"""Kafka: a worker killed mid-batch and a broker restarted lose and double nothing.

A real ``newstalk worker collect`` subprocess on ``NEWSTALK_BUS=kafka`` polls feeds from a
local server; one feed is a straggler, so the worker is SIGKILLed with part of a batch
committed and its offsets not. Then the broker (Tansu, in memory) restarts: it comes back
empty, so the relay of the restarted worker creates the topics again and publishes the
outbox rows it still keeps; consumers skip the events they have processed. The embed,
stories and live stages then run here, the broker restarts once more, and everything is read
again. A second test runs ``newstalk worker all`` on Kafka with a Korean and an English feed. Every article is stored once, every ``story.updated`` event reaches ``live`` once,
and nothing is left in the outbox, on a partition, or among the dead letters.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.delivery.live_models import LiveEvent
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.kit.bus.kafka import KafkaTransport
from newstalk.kit.bus.outbox import OutboxEvent, ProcessedEvent, outbox_backlog
from newstalk.pipeline import topics
from newstalk.runtime import Services
from newstalk.stories.models import StoryArticle
from tests.conftest import make_settings
from tests.pipeline.test_crash_recovery import (
    ITEMS_PER_FEED,
    WorkerProcess,
    article_count,
    scalar,
    serve_feeds,
    subscribe,
    unslow,
    wait_for,
)
from tests.support.bus import drain
from tests.support.feedserver import FeedServer, Route, items, rss
from tests.support.kafka import Broker
from tests.support.newsroom import stage_worker

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.kafka,
    # CI runs these worker-process tests once, in its PostgreSQL pass (the production shape),
    # to keep the Kafka tests' CI minutes down; elsewhere they run on whatever database is given.
    pytest.mark.skipif(
        os.environ.get("CI") == "true" and not os.environ.get("NEWSTALK_TEST_DATABASE_URL"),
        reason="CI runs the Kafka worker-process tests in its PostgreSQL pass",
    ),
]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test's own: it is restarted."""
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def kafka_values(broker: Broker) -> dict[str, object]:
    return broker.settings(kafka_relay_check_s=0.5, kafka_relay_lease_s=2.0)


@pytest.fixture
def settings(database_url: str, kafka_values: dict[str, object]) -> Settings:
    return make_settings(database_url, **kafka_values)


@pytest.fixture
def workers(
    database_url: str, tmp_path: Path, kafka_values: dict[str, object]
) -> Iterator[Callable[..., WorkerProcess]]:
    env = {f"NEWSTALK_{k.upper()}": str(v) for k, v in kafka_values.items()}
    env["NEWSTALK_QUEUE_RETRY_BASE_S"] = "0.2"
    started: list[WorkerProcess] = []

    def start(*, batch: int = 8, concurrency: int = 8, stage: str = "collect") -> WorkerProcess:
        w = WorkerProcess(
            database_url, tmp_path, batch=batch, concurrency=concurrency, extra_env=env, stage=stage
        )
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()


async def test_killed_worker_and_restarted_broker_lose_and_double_nothing(
    services: Services, broker: Broker, feed_server: FeedServer, workers: Callable[..., WorkerProcess]
) -> None:
    n_feeds, straggler = 8, 2
    urls = serve_feeds(feed_server, n_feeds, stragglers={straggler})
    feed_ids = await subscribe(services, urls)
    straggler_articles = select(func.count()).where(Article.source_id == feed_ids[urls[straggler]])

    first = workers(batch=4, concurrency=4)

    async def straggler_holds_a_batch() -> bool:
        return (
            feed_server.hits[f"/feed{straggler}.xml"] >= 1 and await article_count(services) >= ITEMS_PER_FEED
        )

    await wait_for(straggler_holds_a_batch, within=60, what="a batch waiting on the straggler", worker=first)
    os.kill(first.proc.pid, signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    # Killed mid-batch: some polls committed, the straggler's did not.
    assert 0 < await article_count(services) < n_feeds * ITEMS_PER_FEED
    assert await scalar(services, straggler_articles) == 0

    broker.restart()  # in memory: topics, records and committed offsets are gone
    unslow(feed_server)
    second = workers(batch=4, concurrency=4)

    async def all_stored() -> bool:
        return await article_count(services) == n_feeds * ITEMS_PER_FEED

    await wait_for(all_stored, within=90, what="every article after the restarts", worker=second)
    second.proc.send_signal(signal.SIGTERM)
    assert second.wait(timeout=30) == 0, second.log()
    assert "Traceback" not in second.log(), second.log()

    # Embed, stories and live run here; then the broker restarts once more and all is read again.
    embed, stories, live = (stage_worker(services, name) for name in ("embed", "stories", "live"))
    await drain(embed, stories, live, timeout_s=180)
    async with services.db.read() as session:
        live_before = int(await session.scalar(select(func.count()).select_from(LiveEvent)) or 0)
    assert isinstance(services.transport, KafkaTransport)
    await services.transport.aclose()
    broker.restart()
    assert await drain(embed, stories, live, timeout_s=120) == 0  # replayed, every event skipped

    async with services.db.read() as session:
        urls_stored = list((await session.scalars(select(Article.url))).all())
        in_stories = list((await session.scalars(select(StoryArticle.article_id))).all())
        updated = list(
            (
                await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == topics.STORY_UPDATED))
            ).all()
        )
        live_processed = set(
            (
                await session.scalars(select(ProcessedEvent.event_id).where(ProcessedEvent.stage == "live"))
            ).all()
        )
        live_updates = list(
            (await session.scalars(select(LiveEvent).where(LiveEvent.type == topics.STORY_UPDATED))).all()
        )
        live_after = int(await session.scalar(select(func.count()).select_from(LiveEvent)) or 0)
        dead = int(await session.scalar(select(func.count()).select_from(QueueJob)) or 0)
    # Every article stored once, and clustered once.
    assert len(urls_stored) == len(set(urls_stored)) == n_feeds * ITEMS_PER_FEED
    assert len(in_stories) == len(set(in_stories)) == len(urls_stored)
    # Every story event reached live, once: each one processed, one live row per story version.
    assert updated
    assert {e.id for e in updated} <= live_processed
    # (The live stage folds a batch's versions of one story into one row, on either transport.)
    assert {r.story_id for r in live_updates} == {e.payload["story_id"] for e in updated}
    assert len({(r.story_id, r.payload["story"]["version"]) for r in live_updates}) == len(live_updates)
    assert live_after == live_before
    # Nothing stuck: the outbox is relayed, no dead letters, the last drain read to the end.
    assert await outbox_backlog(services.db) == 0
    assert dead == 0
    assert feed_server.hits[f"/feed{straggler}.xml"] == 2


async def test_worker_all_runs_every_stage_on_kafka(
    services: Services, feed_server: FeedServer, workers: Callable[..., WorkerProcess]
) -> None:
    """``NEWSTALK_BUS=kafka newstalk worker all``: a Korean and an English feed go all the way through."""
    ko = items("서울", 3, base_url=feed_server.url(""), lang="ko")
    en = items("springfield", 3, base_url=feed_server.url(""))
    feed_server.routes["/ko.xml"] = Route(rss("서울 뉴스", ko, lang="ko"))
    feed_server.routes["/en.xml"] = Route(rss("Springfield", en))
    await subscribe(services, [feed_server.url("/ko.xml"), feed_server.url("/en.xml")])
    worker = workers(stage="all")
    wanted = {"collect", "stories", "search", "factcheck", "live", "briefings"}

    async def stages_done() -> bool:
        async with services.db.read() as session:
            stages = set((await session.scalars(select(ProcessedEvent.stage).distinct())).all())
            clustered = int(await session.scalar(select(func.count()).select_from(StoryArticle)) or 0)
        # ... and the relay has published what they emitted (events emitted while the worker
        # stops wait in the outbox for the next relay: not lost, not checked here).
        return wanted <= stages and clustered == 6 and not await outbox_backlog(services.db, due_only=True)

    await wait_for(stages_done, within=150, what="every stage to process its events", worker=worker)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.log()
    assert "Traceback" not in worker.log(), worker.log()
