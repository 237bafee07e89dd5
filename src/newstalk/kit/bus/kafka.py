"""The Kafka transport (``NEWSTALK_BUS=kafka``): one topic per event type, one consumer group per stage.

Publishing writes the outbox in the caller's transaction (``outbox.write_outbox``); the relay
(``outbox.Relay`` with :meth:`KafkaTransport.send_outbox`) moves rows to
``<prefix><event type>`` keyed by ``partition_key`` (per source, per story), so events of
one key stay in order on one partition. A stage's workers share the consumer group
``<prefix><stage>``: Kafka splits the partitions among them. Offsets are committed by hand,
only after the batch's transactions committed (:meth:`ack`); a redelivery after a crash
between the two is dropped through ``bus_processed`` (claim filters it, ``complete``
refuses it inside the transaction).

A failed job goes to ``<prefix>retry.<stage>`` with the time it may run again (its
partition waits, paused, until then); after ``queue_max_attempts`` it goes to
``<prefix>dead-letters``, which the relay copies into the dead-letter table the API lists
(``GET /api/v1/pipeline/dead``); retrying one from the API sends it to that stage's
retry topic through the outbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import AbstractTokenProvider
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.helpers import create_ssl_context
from sqlalchemy import delete, select

from newstalk.kit.bus import Event, Job, LeaseLost, QueueDepth, Routes
from newstalk.kit.bus.dbqueue import DEAD, DbQueueTransport, QueueJob
from newstalk.kit.bus.outbox import (
    OutboxEvent,
    already_processed,
    mark_processed,
    outbox_backlog,
    outbox_oldest_due,
    write_outbox,
)
from newstalk.kit.db import Database, utcnow

log = logging.getLogger(__name__)

DEAD_LETTERS = "dead-letters"
TOPIC_ALREADY_EXISTS = 36


class TokenProvider(Protocol):
    """Gives SASL OAUTHBEARER tokens (MSK IAM: a signed token from the AWS credentials chain)."""

    async def token(self) -> str: ...


class _AiokafkaTokens(AbstractTokenProvider):  # type: ignore[misc]
    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider

    async def token(self) -> str:
        return await self.provider.token()


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    """Connection and behaviour settings (built from ``Settings`` by the runtime)."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    token_provider: TokenProvider | None = None
    ssl_cafile: str | None = None
    topic_prefix: str = "newstalk."
    create_topics: bool = True
    partitions: int = 6
    replication_factor: int = 1
    session_timeout_ms: int = 30_000
    heartbeat_interval_ms: int = 3000
    # The longest a batch may take between two claims before the group drops the consumer.
    max_poll_interval_ms: int = 300_000
    poll_timeout_ms: int = 500
    fetch_max_wait_ms: int = 100

    def client_options(self) -> dict[str, Any]:
        """Options every aiokafka client of this transport is created with."""
        opts: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            opts["ssl_context"] = (
                create_ssl_context(cafile=self.ssl_cafile)
                if self.ssl_cafile
                else ssl.create_default_context()
            )
        if self.security_protocol.startswith("SASL"):
            opts["sasl_mechanism"] = self.sasl_mechanism
            if self.sasl_mechanism == "OAUTHBEARER":
                if self.token_provider is None:
                    raise ValueError("kafka: OAUTHBEARER needs a token provider")
                opts["sasl_oauth_token_provider"] = _AiokafkaTokens(self.token_provider)
            else:
                opts["sasl_plain_username"] = self.sasl_username
                opts["sasl_plain_password"] = self.sasl_password
        return opts

    def topic(self, event_type: str) -> str:
        return f"{self.topic_prefix}{event_type}"

    def retry_topic(self, stage: str) -> str:
        return f"{self.topic_prefix}retry.{stage}"

    @property
    def dead_topic(self) -> str:
        return f"{self.topic_prefix}{DEAD_LETTERS}"

    def group(self, stage: str) -> str:
        return f"{self.topic_prefix}{stage}"


@dataclass(slots=True)
class _Batch:
    """Where one claim began and ended on each partition, to commit or go back to."""

    start: dict[TopicPartition, int] = field(default_factory=dict)
    end: dict[TopicPartition, int] = field(default_factory=dict)


def _headers(**values: str | int | None) -> list[tuple[str, bytes]]:
    return [(k, str(v).encode()) for k, v in values.items() if v is not None]


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


def _token(job: Job) -> tuple[TopicPartition, int]:
    topic, partition, offset = job.lease_token.rsplit("|", 2)
    return TopicPartition(topic, int(partition)), int(offset)


