"""The principal cache over real HTTP and a real database: reuse, and every invalidation.

A credential resolved once is answered from ``app.state.principal_cache`` for a few seconds;
logout, refresh-token reuse, a role change, account deletion and API-key revocation clear it
in the process that made the change at once, and other processes within the cache's TTL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from newstalk.accounts.models import Role
from newstalk.accounts.principals import PrincipalCache
from newstalk.accounts.service import Principal
from newstalk.config import Settings
from tests.conftest import make_settings
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def replica(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One API process (app and client); two of these on one database are two replicas."""
    from newstalk.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http


def cached(app: FastAPI) -> PrincipalCache:
    cache: PrincipalCache = app.state.principal_cache
    return cache


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_credential_is_resolved_once_and_never_stored_in_the_clear(database_url: str) -> None:
    settings = make_settings(database_url)
    me = await make_account(settings, Role.listener)
    async with replica(settings) as (app, http):
        assert (await http.get("/api/v1/me", headers=me.headers)).status_code == 200
        cache = cached(app)
        assert len(cache) == 1
        principal = cache.get(me.access_token)
        assert principal is not None
        assert principal.user_id == me.id
        assert principal.expires_at is not None  # an access token's entry ends with the token
        # Keyed by a keyed hash: neither the token nor an unkeyed digest of it is a key.
        keys = list(cache._entries)
        assert me.access_token.encode() not in keys
        assert all(len(k) == 20 for k in keys)
        assert (await http.get("/api/v1/me/preferences", headers=me.headers)).status_code == 200
        assert len(cache) == 1


async def test_logout_ends_a_cached_login_at_once(database_url: str) -> None:
    settings = make_settings(database_url)
    me = await make_account(settings, Role.listener)
    async with replica(settings) as (app, http):
        assert (await http.get("/api/v1/me", headers=me.headers)).status_code == 200
        assert cached(app).get(me.access_token) is not None
        assert (await http.post("/api/v1/auth/logout", headers=me.headers)).status_code == 204
        assert cached(app).get(me.access_token) is None
        resp = await http.get("/api/v1/me", headers=me.headers)
        assert resp.status_code == 401
        assert "ended" in resp.json()["detail"]


async def test_a_reused_refresh_token_ends_the_cached_login(database_url: str) -> None:
    settings = make_settings(database_url, refresh_grace_s=0)
    me = await make_account(settings, Role.listener)
    async with replica(settings) as (_, http):
        assert (await http.get("/api/v1/me", headers=me.headers)).status_code == 200
        first = await http.post("/api/v1/auth/refresh", json={"refresh_token": me.refresh_token})
        assert first.status_code == 200
        reuse = await http.post("/api/v1/auth/refresh", json={"refresh_token": me.refresh_token})
        assert reuse.status_code == 401
        assert (await http.get("/api/v1/me", headers=me.headers)).status_code == 401
        new_access = first.json()["access_token"]
        assert (await http.get("/api/v1/me", headers=bearer(new_access))).status_code == 401


async def test_a_role_change_applies_to_the_next_request(database_url: str) -> None:
    settings = make_settings(database_url)
    boss = await make_account(settings, Role.admin, "boss@example.org")
    other = await make_account(settings, Role.admin, "other@example.org")
    async with replica(settings) as (app, http):
        assert (await http.get("/api/v1/users", headers=other.headers)).status_code == 200
        demoted = await http.patch(
            f"/api/v1/users/{other.id}", json={"role": "listener"}, headers=boss.headers
        )
        assert demoted.status_code == 200, demoted.text
        assert cached(app).get(other.access_token) is None
        resp = await http.get("/api/v1/users", headers=other.headers)
        assert resp.status_code == 403
        assert "admin role" in resp.json()["detail"]
        # Promoted back: the role is read from the database again, not the cache.
        await http.patch(f"/api/v1/users/{other.id}", json={"role": "admin"}, headers=boss.headers)
        assert (await http.get("/api/v1/users", headers=other.headers)).status_code == 200


