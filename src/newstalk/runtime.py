"""The resources a process builds at start-up and hands to the API, workers and scheduler."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

from newstalk.accounts.principals import INVALIDATION_CODEC, InvalidationFanout
from newstalk.config import Settings
from newstalk.delivery.live_fanout import Broadcaster, build_broadcaster
from newstalk.ingestion.pool import warm_up as warm_up_parser
from newstalk.kit.bus import Transport
from newstalk.kit.db import Database
from newstalk.kit.http import Fetcher
from newstalk.kit.pubsub import build_broadcaster as build_pubsub
from newstalk.kit.ratelimit import Limiter, build_limiter
from newstalk.kit.resources import Resources
from newstalk.pipeline.bus import build_transport


@dataclass
class Services:
    settings: Settings
    db: Database
    # The queue table, or Kafka with an outbox (NEWSTALK_BUS, pipeline/bus.py).
    transport: Transport
    fetcher: Fetcher
    limiter: Limiter
    # Live events between processes: Redis pub/sub when configured, in process otherwise.
    broadcaster: Broadcaster
    # Principal-cache invalidations between processes, on their own channel (same transport).
    principal_fanout: InvalidationFanout
    # Parsing is CPU-bound; a process pool lets it use other cores. None: a thread here.
    parse_pool: Executor | None = None
    # Models, engines, stores and indexes built on first use in this process and shared by
    # every stage and endpoint in it (typed keys, see kit/resources.py); API-only processes
    # never pay for them.
    resources: Resources = field(default_factory=Resources)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Open the database, transport, fetcher and rate limiter; no model and no stage handler is loaded."""
        db = Database.open(settings.async_database_url)
        transport = build_transport(settings, db)
        db.transport = transport
        fetcher = build_fetcher(settings)
        return cls(
            settings=settings,
            db=db,
            transport=transport,
            fetcher=fetcher,
            limiter=build_limiter(
                settings.redis_url, settings.redis_prefix, timeout_s=settings.redis_timeout_s
            ),
            broadcaster=build_broadcaster(settings.redis_url, settings.redis_prefix),
            principal_fanout=build_principal_fanout(settings),
            parse_pool=_parse_pool(settings),
        )

    def restart_parse_pool(self) -> None:
        """Replace a broken parse pool (a parse process died); queued work fails and is retried."""
        if self.parse_pool is not None:
            self.parse_pool.shutdown(wait=False, cancel_futures=True)
        self.parse_pool = _parse_pool(self.settings)

    async def aclose(self) -> None:
        # Resources may hold clients (the S3 store, LLM chat clients); close what closes.
        await self.resources.aclose()
        await self.fetcher.aclose()
        await self.limiter.aclose()
        await self.transport.aclose()
        await self.broadcaster.aclose()
        await self.principal_fanout.broadcaster.aclose()
        await self.db.dispose()
        if self.parse_pool is not None:
            # Wait for the parse processes: after shutdown(wait=False) CPython's exit hook
            # writes to the pool's closed wake-up pipe and prints a traceback.
            await asyncio.to_thread(self.parse_pool.shutdown, wait=True, cancel_futures=True)


def build_principal_fanout(settings: Settings) -> InvalidationFanout:
    """Invalidations on ``<prefix>auth.invalidate`` through Redis when configured, in process otherwise.

    The publish timeout is at least 1 s: a logout waits at most that long for a hung Redis.
    """
    broadcaster = build_pubsub(
        settings.redis_url, channel=f"{settings.redis_prefix}auth.invalidate", codec=INVALIDATION_CODEC
    )
    return InvalidationFanout(broadcaster, timeout_s=max(settings.redis_timeout_s, 1.0))


def build_fetcher(settings: Settings) -> Fetcher:
    """The safe fetcher, configured by settings."""
    return Fetcher(
        user_agent=settings.user_agent,
        timeout_s=settings.fetch_timeout_s,
        max_bytes=settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
        per_host_limit=settings.fetch_per_host_limit,
        allow_private_networks=settings.allow_private_networks,
    )


def _parse_pool(settings: Settings) -> Executor | None:
    if settings.parse_processes <= 0:
        return None
    # spawn, not fork: this process already runs threads (database driver, event loop). The
    # pool starts its processes on the first parse, so a process that never parses (the
    # CLI, an API replica) spawns none and imports no parser.
    return ProcessPoolExecutor(
        max_workers=settings.parse_processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=warm_up_parser,
    )