class KafkaTransport:
    """Kafka topics with consumer groups; events leave the database through the outbox."""

    def __init__(
        self,
        db: Database,
        routes: Routes,
        config: KafkaConfig,
        partition_key: Callable[[Event], str | None],
    ) -> None:
        self.db = db
        self.routes = routes
        self.config = config
        self.partition_key = partition_key
        # Dead letters are rows of the queue table (status dead), whatever the transport.
        self.dead_letters = DbQueueTransport(db, Routes())
        self._consumers: dict[str, AIOKafkaConsumer] = {}
        self._batches: dict[str, _Batch] = {}
        # Retry partitions held back until their head record is due (monotonic time).
        self._paused: dict[str, dict[TopicPartition, float]] = {}
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._topics_ready = False
        self._created = False

    # -- topics and clients ------------------------------------------------------------------

    def stage_topics(self, stage: str) -> list[str]:
        topics = sorted(t for t, stages in self.routes.by_topic.items() if stage in stages)
        return [self.config.topic(t) for t in topics] + [self.config.retry_topic(stage)]

    def all_topics(self) -> list[str]:
        stages = sorted({s for ss in self.routes.by_topic.values() for s in ss})
        return sorted(
            {self.config.topic(t) for t in self.routes.by_topic}
            | {self.config.retry_topic(s) for s in stages}
            | {self.config.dead_topic}
        )

    async def ensure_topics(self, *, force: bool = False) -> int:
        """Create the missing topics (when ``create_topics``); once per process unless ``force``.

        Returns how many were created. Topics that must be created while the outbox holds
        sent events mean the cluster lost them (a new or wiped cluster): the relay then
        publishes the retained ones again (:meth:`topics_recreated`).
        """
        if (self._topics_ready and not force) or not self.config.create_topics:
            return 0
        admin = AIOKafkaAdminClient(**self.config.client_options())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in self.all_topics() if t not in existing]
            if missing:
                resp = await admin.create_topics(
                    [NewTopic(t, self.config.partitions, self.config.replication_factor) for t in missing]
                )
                for name, code, *rest in getattr(resp, "topic_errors", ()):
                    if code not in (0, TOPIC_ALREADY_EXISTS):
                        raise RuntimeError(f"kafka: cannot create topic {name}: error {code} {rest}")
                log.warning("kafka: created %d missing topics", len(missing))
                self._created = True
        finally:
            await admin.close()
        self._topics_ready = True
        return len(missing)

    async def topics_recreated(self) -> bool:
        """Whether this process created topics since the last call (checking the broker now)."""
        await self.ensure_topics(force=True)
        created, self._created = self._created, False
        return created

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                await self.ensure_topics()
                producer = AIOKafkaProducer(**self.config.client_options(), acks="all", linger_ms=2)
                await producer.start()
                self._producer = producer
            return self._producer

    async def _consumer(self, stage: str) -> AIOKafkaConsumer:
        consumer = self._consumers.get(stage)
        if consumer is None:
            await self.ensure_topics()
            consumer = AIOKafkaConsumer(
                *self.stage_topics(stage),
                **self.config.client_options(),
                group_id=self.config.group(stage),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self.config.session_timeout_ms,
                heartbeat_interval_ms=self.config.heartbeat_interval_ms,
                max_poll_interval_ms=self.config.max_poll_interval_ms,
                fetch_max_wait_ms=self.config.fetch_max_wait_ms,
            )
            await consumer.start()
            self._consumers[stage] = consumer
        return consumer

    async def aclose(self) -> None:
        consumers, self._consumers = list(self._consumers.values()), {}
        for consumer in consumers:
            with suppress(Exception):
                await consumer.stop()
        if self._producer is not None:
            with suppress(Exception):
                await self._producer.stop()
            self._producer = None

    # -- Transport ---------------------------------------------------------------------------

    async def publish(self, session: Any, events: Sequence[Event]) -> None:
        await write_outbox(
            session, [e for e in events if self.routes.stages_for(e.topic)], self.partition_key
        )

    async def claim(self, stage: str, *, limit: int, lease_s: float) -> list[Job]:
        consumer = await self._consumer(stage)
        left = self._batches.pop(stage, None)
        if left is not None:  # handled, then not acknowledged: read it again (idempotent)
            assigned = consumer.assignment()
            for tp, offset in left.start.items():
                if tp in assigned:
                    consumer.seek(tp, offset)
        self._resume_due(stage, consumer)
        fetched = await consumer.getmany(timeout_ms=self.config.poll_timeout_ms, max_records=limit)
        batch, jobs = _Batch(), []
        now = asyncio.get_running_loop().time()
        retry_topic = self.config.retry_topic(stage)
        for tp, records in fetched.items():
            for record in records:
                if tp.topic == retry_topic:
                    due = float(_header(record, "retry-at") or 0)
                    wait = due - utcnow().timestamp()
                    if wait > 0:  # not yet: hold this partition back from here until due
                        consumer.seek(tp, record.offset)
                        consumer.pause(tp)
                        self._paused.setdefault(stage, {})[tp] = now + wait
                        break
                batch.start.setdefault(tp, record.offset)
                batch.end[tp] = record.offset + 1
                job = self._job(stage, record)
                if job is not None:
                    jobs.append(job)
        if not batch.end:
            return []
        done = await already_processed(self.db, stage, [j.id for j in jobs])
        if done:
            log.info("kafka: %s skips %d redelivered events it has already processed", stage, len(done))
            jobs = [j for j in jobs if j.id not in done]
        self._batches[stage] = batch
        if not jobs:
            await self.ack(stage, [])
        return jobs

    def _resume_due(self, stage: str, consumer: AIOKafkaConsumer) -> None:
        paused = self._paused.get(stage)
        if not paused:
            return
        now = asyncio.get_running_loop().time()
        for tp, due in list(paused.items()):
            if due <= now or tp not in consumer.assignment():
                del paused[tp]
                if tp in consumer.assignment():
                    consumer.resume(tp)

    def _job(self, stage: str, record: ConsumerRecord[bytes, bytes]) -> Job | None:
        try:
            event_id = int(_header(record, "event-id") or "")
            payload = json.loads(record.value or b"{}")
            first_seen = datetime.fromisoformat(_header(record, "first-seen") or "")
        except ValueError as exc:
            log.error(
                "kafka: %s drops a malformed record at %s/%d@%d: %s",
                stage,
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            return None
        return Job(
            id=event_id,
            stage=stage,
            topic=_header(record, "topic") or record.topic.removeprefix(self.config.topic_prefix),
            key=_header(record, "dedup-key"),
            payload=payload,
            first_seen_at=first_seen if first_seen.tzinfo else first_seen.replace(tzinfo=UTC),
            attempts=int(_header(record, "attempts") or 0) + 1,
            lease_token=f"{record.topic}|{record.partition}|{record.offset}",
        )

    async def complete(self, session: Any, job: Job) -> None:
        if not await mark_processed(session, job.stage, [job.id]):
            raise LeaseLost(f"pipeline: event {job.id} ({job.stage}) was already processed")

    async def complete_many(self, session: Any, jobs: Sequence[Job]) -> None:
        by_stage: dict[str, list[int]] = {}
        for job in jobs:
            by_stage.setdefault(job.stage, []).append(job.id)
        for stage, ids in by_stage.items():
            if await mark_processed(session, stage, ids) != len(ids):
                raise LeaseLost(f"pipeline: some of {len(ids)} events ({stage}) were already processed")

    async def ack(self, stage: str, jobs: Sequence[Job]) -> None:
        """Commit the offsets of the last claim: every job in it is committed, retried or dead."""
        batch = self._batches.pop(stage, None)
        consumer = self._consumers.get(stage)
        if batch is None or consumer is None or not batch.end:
            return
        try:
            await consumer.commit(batch.end)
        except Exception as exc:  # a rebalance: the next owner redelivers; claim skips what's done
            log.warning("kafka: %s could not commit offsets (%s); they will be redelivered", stage, exc)

    async def fail(self, job: Job, error: str, *, retry_at: datetime | None) -> None:
        producer = await self.producer()
        common: dict[str, str | int | None] = {
            "event-id": job.id,
            "topic": job.topic,
            "dedup-key": job.key,
            "first-seen": job.first_seen_at.isoformat(),
            "attempts": job.attempts,
            "stage": job.stage,
        }
        value = json.dumps(job.payload, ensure_ascii=False).encode()
        key = (job.key or str(job.id)).encode()
        if retry_at is None:
            headers = _headers(**common, error=error[:4000])
            await producer.send_and_wait(self.config.dead_topic, value, key=key, headers=headers)
        else:
            common["retry-at"] = f"{retry_at.timestamp():.3f}"
            headers = _headers(**common)
            await producer.send_and_wait(self.config.retry_topic(job.stage), value, key=key, headers=headers)

    async def release(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            batch = self._batches.get(job.stage)
            tp, offset = _token(job)
            if batch is not None and tp in batch.end:
                batch.end[tp] = min(batch.end[tp], offset)

    async def depth(self) -> list[QueueDepth]:
        """Events waiting in the outbox and dead letters per stage (consumer lag is Kafka's own metric)."""
        rows = [d for d in await self.dead_letters.depth() if d.status == DEAD]
        return [QueueDepth(stage="outbox", status="ready", count=await outbox_backlog(self.db)), *rows]

    async def oldest_due(self) -> dict[str, datetime]:
        """The outbox's oldest due unsent event (the relay's delay); a stage's own backlog on
        Kafka is its consumer lag, which the broker's metrics give (docs/pipeline.md)."""
        oldest = await outbox_oldest_due(self.db)
        return {} if oldest is None else {"outbox": oldest}

    async def lag(self, stage: str) -> int | None:
        """Records of ``stage``'s assigned partitions not yet read by this process; None before it joined."""
        consumer = self._consumers.get(stage)
        if consumer is None or not consumer.assignment():
            return None
        behind = 0
        for tp in sorted(consumer.assignment()):
            # The high watermark of the last fetch response: no request to the broker.
            end = consumer.highwater(tp)
            if end is None:
                return None
            behind += max(0, end - await consumer.position(tp))
        return behind

    async def dead_jobs(self, *, stage: str | None, limit: int, after_id: int | None) -> list[QueueJob]:
        return await self.dead_letters.dead_jobs(stage=stage, limit=limit, after_id=after_id)

    async def retry_dead(self, job_id: int) -> bool:
        """Send a dead letter to its stage's retry topic again (through the outbox), attempts reset."""
        async with self.db.unit() as uow:
            dead = await uow.session.scalar(
                select(QueueJob).where(QueueJob.id == job_id, QueueJob.status == DEAD).with_for_update()
            )
            if dead is None:
                return False
            event = Event(dead.topic, None, dead.payload, dead.first_seen_at)
            await write_outbox(uow.session, [event], self.partition_key, stage=dead.stage)
            await uow.session.execute(delete(QueueJob).where(QueueJob.id == job_id))
            return True

    # -- relay side --------------------------------------------------------------------------

    async def send_outbox(self, rows: Sequence[OutboxEvent]) -> None:
        """Publish outbox rows and wait until the broker has acknowledged all of them."""
        producer = await self.producer()
        pending = []
        for row in rows:
            topic = self.config.retry_topic(row.stage) if row.stage else self.config.topic(row.topic)
            fields: dict[str, str | int | None] = {
                "event-id": row.id,
                "topic": row.topic,
                "dedup-key": row.dedup_key,
                "first-seen": row.first_seen_at.isoformat(),
            }
            headers = _headers(**fields)
            key = row.partition_key.encode() if row.partition_key else None
            value = json.dumps(row.payload, ensure_ascii=False).encode()
            pending.append(await producer.send(topic, value, key=key, headers=headers))
        await asyncio.gather(*pending)

    async def sink_dead_letters(self, stop: asyncio.Event) -> None:
        """Copy ``<prefix>dead-letters`` into the dead-letter table the API lists, until ``stop``."""
        stage = DEAD_LETTERS
        while not stop.is_set():
            try:
                consumer = await self._consumer_for_dead()
                fetched = await consumer.getmany(timeout_ms=self.config.poll_timeout_ms, max_records=100)
                records = [r for rs in fetched.values() for r in rs]
                if records:
                    await self._store_dead(records)
                    await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in fetched.items()})
            except Exception as exc:
                log.warning("kafka: dead letters could not be stored (%s); retrying", exc)
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)
        consumer = self._consumers.pop(stage, None)
        if consumer is not None:
            with suppress(Exception):
                await consumer.stop()

    async def _consumer_for_dead(self) -> AIOKafkaConsumer:
        consumer = self._consumers.get(DEAD_LETTERS)
        if consumer is None:
            await self.ensure_topics()
            consumer = AIOKafkaConsumer(
                self.config.dead_topic,
                **self.config.client_options(),
                group_id=self.config.group(DEAD_LETTERS),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self.config.session_timeout_ms,
                heartbeat_interval_ms=self.config.heartbeat_interval_ms,
                fetch_max_wait_ms=self.config.fetch_max_wait_ms,
            )
            await consumer.start()
            self._consumers[DEAD_LETTERS] = consumer
        return consumer

    async def _store_dead(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        now = utcnow()
        async with self.db.unit() as uow:
            for record in records:
                stage = _header(record, "stage") or "?"
                job = self._job(stage, record)
                if job is None:
                    continue
                if not await mark_processed(uow.session, f"dead:{stage}", [job.id]):
                    continue  # a redelivered dead letter, stored already
                uow.session.add(
                    QueueJob(
                        stage=stage,
                        topic=job.topic,
                        dedup_key=job.key,
                        payload=job.payload,
                        status=DEAD,
                        attempts=job.attempts - 1,
                        available_at=now,
                        first_seen_at=job.first_seen_at,
                        created_at=now,
                        last_error=_header(record, "error"),
                    )
                )
