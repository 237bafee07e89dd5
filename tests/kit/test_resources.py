"""Process resources: built once per key, shared, rebuilt after a failed build, closed on shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest

from newstalk.config import Settings
from newstalk.kit.resources import ResourceKey, Resources
from newstalk.providers.embeddings import shared_embeddings

pytestmark = pytest.mark.anyio


class Closable:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def close(self) -> None:
        self.log.append(self.name)


class AsyncClosable(Closable):
    async def aclose(self) -> None:
        self.log.append(f"a{self.name}")


async def test_async_build_runs_once_for_concurrent_callers() -> None:
    resources = Resources()
    key: ResourceKey[list[int]] = ResourceKey("numbers")
    builds = 0
    gate = asyncio.Event()

    async def build() -> list[int]:
        nonlocal builds
        builds += 1
        await gate.wait()
        return [builds]

    waiting = [asyncio.create_task(resources.aget_or_build(key, build)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    values = await asyncio.gather(*waiting)
    assert builds == 1
    assert all(v is values[0] for v in values)
    assert resources.get(key) is values[0]


async def test_a_failed_build_leaves_nothing_and_the_next_caller_builds() -> None:
    resources = Resources()
    key: ResourceKey[str] = ResourceKey("flaky")

    async def broken() -> str:
        raise RuntimeError("model file missing")

    async def working() -> str:
        return "ok"

    with pytest.raises(RuntimeError):
        await resources.aget_or_build(key, broken)
    assert key not in resources
    assert await resources.aget_or_build(key, working) == "ok"


def test_sync_build_runs_once_across_threads() -> None:
    resources = Resources()
    key: ResourceKey[object] = ResourceKey("shared")
    calls: list[int] = []
    barrier = threading.Barrier(4)

    def build() -> object:
        calls.append(1)
        return object()

    got: list[object] = []

    def use() -> None:
        barrier.wait()
        got.append(resources.get_or_build(key, build))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(g is got[0] for g in got)


async def test_equal_keys_share_a_value_and_pop_forgets_it() -> None:
    resources = Resources()
    first: ResourceKey[str] = ResourceKey("stories.engine")
    resources.set(first, "engine")
    assert resources.get(ResourceKey[str]("stories.engine")) == "engine"
    assert resources.pop(first) == "engine"
    assert resources.get(first) is None
    assert resources.get_or_build(first, lambda: "rebuilt") == "rebuilt"


async def test_aclose_closes_what_closes_newest_first_and_forgets_everything() -> None:
    log: list[str] = []
    resources = Resources()
    resources.set(ResourceKey("a"), Closable(log, "a"))
    resources.set(ResourceKey("plain"), {"no": "close"})
    resources.set(ResourceKey("b"), AsyncClosable(log, "b"))
    await resources.aclose()
    assert log == ["ab", "a"]
    assert resources.names() == []


def test_one_embedding_provider_per_model_per_process() -> None:
    resources = Resources()
    settings = Settings()
    first = shared_embeddings(resources, settings)
    assert shared_embeddings(resources, settings) is first
    other = shared_embeddings(
        resources,
        Settings(embedding_provider="openai", embedding_url="http://127.0.0.1:9", embedding_model="m"),
    )
    assert other is not first
    assert resources.names() == ["embeddings:e5-small:", "embeddings:openai:m"]
