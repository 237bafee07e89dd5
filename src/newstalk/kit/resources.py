"""Process-wide resources (models, engines, stores) built once, on first use, behind typed keys.

A domain declares what it keeps with a typed key next to the code that builds it::

    ENGINE: ResourceKey[StoryEngine] = ResourceKey("stories.engine")
    engine = await services.resources.aget_or_build(ENGINE, build_engine)

so the holder needs no import of any domain and every read is typed (``get`` of a
``ResourceKey[T]`` gives ``T | None``). Nothing is built at start-up: an API-only process
never loads a model it does not serve. A build runs once per key even when many tasks
or threads ask at the same moment (an ``asyncio.Lock`` per key for async builds, one
``threading.Lock`` for sync ones); a build that raises leaves nothing behind, so the next
caller tries again. ``aclose`` closes what was built, newest first.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")

log = logging.getLogger(__name__)


class ResourceKey(Generic[T]):
    """Names one resource of type ``T``; compare by name, so two equal keys share a value."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ResourceKey({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResourceKey) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class Resources:
    """This process's built resources, one value per key."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._sync_lock = threading.RLock()
        self._async_locks: dict[str, asyncio.Lock] = {}

    def __contains__(self, key: ResourceKey[Any]) -> bool:
        return key.name in self._values

    def names(self) -> list[str]:
        """The keys built so far, oldest first (for logs and tests)."""
        return list(self._values)

    def get(self, key: ResourceKey[T]) -> T | None:
        """The value built for ``key``, or None."""
        return cast("T | None", self._values.get(key.name))

    def set(self, key: ResourceKey[T], value: T) -> T:
        """Store ``value`` for ``key`` (replacing any); for tests and for state a stage swaps whole."""
        with self._sync_lock:
            self._values[key.name] = value
        return value

    def pop(self, key: ResourceKey[T]) -> T | None:
        """Forget ``key`` so the next use builds it again; the old value is returned, not closed."""
        with self._sync_lock:
            return cast("T | None", self._values.pop(key.name, None))

    def get_or_build(self, key: ResourceKey[T], build: Callable[[], T]) -> T:
        """The value for ``key``, built by ``build()`` under a lock the first time (sync callers)."""
        if key.name in self._values:
            return cast(T, self._values[key.name])
        with self._sync_lock:
            if key.name not in self._values:
                self._values[key.name] = build()
            return cast(T, self._values[key.name])

    async def aget_or_build(self, key: ResourceKey[T], build: Callable[[], Awaitable[T]]) -> T:
        """The value for ``key``; the first caller awaits ``build()``, concurrent ones wait for it."""
        if key.name in self._values:
            return cast(T, self._values[key.name])
        lock = self._async_locks.setdefault(key.name, asyncio.Lock())
        async with lock:
            if key.name not in self._values:
                value = await build()
                with self._sync_lock:
                    self._values.setdefault(key.name, value)
            return cast(T, self._values[key.name])

    async def aclose(self) -> None:
        """Close every built value that can close (``aclose`` or ``close``), newest first; forget all."""
        with self._sync_lock:
            values = list(self._values.items())
            self._values.clear()
        for name, value in reversed(values):
            try:
                aclose = getattr(value, "aclose", None)
                if callable(aclose):
                    result = aclose()
                    if inspect.isawaitable(result):
                        await result
                    continue
                close = getattr(value, "close", None)
                if callable(close):
                    result = close()
                    if inspect.isawaitable(result):
                        await result
            except Exception:
                log.warning("resources: closing %s failed; continuing shutdown", name, exc_info=True)
