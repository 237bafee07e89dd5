"""Chaos on PostgreSQL: a worker SIGKILLed, every database connection cut and Redis gone, mid-stream.

Two real ``newstalk worker collect`` processes (each with its parse processes) collect
feeds from a local server, sharing a private Redis started for this test. While they are
in the middle of the work, one worker is SIGKILLed, every connection to the test database
is terminated (``pg_terminate_backend``) and Redis is killed; a fresh worker and a fresh
Redis then come up. Every item must be stored exactly once, no job may be left running,
ready or dead, and no process the test started may outlive it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from newstalk.runtime import Services
from tests.conftest import PG_URL
from tests.pipeline.test_crash_recovery import (
    ITEMS_PER_FEED,
    WorkerProcess,
    article_count,
    assert_exactly_once,
    jobs,
    serve_feeds,
    subscribe,
    unslow,
    wait_for,
)
from tests.support.feedserver import FeedServer
from tests.support.processes import descendants, wait_gone

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason="chaos runs in the PostgreSQL pass (NEWSTALK_TEST_DATABASE_URL)"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own, so killing it disturbs nobody else."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.tmp_path = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.kill()


def _start_worker(database_url: str, tmp_path: Path, redis_url: str) -> WorkerProcess:
    previous = os.environ.get("NEWSTALK_REDIS_URL")
    os.environ["NEWSTALK_REDIS_URL"] = redis_url
    try:
        # WorkerProcess drops NEWSTALK_* from the environment; pass Redis through its env copy.
        worker = WorkerProcess(database_url, tmp_path, batch=8, concurrency=8)
    finally:
        if previous is None:
            os.environ.pop("NEWSTALK_REDIS_URL", None)
        else:
            os.environ["NEWSTALK_REDIS_URL"] = previous
    return worker


async def test_kill_a_worker_cut_the_database_and_lose_redis_mid_stream(
    services: Services,
    feed_server: FeedServer,
    private_redis: PrivateRedis,
    database_url: str,
    tmp_path: Path,
) -> None:
    n_feeds = 48
    urls = serve_feeds(feed_server, n_feeds, stragglers={10, 30})
    feed_ids = await subscribe(services, urls)
    started: list[WorkerProcess] = []
    children: set[int] = set()
    try:
        started += [_start_worker(database_url, tmp_path, private_redis.url) for _ in range(2)]
        first, second = started

        async def some_stored() -> bool:
            return await article_count(services) >= 8 * ITEMS_PER_FEED

        await wait_for(some_stored, within=60, what="the first articles", worker=first)
        children |= descendants(first.proc.pid) | descendants(second.proc.pid)
        os.kill(first.proc.pid, signal.SIGKILL)
        async with services.db.unit() as uow:
            cut = await uow.session.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            assert cut.scalar_one() >= 1
        private_redis.kill()
        unslow(feed_server)
        private_redis.start()
        third = _start_worker(database_url, tmp_path, private_redis.url)
        started.append(third)

        async def queue_empty() -> bool:
            return not await jobs(services)

        await wait_for(queue_empty, within=120, what="the queue to drain", worker=third)
        children |= descendants(second.proc.pid) | descendants(third.proc.pid)
        await assert_exactly_once(services, feed_ids, feed_server)
        second.proc.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, second.log()
        # The fresh worker may still be starting (the survivor can drain the queue first);
        # before its handlers are installed SIGTERM ends it the default way.
        third.proc.send_signal(signal.SIGTERM)
        assert third.wait(timeout=30) in (0, -signal.SIGTERM), third.log()
    finally:
        for worker in started:
            worker.kill()
    assert children, "the workers ran parse processes"
    assert wait_gone(children, within=10) == set()
