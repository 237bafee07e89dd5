"""Live updates across real processes: two `newstalk api` processes on one database and one Redis
receive an event the live stage published once; SIGTERM ends open streams at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from newstalk.kit import migrate
from newstalk.runtime import Services
from tests.conftest import make_settings
from tests.delivery.live_helpers import (
    SSE_ACCEPT,
    SSEReader,
    emit,
    free_port,
    make_story,
    run_stage,
    story_updated,
)

pytestmark = pytest.mark.anyio

NEWSTALK = Path(sys.executable).parent / "newstalk"
REDIS_URL = os.environ.get("NEWSTALK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _start(db_url: str, env_extra: dict[str, str], tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    env.update(NEWSTALK_DATABASE_URL=db_url, NEWSTALK_LOG_LEVEL="warning", **env_extra)
    port = free_port()
    with (tmp / f"api-{port}.log").open("wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [str(NEWSTALK), "api", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
            return proc, port
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp / f"api-{port}.log").read_text()) from None
            time.sleep(0.1)


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[str, str, list[int]]]:
    """Two API processes on one SQLite file and one Redis; no log tail, so only Redis carries events."""
    if not _redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Redis at {REDIS_URL}: CI needs it (.ci/run starts it)")
        pytest.skip(f"no Redis at {REDIS_URL} (set NEWSTALK_TEST_REDIS_URL)")
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    migrate.upgrade(db_url)
    prefix = f"newstalk-test-{uuid.uuid4().hex}:"
    extra = {"NEWSTALK_REDIS_URL": REDIS_URL, "NEWSTALK_REDIS_PREFIX": prefix, "NEWSTALK_LIVE_POLL_S": "0"}
    procs = [_start(db_url, extra, tmp_path) for _ in range(2)]
    try:
        yield db_url, prefix, [port for _, port in procs]
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            proc.wait(timeout=30)


async def _subscribers(channel: str) -> int:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        counts = await client.pubsub_numsub(channel)
        return int(counts[0][1])
    finally:
        await client.aclose()


@pytest.fixture
async def worker_services(shared: tuple[str, str, list[int]]) -> AsyncIterator[Services]:
    """This test process plays `newstalk worker live`: same database, same Redis."""
    db_url, prefix, _ = shared
    svc = Services.build(make_settings(db_url, redis_url=REDIS_URL, redis_prefix=prefix))
    try:
        yield svc
    finally:
        await svc.aclose()


@pytest.mark.slow
async def test_one_publish_reaches_streams_on_both_api_processes(
    shared: tuple[str, str, list[int]], worker_services: Services
) -> None:
    _, prefix, ports = shared
    story_id = await make_story(worker_services, "한국은행 기준금리 동결", languages=["ko"])
    async with (
        httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http,
        http.stream("GET", f"http://127.0.0.1:{ports[0]}/api/v1/stream") as a,
        http.stream("GET", f"http://127.0.0.1:{ports[1]}/api/v1/stream?lang=ko") as b,
    ):
        readers = [SSEReader(a), SSEReader(b)]
        for reader in readers:
            await reader.ready()
        deadline = time.monotonic() + 10
        while await _subscribers(f"{prefix}live") < 2:
            assert time.monotonic() < deadline, "the API processes never subscribed to Redis"
            await asyncio.sleep(0.05)
        await emit(worker_services, story_updated(story_id))
        assert await run_stage(worker_services, "live") == 1
        events = [await reader.next(wait_s=10) for reader in readers]
    assert [e.event for e in events] == ["story.updated", "story.updated"]
    assert events[0].id == events[1].id
    assert events[0].data == events[1].data
    assert events[0].data["story"]["title"] == "한국은행 기준금리 동결"


@pytest.mark.slow
async def test_sigterm_ends_open_streams_and_exits_promptly(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'stop.db'}"
    migrate.upgrade(db_url)
    proc, port = _start(db_url, {}, tmp_path)
    try:
        async with (
            httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http,
            http.stream("GET", f"http://127.0.0.1:{port}/api/v1/stream") as resp,
        ):
            reader = SSEReader(resp)
            await reader.ready()
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            await reader.expect_end(wait_s=10)
            code = await asyncio.to_thread(proc.wait, 15)
            elapsed = time.monotonic() - started
        # uvicorn's graceful timeout here is 30 s; the stream must not hold the shutdown that long.
        assert code == 0
        assert elapsed < 10, elapsed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
