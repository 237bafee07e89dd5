"""Principal-cache invalidation across API processes through real Redis pub/sub.

Two apps (two lifespans, two ``Services``, two caches) on one database and one Redis play
two replicas. The TTL is 60 s, so a replica that answers differently right after the change
can only have heard it through Redis, not from its cache expiring.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from newstalk.accounts.models import Role
from newstalk.accounts.principals import Invalidation, PrincipalCache
from newstalk.config import Settings
from newstalk.kit.metrics import REGISTRY
from newstalk.kit.pubsub import RedisBroadcaster
from tests.conftest import make_settings
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("NEWSTALK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Only guards against a hang; the TTL (60 s) is what a late message would be compared with.
HEARD_WITHIN_S = 10.0


def _redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def shared_settings(database_url: str) -> Settings:
    """Settings of every replica: one database, one Redis, a private prefix, a 60 s principal cache."""
    if not _redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Redis at {REDIS_URL}: CI needs it (.ci/run starts it)")
        pytest.skip(f"no Redis at {REDIS_URL} (set NEWSTALK_TEST_REDIS_URL)")
    return make_settings(
        database_url,
        redis_url=REDIS_URL,
        redis_prefix=f"newstalk-test-{uuid.uuid4().hex}:",
        auth_cache_ttl_s=60,
    )


@asynccontextmanager
async def replica(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One API process, returned once it is subscribed to the invalidation channel."""
    from newstalk.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        broadcaster = app.state.services.principal_fanout.broadcaster
        assert isinstance(broadcaster, RedisBroadcaster)
        await asyncio.wait_for(broadcaster.subscribed.wait(), HEARD_WITHIN_S)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http


@asynccontextmanager
async def next_invalidation(app: FastAPI) -> AsyncIterator[list[Invalidation]]:
    """Waits, on leaving, until ``app`` received one invalidation (after its cache applied it)."""
    heard: list[Invalidation] = []
    event = asyncio.Event()

    def note(message: Invalidation) -> None:
        heard.append(message)
        event.set()

    # Subscribed after the app's own listener, so called after the cache applied the message.
    unsubscribe = app.state.services.principal_fanout.broadcaster.subscribe(note)
    try:
        yield heard
        await asyncio.wait_for(event.wait(), HEARD_WITHIN_S)
    finally:
        unsubscribe()


def cache(app: FastAPI) -> PrincipalCache:
    cached: PrincipalCache = app.state.principal_cache
    return cached


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_logout_on_one_replica_ends_the_login_on_the_other_at_once(
    shared_settings: Settings,
) -> None:
    me = await make_account(shared_settings, Role.listener)
    async with replica(shared_settings) as (_, a), replica(shared_settings) as (b_app, b):
        assert (await b.get("/api/v1/me", headers=me.headers)).status_code == 200
        assert cache(b_app).get(me.access_token) is not None
        async with next_invalidation(b_app) as heard:
            assert (await a.post("/api/v1/auth/logout", headers=me.headers)).status_code == 204
        # Ids only: the message never carries the token.
        assert heard[0].session_id is not None
        assert heard[0].user_id is None
        assert me.access_token not in heard[0].to_json()
        assert cache(b_app).get(me.access_token) is None
        resp = await b.get("/api/v1/me", headers=me.headers)
        assert resp.status_code == 401
        assert "ended" in resp.json()["detail"]


async def test_a_role_change_on_one_replica_applies_on_the_other_at_once(shared_settings: Settings) -> None:
    boss = await make_account(shared_settings, Role.admin, "boss@example.org")
    other = await make_account(shared_settings, Role.admin, "other@example.org")
    async with replica(shared_settings) as (_, a), replica(shared_settings) as (b_app, b):
        assert (await b.get("/api/v1/users", headers=other.headers)).status_code == 200
        assert (await b.get("/api/v1/users", headers=boss.headers)).status_code == 200
        async with next_invalidation(b_app) as heard:
            demoted = await a.patch(
                f"/api/v1/users/{other.id}", json={"role": "listener"}, headers=boss.headers
            )
            assert demoted.status_code == 200, demoted.text
        assert heard[0].user_id == other.id
        resp = await b.get("/api/v1/users", headers=other.headers)
        assert resp.status_code == 403
        assert "admin role" in resp.json()["detail"]
        # The boss's own cached login on B is untouched.
        assert cache(b_app).get(boss.access_token) is not None


async def test_a_key_revoked_on_one_replica_stops_working_on_the_other_at_once(
    shared_settings: Settings,
) -> None:
    me = await make_account(shared_settings, Role.listener)
    async with replica(shared_settings) as (_, a), replica(shared_settings) as (b_app, b):
        made = await a.post("/api/v1/me/api-keys", json={"name": "script"}, headers=me.headers)
        assert made.status_code == 201
        key, key_id = made.json()["key"], made.json()["id"]
        assert (await b.get("/api/v1/me", headers=bearer(key))).status_code == 200
        assert (await b.get("/api/v1/me", headers=me.headers)).status_code == 200
        async with next_invalidation(b_app) as heard:
            assert (await a.delete(f"/api/v1/me/api-keys/{key_id}", headers=me.headers)).status_code == 204
        assert heard[0].api_key_id == key_id
        resp = await b.get("/api/v1/me", headers=bearer(key))
        assert resp.status_code == 401
        assert "revoked" in resp.json()["detail"]
        # The account's login stays cached on B.
        assert cache(b_app).get(me.access_token) is not None


async def test_a_replica_ignores_its_own_messages_and_malformed_ones(shared_settings: Settings) -> None:
    me = await make_account(shared_settings, Role.listener)
    async with replica(shared_settings) as (app, http):
        assert (await http.get("/api/v1/me", headers=me.headers)).status_code == 200
        fanout = app.state.services.principal_fanout
        async with next_invalidation(app):
            await fanout.publish(user_id=me.id)  # its own: already applied by whoever sent it
        assert cache(app).get(me.access_token) is not None
        with pytest.raises(TypeError):
            Invalidation.from_json('{"origin": "x", "user_id": "1"}')


async def test_without_redis_a_logout_still_succeeds_and_other_replicas_fall_back_to_the_ttl(
    database_url: str,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    settings = make_settings(database_url, redis_url=f"redis://127.0.0.1:{port}/0", auth_cache_ttl_s=60)
    me = await make_account(settings, Role.listener)
    name = "newstalk_auth_invalidation_publish_errors_total"
    before = REGISTRY.get_sample_value(name) or 0.0
    from newstalk.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.get("/api/v1/me", headers=me.headers)).status_code == 200
            assert (await http.post("/api/v1/auth/logout", headers=me.headers)).status_code == 204
            assert (await http.get("/api/v1/me", headers=me.headers)).status_code == 401
    assert REGISTRY.get_sample_value(name) == before + 1
