"""The transport settings choose (``NEWSTALK_BUS``), the Kafka message keys, and the outbox relay task.

Keys decide order on Kafka: events with the same key land on one partition and are read
in the order they were written. Story events are keyed by story (a story's versions reach
factcheck, briefings and live in order), source events by source (a feed's polls in
order), article events by article: no stage needs a feed's articles in order, and one key
per article spreads them evenly over the partitions, so every embed worker gets its share
(keyed by source, two embed workers did 1.46× one; keyed by article 1.67×, docs/pipeline.md).
The rest by their dedup key, or spread.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from typing import TYPE_CHECKING, Any

from newstalk.config import Settings
from newstalk.kit.bus import Event, Transport
from newstalk.kit.bus.dbqueue import DbQueueTransport
from newstalk.kit.bus.outbox import Relay
from newstalk.kit.db import Database
from newstalk.pipeline.stages import routes

if TYPE_CHECKING:
    # aiokafka (about 16 MB) is imported only by a process that runs on Kafka.
    from newstalk.kit.bus.kafka import KafkaConfig, KafkaTransport, TokenProvider

log = logging.getLogger(__name__)


def partition_key(event: Event) -> str | None:
    """The Kafka message key of an event: per story, per article, per source, else its dedup key."""
    payload = event.payload
    if "story_id" in payload:
        return f"story:{payload['story_id']}"
    stories = payload.get("stories")
    if isinstance(stories, list) and stories:
        return f"story:{min(stories)}"
    if "article_id" in payload:
        return f"article:{payload['article_id']}"
    if "source_id" in payload:
        return f"source:{payload['source_id']}"
    return event.key


def kafka_config(settings: Settings) -> KafkaConfig:
    """Kafka connection options from settings (the token provider is imported and built here)."""
    from newstalk.kit.bus.kafka import KafkaConfig

    provider: TokenProvider | None = None
    if settings.kafka_oauth_token_provider:
        module, _, name = settings.kafka_oauth_token_provider.partition(":")
        factory: Any = getattr(importlib.import_module(module), name)
        provider = factory()
    password = settings.kafka_sasl_password
    return KafkaConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=password.get_secret_value() if password is not None else None,
        token_provider=provider,
        ssl_cafile=settings.kafka_ssl_cafile,
        topic_prefix=settings.kafka_topic_prefix,
        create_topics=settings.kafka_create_topics,
        partitions=settings.kafka_partitions,
        replication_factor=settings.kafka_replication_factor,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_poll_interval_ms=max(int(settings.queue_lease_s * 1000), settings.kafka_session_timeout_ms),
        poll_timeout_ms=settings.kafka_poll_timeout_ms,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )


def build_transport(settings: Settings, db: Database) -> DbQueueTransport | KafkaTransport:
    """The queue table, or Kafka when ``NEWSTALK_BUS=kafka``."""
    if settings.bus == "kafka":
        from newstalk.kit.bus.kafka import KafkaTransport

        return KafkaTransport(db, routes(), kafka_config(settings), partition_key)
    return DbQueueTransport(db, routes())


async def run_relay(settings: Settings, db: Database, transport: Transport, stop: asyncio.Event) -> None:
    """Relay the outbox to Kafka and copy dead letters into the table, until ``stop``.

    Every process that runs stages on Kafka runs this; one at a time holds the relay lease
    and publishes, the others stand by (they all take part in the dead-letter consumer group).
    """
    kafka = sys.modules.get("newstalk.kit.bus.kafka")  # never imported: not a Kafka transport
    if kafka is None or not isinstance(transport, kafka.KafkaTransport):
        return
    relay = Relay(
        db,
        transport.send_outbox,
        poll_s=settings.kafka_relay_poll_s,
        lease_s=settings.kafka_relay_lease_s,
        outbox_retention_s=settings.kafka_outbox_retention_s,
        processed_retention_s=settings.kafka_processed_retention_s,
        lost=transport.topics_recreated,
        check_s=settings.kafka_relay_check_s,
    )
    await asyncio.gather(relay.run(stop), transport.sink_dead_letters(stop))
