"""The Kafka transport on a real broker: retries, dead letters through the API, redelivery, the relay lease."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from newstalk.config import Settings
from newstalk.kit import metrics
from newstalk.kit.bus import Event, Job, LeaseLost
from newstalk.kit.bus.kafka import KafkaConfig, KafkaTransport
from newstalk.kit.bus.outbox import OutboxEvent, ProcessedEvent, Relay, outbox_backlog
from newstalk.kit.lease import acquire as take_lease
from newstalk.kit.lease import release as drop_lease
from newstalk.pipeline import topics
from newstalk.pipeline.bus import partition_key, run_relay
from newstalk.pipeline.worker import JobContext, Stage, StageWorker
from newstalk.runtime import Services
from tests.conftest import make_settings
from tests.support.bus import drain
from tests.support.kafka import Broker

pytestmark = [pytest.mark.anyio, pytest.mark.kafka]


@pytest.fixture
def settings(database_url: str, kafka_broker: Broker) -> Settings:
    return make_settings(database_url, **kafka_broker.settings(), queue_max_attempts=3)


async def emit(services: Services, *events: Event) -> None:
    async with services.db.unit() as uow:
        for ev in events:
            uow.emit(ev)


def extract_event(n: int) -> Event:
    payload = {"article_id": n, "source_id": 1, "content_hash": f"h{n}", "language": "ko"}
    return Event(topics.ARTICLE_EXTRACT, f"x{n}", payload, datetime.now(UTC))


async def test_failures_retry_then_dead_letter_listed_and_retried_through_the_api(
    services: Services, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    seen: list[tuple[int, int]] = []
    broken = True

    async def handler(ctx: JobContext) -> None:
        seen.append((ctx.job.payload["article_id"], ctx.job.attempts))
        if broken and ctx.job.payload["article_id"] == 2:
            raise ValueError("기사 본문을 읽을 수 없음 (unreadable body)")

    worker = StageWorker(services, Stage("extract", (topics.ARTICLE_EXTRACT,), handler))
    await emit(services, extract_event(1), extract_event(2))
    await drain(worker)
    # Article 1 once; article 2 three times (attempts 1, 2, 3), then dead.
    assert sorted(seen) == [(1, 1), (2, 1), (2, 2), (2, 3)]

    # The dead-letter topic lands in the table behind the existing API.
    stop = asyncio.Event()
    sink = asyncio.create_task(run_relay(services.settings, services.db, services.transport, stop))
    try:
        for _ in range(200):
            page = (await client.get("/api/v1/pipeline/dead", headers=admin)).json()
            if page["items"]:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await sink
    [dead] = page["items"]
    assert (dead["stage"], dead["topic"], dead["attempts"]) == ("extract", topics.ARTICLE_EXTRACT, 3)
    assert dead["payload"]["article_id"] == 2
    assert "unreadable body" in dead["last_error"]
    depth = (await client.get("/api/v1/pipeline/queue")).json()
    assert {"stage": "extract", "status": "dead", "count": 1} in depth

    # Retried from the API: to the extract stage's retry topic only, attempts counted afresh.
    broken = False
    resp = await client.post(f"/api/v1/pipeline/dead/{dead['id']}/retry", headers=admin)
    assert resp.status_code == 204
    assert (await client.post(f"/api/v1/pipeline/dead/{dead['id']}/retry", headers=admin)).status_code == 404
    async with services.db.read() as session:
        retried = (await session.scalars(select(OutboxEvent).where(OutboxEvent.stage == "extract"))).one()
    assert retried.topic == topics.ARTICLE_EXTRACT
    await drain(worker)
    assert seen[-1] == (2, 1)
    assert (await client.get("/api/v1/pipeline/dead", headers=admin)).json()["items"] == []


async def test_a_redelivery_after_the_commit_is_skipped(settings: Settings) -> None:
    """The process dies after its transactions committed and before its offsets did."""
    calls: list[int] = []

    async def handler(ctx: JobContext) -> None:
        calls.append(ctx.job.id)

    stage = Stage("extract", (topics.ARTICLE_EXTRACT,), handler)
    first = Services.build(settings)
    try:
        await emit(first, *(extract_event(n) for n in range(5)))
        transport = first.transport
        assert isinstance(transport, KafkaTransport)
        await drain(StageWorker(first, stage))
        assert len(calls) == 5
        # Read them again from the start, as a consumer with no committed offsets would.
        consumer = transport._consumers["extract"]
        await consumer.seek_to_beginning()
        worker = StageWorker(first, stage)
        jobs = await transport.claim("extract", limit=10, lease_s=30)
        assert jobs == []  # all five skipped: processed already
        assert await worker.run_once() == 0
    finally:
        await first.aclose()
    # And in the transaction: completing an event twice rolls the second back.
    second = Services.build(settings)
    try:
        async with second.db.read() as session:
            done = int(await session.scalar(select(func.count()).select_from(ProcessedEvent)) or 0)
        assert done == 5
        assert len(calls) == len(set(calls)) == 5
        job = Job(calls[0], "extract", topics.ARTICLE_EXTRACT, None, {}, datetime.now(UTC), 1, "t|0|0")
        with pytest.raises(LeaseLost, match="already processed"):
            async with second.db.unit() as uow:
                await second.transport.complete(uow.session, job)
    finally:
        await second.aclose()


async def test_a_worker_reports_its_consumer_lag(services: Services) -> None:
    """newstalk_kafka_lag_records: what this process has not read of its stage's partitions."""

    async def handler(ctx: JobContext) -> None:
        return None

    worker = StageWorker(services, Stage("extract", (topics.ARTICLE_EXTRACT,), handler, batch_size=1))
    transport = services.transport
    assert isinstance(transport, KafkaTransport)
    gauge = metrics.KAFKA_LAG.labels("extract")
    await emit(services, *(extract_event(n) for n in range(5)))
    relay = Relay(
        services.db,
        transport.send_outbox,
        poll_s=0.01,
        lease_s=5,
        outbox_retention_s=3600,
        processed_retention_s=3600,
    )
    while await outbox_backlog(services.db, due_only=True):
        await relay.relay_once()
    handled = 0
    for _ in range(200):  # the first claims join the group; one record per claim after that
        handled = await worker.run_once()
        if handled:
            break
        await asyncio.sleep(0.05)
    assert handled == 1
    await worker.observe_lag()
    assert gauge._value.get() == 4  # five records, one read
    await drain(worker)
    await worker.observe_lag()
    assert gauge._value.get() == 0