async def test_deleting_an_account_ends_its_cached_credentials(database_url: str) -> None:
    settings = make_settings(database_url)
    admin = await make_account(settings, Role.admin)
    gone = await make_account(settings, Role.listener)
    leaving = await make_account(settings, Role.listener)
    async with replica(settings) as (app, http):
        for account in (gone, leaving):
            assert (await http.get("/api/v1/me", headers=account.headers)).status_code == 200
        assert (await http.delete(f"/api/v1/users/{gone.id}", headers=admin.headers)).status_code == 204
        assert (await http.get("/api/v1/me", headers=gone.headers)).status_code == 401
        assert (await http.delete("/api/v1/me", headers=leaving.headers)).status_code == 204
        assert (await http.get("/api/v1/me", headers=leaving.headers)).status_code == 401
        assert cached(app).get(gone.access_token) is None
        assert cached(app).get(leaving.access_token) is None


async def test_a_revoked_api_key_stops_working_at_once(database_url: str) -> None:
    settings = make_settings(database_url)
    me = await make_account(settings, Role.listener)
    async with replica(settings) as (app, http):
        made = await http.post("/api/v1/me/api-keys", json={"name": "script"}, headers=me.headers)
        assert made.status_code == 201
        key, key_id = made.json()["key"], made.json()["id"]
        assert (await http.get("/api/v1/me", headers=bearer(key))).status_code == 200
        principal = cached(app).get(key)
        assert principal is not None
        assert principal.api_key_id == key_id
        assert principal.api_key_stale is False  # last_used_at was written once, then cached
        assert (await http.delete(f"/api/v1/me/api-keys/{key_id}", headers=me.headers)).status_code == 204
        resp = await http.get("/api/v1/me", headers=bearer(key))
        assert resp.status_code == 401
        assert "revoked" in resp.json()["detail"]
        # The account's own login is untouched.
        assert (await http.get("/api/v1/me", headers=me.headers)).status_code == 200


async def test_another_replica_sees_a_logout_within_the_ttl(database_url: str) -> None:
    settings = make_settings(database_url)
    me = await make_account(settings, Role.listener)
    now = [1000.0]
    async with replica(settings) as (_, first), replica(settings) as (other_app, second):
        other_app.state.principal_cache = PrincipalCache(settings.auth_cache_ttl_s, clock=lambda: now[0])
        assert (await second.get("/api/v1/me", headers=me.headers)).status_code == 200
        assert (await first.post("/api/v1/auth/logout", headers=me.headers)).status_code == 204
        assert (await first.get("/api/v1/me", headers=me.headers)).status_code == 401
        # The other replica answers from its cache until the entry's TTL runs out, then asks the database.
        assert (await second.get("/api/v1/me", headers=me.headers)).status_code == 200
        now[0] += settings.auth_cache_ttl_s
        assert (await second.get("/api/v1/me", headers=me.headers)).status_code == 401


async def test_with_a_zero_ttl_every_request_resolves_against_the_database(database_url: str) -> None:
    settings = make_settings(database_url, auth_cache_ttl_s=0)
    me = await make_account(settings, Role.listener)
    async with replica(settings) as (app, http):
        assert (await http.get("/api/v1/me", headers=me.headers)).status_code == 200
        assert len(cached(app)) == 0


def test_cache_bounds_expiry_and_races() -> None:
    now = [0.0]
    cache = PrincipalCache(5.0, max_entries=2, clock=lambda: now[0])
    p: dict[str, Any] = {"role": Role.listener, "via": "api_key"}
    for i in range(3):
        cache.put(f"k{i}", Principal(user_id=i, api_key_id=i, **p), generation=cache.generation)
    assert len(cache) == 2
    assert cache.get("k0") is None  # the oldest went first
    now[0] = 5.0
    assert cache.get("k1") is None  # expired
    # A lookup that started before an invalidation is not stored: it may have read the old row.
    generation = cache.generation
    cache.invalidate(user_id=9)
    cache.put("late", Principal(user_id=9, api_key_id=9, **p), generation=generation)
    assert cache.get("late") is None
