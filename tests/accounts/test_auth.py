"""Accounts end to end over HTTP: register, login, rotation, reuse, logout, roles, keys, deletion."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from newstalk.accounts import security
from newstalk.accounts.models import ApiKey, AuthSession, RefreshToken, Role, User
from newstalk.briefings.models import PodcastSubscription
from newstalk.config import Settings
from newstalk.kit.db import Database, utcnow
from newstalk.listeners.models import FeedbackEvent, Preferences
from tests.support.accounts import PASSWORD, make_account

pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_login_refresh_logout(client: httpx.AsyncClient) -> None:
    reg = await client.post(
        "/api/v1/auth/register",
        json={"email": " Minji@Example.org ", "password": PASSWORD, "display_name": "민지"},
    )
    # Registration says nothing about the account (issue 13: same answer, free or taken email).
    assert reg.status_code == 202, reg.text
    assert set(reg.json()) == {"status", "detail"}
    first_login = await client.post(
        "/api/v1/auth/login", json={"email": "minji@example.org", "password": PASSWORD}
    )
    assert first_login.status_code == 200
    body = first_login.json()
    assert body["user"]["email"] == "minji@example.org"
    assert body["user"]["role"] == "listener"
    assert body["tokens"]["token_type"] == "bearer"
    assert body["tokens"]["expires_in"] == 900
    assert first_login.headers["cache-control"] == "no-store"

    wrong = await client.post("/api/v1/auth/login", json={"email": "minji@example.org", "password": "x" * 12})
    nobody = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.org", "password": "x" * 12}
    )
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json()["detail"] == nobody.json()["detail"] == "auth: email or password is wrong"

    login = await client.post("/api/v1/auth/login", json={"email": "MINJI@example.org", "password": PASSWORD})
    assert login.status_code == 200
    tokens = login.json()["tokens"]
    me = await client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert me.json()["display_name"] == "민지"
    assert me.json()["last_login_at"] is not None

    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (await client.get("/api/v1/me", headers=bearer(new["access_token"]))).status_code == 200

    out = await client.post("/api/v1/auth/logout", headers=bearer(new["access_token"]))
    assert out.status_code == 204
    # Logout ends the login at once: its access tokens (old and new) and its refresh token.
    for token in (tokens["access_token"], new["access_token"]):
        gone = await client.get("/api/v1/me", headers=bearer(token))
        assert gone.status_code == 401
        assert "log in again" in gone.json()["detail"]
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert again.status_code == 401
    # The first login is a separate session and still works.
    assert (await client.get("/api/v1/me", headers=bearer(body["tokens"]["access_token"]))).status_code == 200


async def test_registration_input_is_checked(client: httpx.AsyncClient) -> None:
    cases = [
        ({"email": "not-an-email", "password": PASSWORD}, 422, "not an email address"),
        ({"email": "a@example.org", "password": "short"}, 422, "password"),
        ({"email": "a@example.org", "password": "a@example.org"}, 422, "must not be the email"),
        ({"email": "a@example.org", "password": PASSWORD, "role": "admin"}, 422, "role"),
    ]
    for payload, status, words in cases:
        resp = await client.post("/api/v1/auth/register", json=payload)
        assert resp.status_code == status, payload
        assert resp.headers["content-type"] == PROBLEM
        assert words in resp.json()["detail"], resp.json()
    first = await client.post("/api/v1/auth/register", json={"email": "a@example.org", "password": PASSWORD})
    assert first.status_code == 202
    login = await client.post("/api/v1/auth/login", json={"email": "a@example.org", "password": PASSWORD})
    assert login.json()["user"]["role"] == "listener"  # nobody registers themselves into a role
    # A taken address gets the very same answer, and its password is not changed.
    dup = await client.post(
        "/api/v1/auth/register", json={"email": "A@example.org", "password": PASSWORD + " other"}
    )
    assert (dup.status_code, dup.json()) == (first.status_code, first.json())
    stale = await client.post(
        "/api/v1/auth/login", json={"email": "a@example.org", "password": PASSWORD + " other"}
    )
    assert stale.status_code == 401


async def test_a_reused_refresh_token_revokes_its_whole_family(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    victim = await make_account(settings, Role.listener, "victim@example.org")
    other_login = await make_account(settings, Role.listener, "bystander@example.org")
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert first.status_code == 200
    second = await client.post("/api/v1/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert second.status_code == 200
    latest = second.json()

    # An attacker replays the first, already spent token.
    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    # Every token of that login is dead: the newest refresh token and the newest access token.
    stolen = await client.post("/api/v1/auth/refresh", json={"refresh_token": latest["refresh_token"]})
    assert stolen.status_code == 401
    assert (await client.get("/api/v1/me", headers=bearer(latest["access_token"]))).status_code == 401
    # Other logins are untouched.
    assert (await client.get("/api/v1/me", headers=other_login.headers)).status_code == 200

    db = Database.open(settings.async_database_url)
    try:
        async with db.read() as session:
            revoked = (
                await session.execute(select(AuthSession).where(AuthSession.user_id == victim.id))
            ).scalar_one()
    finally:
        await db.dispose()
    assert revoked.revoked_reason == "reuse-detected"
    unknown = await client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert unknown.status_code == 401


async def test_expired_forged_and_tampered_tokens_are_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await make_account(settings, Role.listener)
    secret = settings.jwt_secret.get_secret_value()
    session_id = jwt.decode(account.access_token, options={"verify_signature": False})["sid"]
    expired = security.issue_access_token(
        secret,
        user_id=account.id,
        session_id=session_id,
        role="listener",
        now=utcnow() - timedelta(hours=1),
        ttl_s=900,
    )
    forged = security.issue_access_token(
        "another-secret-that-is-long-enough-0123456789",
        user_id=account.id,
        session_id=session_id,
        role="admin",
        now=utcnow(),
        ttl_s=900,
    )
    # Same signature, payload edited to claim admin.
    head, payload, sig = account.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = f"{head}.{edited}.{sig}"
    unsigned = jwt.encode(
        {"sub": str(account.id), "sid": session_id, "typ": "access"}, key="", algorithm="none"
    )
    wrong_audience = jwt.encode(
        {**claims, "role": "listener", "aud": "someone-else"}, secret, algorithm=security.ALGORITHM
    )

    assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200
    for name, token in [
        ("expired", expired),
        ("forged", forged),
        ("tampered", tampered),
        ("alg none", unsigned),
        ("wrong audience", wrong_audience),
        ("garbage", "not.a.jwt"),
    ]:
        resp = await client.get("/api/v1/me", headers=bearer(token))
        assert resp.status_code == 401, name
        assert resp.headers["www-authenticate"] == "Bearer"
        if name == "expired":
            assert "expired" in resp.json()["detail"]
        # Write endpoints refuse them the same way.
        write = await client.post(
            "/api/v1/sources", json={"url": "https://example.org/feed"}, headers=bearer(token)
        )
        assert write.status_code == 401, name


async def test_roles_gate_write_endpoints(client: httpx.AsyncClient, settings: Settings) -> None:
    listener = await make_account(settings, Role.listener)
    editor = await make_account(settings, Role.editor)
    admin = await make_account(settings, Role.admin)
    source = {"url": "https://example.org/feed"}

    refused = await client.post("/api/v1/sources", json=source, headers=listener.headers)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "auth: this endpoint needs the admin role; you are a listener"
    assert (await client.post("/api/v1/sources", json=source, headers=editor.headers)).status_code == 403
    assert (await client.get("/api/v1/pipeline/dead", headers=editor.headers)).status_code == 403
    assert (await client.get("/api/v1/pipeline/dead", headers=admin.headers)).status_code == 200

    # Editors may split and merge stories (404: past the role check, no such story).
    split = {"article_ids": [1]}
    assert (
        await client.post("/api/v1/stories/999/split", json=split, headers=listener.headers)
    ).status_code == 403
    assert (
        await client.post("/api/v1/stories/999/split", json=split, headers=editor.headers)
    ).status_code == 404
    # Editors review fact-checks.
    assert (await client.get("/api/v1/factcheck/review", headers=listener.headers)).status_code == 403
    assert (await client.get("/api/v1/factcheck/review", headers=editor.headers)).status_code == 200

    # Only admins manage users; a role change applies on the next request, no new login needed.
    assert (await client.get("/api/v1/users", headers=editor.headers)).status_code == 403
    promote = await client.patch(
        f"/api/v1/users/{listener.id}", json={"role": "editor"}, headers=admin.headers
    )
    assert promote.json()["role"] == "editor"
    assert (await client.get("/api/v1/factcheck/review", headers=listener.headers)).status_code == 200
    demote = await client.patch(
        f"/api/v1/users/{listener.id}", json={"role": "listener"}, headers=admin.headers
    )
    assert demote.status_code == 200
    assert (await client.get("/api/v1/factcheck/review", headers=listener.headers)).status_code == 403
    selfdemote = await client.patch(
        f"/api/v1/users/{admin.id}", json={"role": "editor"}, headers=admin.headers
    )
    assert selfdemote.status_code == 409
    users = await client.get("/api/v1/users", headers=admin.headers)
    assert {u["id"] for u in users.json()["items"]} == {listener.id, editor.id, admin.id}


async def test_the_development_admin_token_is_a_development_credential(
    client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    dev = bearer(settings.admin_token.get_secret_value())
    assert (await client.get("/api/v1/pipeline/dead", headers=dev)).status_code == 200
    # It has no account, so no personal data.
    assert (await client.get("/api/v1/me/preferences", headers=dev)).status_code == 403

    from newstalk.main import create_app

    production = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        environment="production",
        jwt_secret="a-production-secret-0123456789-abcdefgh",
    )
    app = create_app(production)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            # The default token value exists in the settings object, but production never accepts it.
            refused = await http.get(
                "/api/v1/pipeline/dead", headers=bearer(production.admin_token.get_secret_value())
            )
            assert refused.status_code == 401


async def test_personal_api_keys(client: httpx.AsyncClient, settings: Settings) -> None:
    owner = await make_account(settings, Role.editor)
    stranger = await make_account(settings, Role.listener)
    created = await client.post("/api/v1/me/api-keys", json={"name": "nightly export"}, headers=owner.headers)
    assert created.status_code == 201
    key = created.json()
    assert key["key"].startswith("ntk_")
    assert key["key"].startswith(key["prefix"])
    listed = await client.get("/api/v1/me/api-keys", headers=owner.headers)
    assert [k["name"] for k in listed.json()] == ["nightly export"]
    assert "key" not in listed.json()[0]  # shown once, never again

    # The key acts as its owner, with the owner's role.
    with_key = bearer(key["key"])
    assert (await client.get("/api/v1/me", headers=with_key)).json()["id"] == owner.id
    assert (await client.get("/api/v1/factcheck/review", headers=with_key)).status_code == 200
    assert (await client.get("/api/v1/me/api-keys", headers=owner.headers)).json()[0][
        "last_used_at"
    ] is not None

    # Another listener can neither see nor revoke it.
    assert (await client.get("/api/v1/me/api-keys", headers=stranger.headers)).json() == []
    theirs = await client.delete(f"/api/v1/me/api-keys/{key['id']}", headers=stranger.headers)
    assert theirs.status_code == 404
    assert (await client.get("/api/v1/me", headers=with_key)).status_code == 200

    assert (await client.delete(f"/api/v1/me/api-keys/{key['id']}", headers=owner.headers)).status_code == 204
    revoked = await client.get("/api/v1/me", headers=with_key)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]
    assert (await client.get("/api/v1/me", headers=bearer("ntk_guessed"))).status_code == 401

    db = Database.open(settings.async_database_url)
    try:
        async with db.read() as session:
            stored = (await session.execute(select(ApiKey))).scalar_one()
    finally:
        await db.dispose()
    assert stored.key_hash == security.sha256_hex(key["key"])
    assert key["key"] not in {stored.key_hash, stored.prefix}


async def test_deleting_an_account_deletes_its_personal_data(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from tests.accounts.test_preferences import add_story

    doomed = await make_account(settings, Role.listener)
    keeper = await make_account(settings, Role.listener)
    story_id = await add_story(settings)
    for account in (doomed, keeper):
        await client.put("/api/v1/me/preferences", json={"keywords": ["경제"]}, headers=account.headers)
        await client.post(
            "/api/v1/me/feedback", json={"story_id": story_id, "event": "liked"}, headers=account.headers
        )
        await client.post("/api/v1/me/api-keys", json={"name": "k"}, headers=account.headers)
        created = await client.post("/api/v1/podcasts", json={"story_count": 3}, headers=account.headers)
        assert created.status_code in (200, 201), created.text
        await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})

    assert (await client.delete("/api/v1/me", headers=doomed.headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=doomed.headers)).status_code == 401

    db = Database.open(settings.async_database_url)
    try:
        async with db.read() as session:
            counts = {
                "users": select(func.count()).select_from(User).where(User.id == doomed.id),
                "sessions": select(func.count())
                .select_from(AuthSession)
                .where(AuthSession.user_id == doomed.id),
                "refresh tokens": select(func.count())
                .select_from(RefreshToken)
                .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                .where(AuthSession.user_id == doomed.id),
                "api keys": select(func.count()).select_from(ApiKey).where(ApiKey.user_id == doomed.id),
                "preferences": select(func.count())
                .select_from(Preferences)
                .where(Preferences.user_id == doomed.id),
                "feedback": select(func.count())
                .select_from(FeedbackEvent)
                .where(FeedbackEvent.user_id == doomed.id),
                "podcast feeds": select(func.count())
                .select_from(PodcastSubscription)
                .where(PodcastSubscription.listener_id == doomed.id),
            }
            for name, stmt in counts.items():
                assert (await session.execute(stmt)).scalar_one() == 0, name
            kept = (await session.execute(select(func.count()).select_from(FeedbackEvent))).scalar_one()
            feeds = (
                await session.execute(select(func.count()).select_from(PodcastSubscription))
            ).scalar_one()
    finally:
        await db.dispose()
    assert kept == 1  # the other listener's data stays
    assert feeds == 1