async def test_one_relay_holds_the_lease_and_a_standby_takes_over(services: Services) -> None:
    db = services.db
    assert await take_lease(db, "relay", "a", 30)
    assert not await take_lease(db, "relay", "b", 30)
    assert await take_lease(db, "relay", "a", 30)  # renewal
    await drop_lease(db, "relay", "a")
    assert await take_lease(db, "relay", "b", 0.05)
    await asyncio.sleep(0.1)
    assert await take_lease(db, "relay", "a", 30)  # b's lease ran out


async def test_delayed_events_debounce_in_the_outbox(services: Services) -> None:
    due = Event(topics.BRIEFING_DUE, "brief:7", {"story_id": 7}, datetime.now(UTC), delay_s=60)
    await emit(services, due)
    await emit(services, due)
    async with services.db.read() as session:
        rows = list((await session.scalars(select(OutboxEvent))).all())
    assert len(rows) == 1
    assert rows[0].partition_key == "story:7"
    assert rows[0].available_at > rows[0].created_at


async def test_a_hurried_event_brings_the_unsent_outbox_row_forward(services: Services) -> None:
    held = Event(topics.BRIEFING_DUE, "brief:8", {"story_id": 8}, datetime.now(UTC), delay_s=300)
    await emit(services, held)
    await emit(
        services, Event(topics.BRIEFING_DUE, "brief:8", {"story_id": 8}, datetime.now(UTC), hurry=True)
    )
    async with services.db.read() as session:
        [row] = (await session.scalars(select(OutboxEvent))).all()
    assert (row.available_at - row.created_at).total_seconds() < 60  # was held 300 s


def test_keys_keep_a_story_and_a_source_in_order_and_spread_articles() -> None:
    now = datetime.now(UTC)
    ingested = {"article_id": 41, "source_id": 3, "content_hash": "h", "language": "en"}
    assert partition_key(Event(topics.STORY_UPDATED, "k", {"story_id": 7, "version": 2}, now)) == "story:7"
    assert partition_key(Event(topics.STORY_EDITED, "k", {"stories": [9, 4]}, now)) == "story:4"
    assert partition_key(Event(topics.SOURCE_POLL, "k", {"source_id": 3}, now)) == "source:3"
    # Articles need no order: one key each spreads a busy feed over every partition.
    assert partition_key(Event(topics.ARTICLE_INGESTED, "k", ingested, now)) == "article:41"
    assert partition_key(Event(topics.ARTICLE_EMBEDDED, "k", ingested, now)) == "article:41"
    assert partition_key(Event(topics.SCRIPT_READY, "audio:x", {"audio_id": "x"}, now)) == "audio:x"


class FixedToken:
    """A token provider as an MSK IAM one would be plugged in (no AWS call here)."""

    async def token(self) -> str:
        return "signed-token"


async def test_client_options_for_scram_and_oauthbearer() -> None:
    scram = KafkaConfig(
        "b-1:9096", security_protocol="SASL_SSL", sasl_username="u", sasl_password="s3cret-pw"
    )
    opts = scram.client_options()
    assert (opts["sasl_mechanism"], opts["sasl_plain_username"], opts["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "u",
        "s3cret-pw",
    )
    assert opts["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert "s3cret-pw" not in repr(scram)
    iam = KafkaConfig(
        "b-1:9098", security_protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER", token_provider=FixedToken()
    )
    assert await iam.client_options()["sasl_oauth_token_provider"].token() == "signed-token"
    assert "ssl_context" not in KafkaConfig("localhost:9092").client_options()
