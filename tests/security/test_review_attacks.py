"""The outside security review's findings (issue 13), each replayed as an attack that must now fail.

Every test runs on SQLite and, in the ``-m db`` pass, on PostgreSQL, where most of these
used to give HTTP 500 or a dead-lettered poll.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from newstalk.accounts.models import Role
from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.kit.db import utcnow
from newstalk.kit.logs import describe_error, install_redaction
from newstalk.runtime import Services
from tests.pipeline.test_ingest_flow import collect_worker, drain
from tests.support.accounts import make_account
from tests.support.feedserver import FeedServer, Route

pytestmark = pytest.mark.anyio

NUL = "\u0000"
SURROGATE = "\ud800"


def _raw_json(value: object) -> bytes:
    # json.dumps escapes NUL as \u0000 and a lone surrogate as \ud800, as an attacker's client would.
    return json.dumps(value).encode()


async def _post(
    client: httpx.AsyncClient, path: str, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        path, content=_raw_json(body), headers={"content-type": "application/json", **(headers or {})}
    )


async def test_nul_and_surrogates_in_request_strings_never_give_500(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await make_account(settings, Role.admin, "owner@example.org")
    hostile = f"a{NUL}b{SURROGATE}c"
    answers = {
        "login": await _post(
            client, "/api/v1/auth/login", {"email": f"x{NUL}@example.org", "password": hostile}
        ),
        "register": await _post(
            client,
            "/api/v1/auth/register",
            {
                "email": "new@example.org",
                "password": f"pa{NUL}ss-{SURROGATE}-Word-1999!",
                "display_name": hostile,
            },
        ),
        "api key": await _post(client, "/api/v1/me/api-keys", {"name": hostile}, owner.headers),
        "podcast": await _post(
            client, "/api/v1/podcasts", {"title": hostile, "story_count": 3}, owner.headers
        ),
        "voice": await _post(client, "/api/v1/voice", {"text": hostile}, owner.headers),
        "ask": await _post(
            client, "/api/v1/ask", {"question": f"what{NUL} happened{SURROGATE}?"}, owner.headers
        ),
        "search": await client.get("/api/v1/search", params={"q": f"news{NUL}"}, headers=owner.headers),
        "podcast token": await client.get("/podcasts/abc%00def/feed.xml"),
    }
    for name, resp in answers.items():
        assert resp.status_code < 500, f"{name}: {resp.status_code} {resp.text[:200]}"
    created = answers["api key"]
    assert created.status_code == 201
    assert created.json()["name"] == "abc"
    podcast = answers["podcast"]
    assert podcast.status_code == 201, podcast.text
    assert podcast.json()["title"] == "abc"


def _json_feed(items: list[dict[str, object]]) -> bytes:
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": f"Hostile{NUL}", "items": items}
    ).encode()


async def test_a_feed_item_with_nul_is_stored_cleaned_with_the_rest_of_its_feed(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    base = feed_server.url("/hostile")
    items: list[dict[str, object]] = [
        {
            "id": f"item-{i}",
            "url": f"{base}/{i}",
            "title": f"Council story {i}{NUL if i == 0 else ''}{SURROGATE if i == 1 else ''} passes budget",
            "authors": [{"name": f"Reporter{NUL}{i}"}],
            "content_text": f"The council approved budget number {i} after a long debate{NUL}.",
            "date_published": "2026-11-20T09:00:00Z",
        }
        for i in range(4)
    ]
    feed_server.routes["/hostile.json"] = Route(_json_feed(items), content_type="application/feed+json")
    resp = await client.post("/api/v1/sources", json={"url": feed_server.url("/hostile.json")}, headers=admin)
    assert resp.status_code == 201, resp.text
    source_id = resp.json()["id"]
    await drain(collect_worker(services))
    async with services.db.read() as session:
        titles = sorted(
            (await session.scalars(select(Article.title).where(Article.source_id == source_id))).all()
        )
        dead = await session.scalar(
            select(func.count()).select_from(QueueJob).where(QueueJob.status == "dead")
        )
    assert titles == [f"Council story {i} passes budget" for i in range(4)]
    assert dead == 0
    health = (await client.get(f"/api/v1/sources/{source_id}", headers=admin)).json()
    assert health["last_error"] is None
    assert health["title"] == "Hostile"


async def test_a_failed_statement_carries_no_bound_values_and_dead_letters_keep_no_sql(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction()
    secret = "whsec_" + "s3cr3t" * 6
    argon = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
    row = {"email": "dup@example.org", "hash": argon, "name": secret, "now": utcnow()}
    insert = text(
        "INSERT INTO users (email, display_name, password_hash, role, created_at, updated_at) "
        "VALUES (:email, :name, :hash, 'listener', :now, :now)"
    )
    async with services.db.unit() as uow:
        await uow.session.execute(insert, row)
    with pytest.raises(IntegrityError) as caught:
        async with services.db.unit() as uow:
            await uow.session.execute(insert, row)
    assert secret not in str(caught.value)
    assert argon not in str(caught.value)
    described = describe_error(caught.value)
    assert described.startswith("IntegrityError: ")
    assert "INSERT" not in described
    assert "[SQL" not in described
    assert secret not in described
    with caplog.at_level(logging.INFO):
        logging.getLogger("newstalk.test").error("webhook %s failed for %s", secret, argon)
        try:
            raise RuntimeError(f"boom with Authorization: Bearer {secret}")
        except RuntimeError:
            logging.getLogger("newstalk.test").exception("handler failed")
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/podcasts/AbC-123_x/feed.xml", "1.1", 200
        )
    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert secret.removeprefix("whsec_") not in logged
    assert argon not in logged
    assert "AbC-123_x" not in logged
    assert "/podcasts/[redacted]/feed.xml" in logged
