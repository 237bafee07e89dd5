"""Publish/subscribe between processes: the ``Broadcaster`` interface, in process or through Redis.

A broadcaster carries messages of one type ``M``; the Redis one sends them as text through a
``Codec`` the caller gives (``delivery.live_fanout`` sends live events). Delivery is at most
once: a process that is not subscribed when a message is published does not see it, so the
caller keeps a log to catch up from (the live event log does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

M = TypeVar("M")


class Broadcaster(Protocol[M]):
    """Fan-out of messages to every subscribed listener, in this process or all of them."""

    async def publish(self, messages: Sequence[M]) -> None:
        """Send ``messages`` in order to every listener subscribed now."""
        ...

    def subscribe(self, listener: Callable[[M], None]) -> Callable[[], None]:
        """Call ``listener`` for every published message until the returned function is called."""
        ...

    async def aclose(self) -> None:
        """Stop listening and release connections."""
        ...


@dataclass(frozen=True)
class Codec(Generic[M]):
    """How a message travels as text: ``encode`` and its inverse ``decode``.

    ``decode`` raises ValueError, KeyError or TypeError for a malformed message; the reader
    logs and skips it.
    """

    encode: Callable[[M], str]
    decode: Callable[[str | bytes], M]


class MemoryBroadcaster(Generic[M]):
    """Fan-out inside one process (``newstalk up``, tests)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[M], None]] = []

    async def publish(self, messages: Sequence[M]) -> None:
        """Call every listener with each message, in order."""
        for message in messages:
            for listener in list(self._listeners):
                listener(message)

    def subscribe(self, listener: Callable[[M], None]) -> Callable[[], None]:
        """Add ``listener``; the returned function removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def aclose(self) -> None:
        """Forget every listener."""
        self._listeners.clear()


class RedisBroadcaster(Generic[M]):
    """Fan-out through one Redis pub/sub channel shared by every process.

    A process subscribes only once something listens (API processes with open streams);
    workers only publish. The reader reconnects with backoff; what it missed meanwhile is
    lost here and must come from the caller's log.
    """

    def __init__(self, url: str, *, channel: str, codec: Codec[M]) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
        )
        self.channel = channel
        self._codec = codec
        self._listeners: list[Callable[[M], None]] = []
        self._reader: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def publish(self, messages: Sequence[M]) -> None:
        """PUBLISH each message, pipelined in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self.channel, self._codec.encode(message))
            await pipe.execute()

    def subscribe(self, listener: Callable[[M], None]) -> Callable[[], None]:
        """Add ``listener``; the first one starts the channel reader."""
        self._listeners.append(listener)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name=f"pubsub-{self.channel}")
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
                        decoded = self._codec.decode(message["data"])
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("pubsub: ignoring a malformed message on %s (%s)", self.channel, exc)
                        continue
                    for listener in list(self._listeners):
                        listener(decoded)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                log.warning(
                    "pubsub: Redis subscription to %s failed (%s); reconnecting in %.1f s",
                    self.channel,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def aclose(self) -> None:
        """Stop the reader, forget listeners, close the connection pool."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._listeners.clear()
        await self._redis.aclose()


def build_broadcaster(redis_url: str | None, *, channel: str, codec: Codec[M]) -> Broadcaster[M]:
    """Redis pub/sub on ``channel`` when a URL is configured, in process otherwise (like the rate limiter)."""
    if redis_url:
        return RedisBroadcaster(redis_url, channel=channel, codec=codec)
    return MemoryBroadcaster()
