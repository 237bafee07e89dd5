"""The refresh grace window: a retried rotation gets the same new token; reuse after it still revokes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from newstalk.accounts import security, service
from newstalk.accounts.models import AuthSession, RefreshToken, Role
from newstalk.config import Settings
from newstalk.kit.db import Database
from tests.conftest import make_settings
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def revoked_reason(settings: Settings, user_id: int) -> str | None:
    db = Database.open(settings.async_database_url)
    try:
        async with db.read() as session:
            login = (
                await session.execute(select(AuthSession).where(AuthSession.user_id == user_id))
            ).scalar_one()
    finally:
        await db.dispose()
    return login.revoked_reason


async def age_rotation(settings: Settings, token: str, seconds: float) -> None:
    """Move the rotation of ``token`` into the past, as if the retry came ``seconds`` later."""
    db = Database.open(settings.async_database_url)
    try:
        async with db.unit() as uow:
            row = (
                await uow.session.execute(
                    select(RefreshToken).where(RefreshToken.token_hash == security.sha256_hex(token))
                )
            ).scalar_one()
            assert row.used_at is not None
            await uow.session.execute(
                update(RefreshToken)
                .where(RefreshToken.id == row.id)
                .values(used_at=row.used_at - timedelta(seconds=seconds))
            )
    finally:
        await db.dispose()


async def test_a_retry_within_the_grace_window_gets_the_same_new_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.refresh_grace_s == 20
    account = await make_account(settings, Role.listener, "retry@example.org")
    first = await refresh(client, account.refresh_token)
    assert first.status_code == 200
    lost = first.json()  # the answer the client never saw

    retry = await refresh(client, account.refresh_token)
    assert retry.status_code == 200, retry.text
    again = retry.json()
    assert again["refresh_token"] == lost["refresh_token"]
    assert again["access_token"] != account.access_token
    assert (await client.get("/api/v1/me", headers=bearer(again["access_token"]))).status_code == 200
    assert await revoked_reason(settings, account.id) is None

    # The login goes on from the token both answers carried ...
    onward = await refresh(client, again["refresh_token"])
    assert onward.status_code == 200
    assert onward.json()["refresh_token"] not in (lost["refresh_token"], account.refresh_token)
    # ... and once that token was used, the first one is reuse again, even inside the window.
    replay = await refresh(client, account.refresh_token)
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    assert await revoked_reason(settings, account.id) == "reuse-detected"
    assert (await refresh(client, onward.json()["refresh_token"])).status_code == 401


async def test_a_client_racing_itself_gets_one_pair_and_keeps_its_login(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await make_account(settings, Role.listener, "race@example.org")
    answers = await asyncio.gather(*(refresh(client, account.refresh_token) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert len({a.json()["refresh_token"] for a in answers}) == 1
    assert await revoked_reason(settings, account.id) is None


async def test_reuse_after_the_grace_window_revokes_the_family(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await make_account(settings, Role.listener, "late@example.org")
    first = await refresh(client, account.refresh_token)
    assert first.status_code == 200
    await age_rotation(settings, account.refresh_token, settings.refresh_grace_s + 1)

    late = await refresh(client, account.refresh_token)
    assert late.status_code == 401
    assert "already used" in late.json()["detail"]
    assert await revoked_reason(settings, account.id) == "reuse-detected"
    # The token the rotation issued dies with the family, and so does its access token.
    assert (await refresh(client, first.json()["refresh_token"])).status_code == 401
    assert (await client.get("/api/v1/me", headers=bearer(first.json()["access_token"]))).status_code == 401


async def test_a_retry_for_an_ended_login_is_refused_without_a_new_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await make_account(settings, Role.listener, "ended@example.org")
    first = await refresh(client, account.refresh_token)
    assert first.status_code == 200
    out = await client.post("/api/v1/auth/logout", headers=bearer(first.json()["access_token"]))
    assert out.status_code == 204
    retry = await refresh(client, account.refresh_token)
    assert retry.status_code == 401
    assert retry.json()["detail"] == "auth: this login was ended; log in again"
    assert await revoked_reason(settings, account.id) == "logout"


async def test_no_grace_when_the_window_is_zero(database_url: str) -> None:
    settings = make_settings(database_url, refresh_grace_s=0)
    account = await make_account(settings, Role.listener, "strict@example.org")
    db = Database.open(settings.async_database_url)
    try:
        async with db.unit() as uow:
            first = await service.refresh(uow, settings, account.refresh_token)
        assert isinstance(first, service.TokenPair)
        async with db.unit() as uow:
            retry = await service.refresh(uow, settings, account.refresh_token)
        assert isinstance(retry, service.RefreshRefused)
        assert "already used" in retry.detail
    finally:
        await db.dispose()
    assert await revoked_reason(settings, account.id) == "reuse-detected"


def test_successor_tokens_depend_on_the_secret_and_look_like_random_ones() -> None:
    token = security.new_refresh_token()
    successor = security.next_refresh_token("a" * 32, token)
    assert successor == security.next_refresh_token("a" * 32, token)
    assert successor != security.next_refresh_token("b" * 32, token)
    assert successor != token
    assert len(successor) == len(token) == 43
