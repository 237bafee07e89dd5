"""Live events between processes: the message format and the broadcasters (Redis or in process).

Kept apart from ``live.py`` so every process can build its broadcaster without loading
the pipeline's domain modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from newstalk.delivery.live_models import LiveEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """An event as it travels between processes and to clients; ``data`` is the client's JSON."""

    id: int
    type: str
    category: str | None
    languages: tuple[str, ...]
    keywords: tuple[str, ...]
    source_ids: tuple[int, ...]
    title: str
    data: dict[str, Any]

    @classmethod
    def from_row(cls, row: LiveEvent) -> LiveMessage:
        story = row.payload.get("story") or {}
        return cls(
            id=row.id,
            type=row.type,
            category=row.category,
            languages=tuple(row.languages),
            keywords=tuple(row.keywords),
            source_ids=tuple(int(s) for s in row.source_ids),
            title=str(story.get("title") or ""),
            data={"id": row.id, "type": row.type, "created_at": row.created_at.isoformat(), **row.payload},
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "type": self.type,
                "category": self.category,
                "languages": self.languages,
                "keywords": self.keywords,
                "source_ids": self.source_ids,
                "title": self.title,
                "data": self.data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> LiveMessage:
        d = json.loads(raw)
        return cls(
            id=int(d["id"]),
            type=str(d["type"]),
            category=d.get("category"),
            languages=tuple(d.get("languages") or ()),
            keywords=tuple(d.get("keywords") or ()),
            source_ids=tuple(int(s) for s in d.get("source_ids") or ()),
            title=str(d.get("title") or ""),
            data=dict(d["data"]),
        )


Listener = Callable[[LiveMessage], None]


class Broadcaster(Protocol):
    async def publish(self, messages: Sequence[LiveMessage]) -> None: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every published message until the returned function is called."""
        ...

    async def aclose(self) -> None: ...


class MemoryBroadcaster:
    """Fan-out inside one process (``newstalk up``, tests)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    async def publish(self, messages: Sequence[LiveMessage]) -> None:
        for message in messages:
            for listener in list(self._listeners):
                listener(message)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def aclose(self) -> None:
        self._listeners.clear()


class RedisBroadcaster:
    """Fan-out through one Redis pub/sub channel (``<prefix>live``) shared by every process.

    A process subscribes only once something listens (API processes with open streams);
    workers only publish. The reader reconnects with backoff; what it missed meanwhile
    comes from the log.
    """

    def __init__(self, url: str, *, prefix: str) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
        )
        self.channel = f"{prefix}live"
        self._listeners: list[Listener] = []
        self._reader: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def publish(self, messages: Sequence[LiveMessage]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self.channel, message.to_json())
            await pipe.execute()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="live-redis-reader")
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def _read(self) -> None:
        delay = 0.5
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                delay = 0.5
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        live = LiveMessage.from_json(message["data"])
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("live: ignoring a malformed message on %s (%s)", self.channel, exc)
                        continue
                    for listener in list(self._listeners):
                        listener(live)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                log.warning("live: Redis subscription failed (%s); reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._listeners.clear()
        await self._redis.aclose()


def build_broadcaster(redis_url: str | None, prefix: str) -> Broadcaster:
    """Redis pub/sub when a URL is configured, in process otherwise (like the rate limiter)."""
    if redis_url:
        return RedisBroadcaster(redis_url, prefix=prefix)
    return MemoryBroadcaster()
