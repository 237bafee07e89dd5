"""Rate limits: per listener or address, per route, 429 with headers, one limit across processes via Redis."""

from __future__ import annotations

import os
import socket
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

from newstalk.accounts.models import Role
from newstalk.config import Settings
from newstalk.kit import migrate
from newstalk.kit.metrics import RATELIMIT_ERRORS, RATELIMIT_FALLBACK
from newstalk.kit.ratelimit import MemoryLimiter, RedisLimiter
from tests.conftest import make_settings
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio

NEWSTALK = Path(sys.executable).parent / "newstalk"
REDIS_URL = os.environ.get("NEWSTALK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    """The app with 5 requests a minute by default and 2 for the news list."""
    from newstalk.main import create_app

    settings = make_settings(database_url, rate_limit_per_minute=5, rate_limit_routes={"GET /api/v1/news": 2})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, settings


async def test_anonymous_callers_are_limited_per_address(limited: tuple[httpx.AsyncClient, Settings]) -> None:
    client, _ = limited
    seen = []
    for _ in range(5):
        resp = await client.get("/api/v1/stories")
        assert resp.status_code == 200
        seen.append(int(resp.headers["ratelimit-remaining"]))
        assert resp.headers["ratelimit-limit"] == "5"
        assert resp.headers["ratelimit-policy"] == "5;w=60"
    assert seen == [4, 3, 2, 1, 0]
    refused = await client.get("/api/v1/sources")  # every default-limit route shares the bucket
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 12  # one request comes back every 60/5 = 12 s
    assert refused.headers["ratelimit-remaining"] == "0"
    assert int(refused.headers["ratelimit-reset"]) >= retry
    assert "more than 5 requests a minute" in refused.json()["detail"]
    # Health probes and metrics scrapes are never limited.
    for _ in range(10):
        assert (await client.get("/health")).status_code == 200
    # Another address has its own bucket.
    transport = client._transport  # the same app, seen from another client address
    assert isinstance(transport, httpx.ASGITransport)
    other = httpx.ASGITransport(app=transport.app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=other, base_url="http://testserver") as elsewhere:
        assert (await elsewhere.get("/api/v1/stories")).status_code == 200


async def test_listeners_are_limited_per_account_and_per_route(
    limited: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, settings = limited
    alice = await make_account(settings, Role.listener, "alice@example.org")
    bob = await make_account(settings, Role.listener, "bob@example.org")
    # The news list has its own, smaller limit...
    assert [(await client.get("/api/v1/news", headers=alice.headers)).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    # ...that leaves the default bucket alone.
    assert [(await client.get("/api/v1/me", headers=alice.headers)).status_code for _ in range(6)] == [
        200
    ] * 5 + [429]
    # Same address, different listener: a separate limit.
    assert (await client.get("/api/v1/me", headers=bob.headers)).status_code == 200
    # A bad credential counts against the address, so guessing keys is limited too.
    guesses = [
        (await client.get("/api/v1/me", headers={"Authorization": "Bearer ntk_x"})).status_code
        for _ in range(6)
    ]
    assert guesses == [401] * 5 + [429]


async def test_registration_has_its_own_tighter_limit(limited: tuple[httpx.AsyncClient, Settings]) -> None:
    client, _ = limited
    attempt = {"email": "a@example.org", "password": "short"}
    codes = [(await client.post("/api/v1/auth/register", json=attempt)).status_code for _ in range(6)]
    assert codes == [422] * 5 + [429]
    assert (await client.get("/api/v1/stories")).status_code == 200  # the default bucket is separate


async def test_memory_limiter_refills_at_the_rate() -> None:
    now = [1000.0]
    limiter = MemoryLimiter(clock=lambda: now[0])
    assert [(await limiter.hit("k", 3)).allowed for _ in range(4)] == [True, True, True, False]
    denied = await limiter.hit("k", 3)
    assert denied.retry_after_s == pytest.approx(20.0)
    now[0] += 20.0
    assert (await limiter.hit("k", 3)).allowed
    assert not (await limiter.hit("k", 3)).allowed
    now[0] += 60.0
    full = await limiter.hit("k", 3)
    assert full.allowed
    assert full.remaining == 2


async def test_an_unreachable_redis_falls_back_to_counting_in_process() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    limiter = RedisLimiter(f"redis://127.0.0.1:{port}/0", prefix="t:")
    errors, fallback = RATELIMIT_ERRORS._value.get(), RATELIMIT_FALLBACK._value.get()
    try:
        decisions = [await limiter.hit("k", 2) for _ in range(3)]
        # The limit holds without Redis: 2 allowed, the third refused, honest headers.
        assert [d.allowed for d in decisions] == [True, True, False]
        assert [d.remaining for d in decisions] == [1, 0, 0]
        # One failed call to Redis, then in process for FALLBACK_HOLD_S without trying again.
        assert RATELIMIT_ERRORS._value.get() == errors + 1
        assert RATELIMIT_FALLBACK._value.get() == fallback + 3
    finally:
        await limiter.aclose()


async def test_a_hung_redis_costs_one_short_timeout_not_one_per_request() -> None:
    # A server that accepts connections and never answers: a hung Redis.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        limiter = RedisLimiter(f"redis://127.0.0.1:{hung.getsockname()[1]}/0", prefix="t:", timeout_s=0.1)
        try:
            start = time.perf_counter()
            decisions = [await limiter.hit("k", 5) for _ in range(20)]
            elapsed = time.perf_counter() - start
        finally:
            await limiter.aclose()
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 15
    assert elapsed < 1.0  # one 0.1 s timeout, then in process (was 0.5 s on every request)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def two_api_processes(tmp_path: Path) -> Iterator[tuple[list[int], str]]:
    """Two `newstalk api` processes on one SQLite file and one Redis, each with its own port."""
    if not _redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Redis at {REDIS_URL}: CI needs it (.ci/run starts it)")
        pytest.skip(f"no Redis at {REDIS_URL} (set NEWSTALK_TEST_REDIS_URL)")
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    migrate.upgrade(db_url)
    prefix = f"newstalk-test-{uuid.uuid4().hex}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    env.update(
        NEWSTALK_DATABASE_URL=db_url,
        NEWSTALK_REDIS_URL=REDIS_URL,
        NEWSTALK_REDIS_PREFIX=prefix,
        NEWSTALK_RATE_LIMIT_PER_MINUTE="100",
        NEWSTALK_LOG_LEVEL="warning",
    )
    ports = [_free_port(), _free_port()]
    logs = [(tmp_path / f"api-{port}.log").open("wb") for port in ports]
    procs = [
        subprocess.Popen(
            [str(NEWSTALK), "api", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        deadline = time.monotonic() + 60
        for port in ports:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                    break
                except (urllib.error.URLError, ConnectionError):
                    if time.monotonic() > deadline:
                        raise AssertionError((tmp_path / f"api-{port}.log").read_text()) from None
                    time.sleep(0.1)
        yield ports, prefix
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        for log in logs:
            log.close()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


@pytest.mark.slow
async def test_two_api_processes_share_one_limit_through_redis(
    two_api_processes: tuple[list[int], str],
) -> None:
    ports, _ = two_api_processes
    codes: dict[int, list[int]] = {port: [] for port in ports}
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as http:
        for i in range(150):
            port = ports[i % 2]
            resp = await http.get(f"http://127.0.0.1:{port}/api/v1/stories")
            codes[port].append(resp.status_code)
            if resp.status_code == 429:
                assert "retry-after" in resp.headers
    elapsed = time.monotonic() - start
    allowed = sum(c == 200 for c in codes[ports[0]] + codes[ports[1]])
    # One shared bucket of 100 a minute (one more every 0.6 s while the test runs); two
    # separate limits would have let all 150 through.
    assert 100 <= allowed <= 100 + int(elapsed / 0.6) + 1, (allowed, elapsed)
    for port in ports:
        assert codes[port].count(200) >= 45, (port, codes[port])
        assert 429 in codes[port], (port, codes[port])
