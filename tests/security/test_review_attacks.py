"""The outside security review's findings (issue 13), each replayed as an attack that must now fail.

Every test runs on SQLite and, in the ``-m db`` pass, on PostgreSQL, where most of these
used to give HTTP 500 or a dead-lettered poll.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from newstalk.accounts.models import Role
from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.ingestion.extract import extract_full_text
from newstalk.ingestion.parse import parse_feed
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.kit.db import utcnow
from newstalk.kit.logs import describe_error, install_redaction
from newstalk.kit.text import needs_cleaning
from newstalk.runtime import Services
from newstalk.sources.service import poll_event
from tests.conftest import make_settings
from tests.pipeline.test_ingest_flow import collect_worker, drain
from tests.support.accounts import PASSWORD, make_account
from tests.support.feedserver import FeedServer, Route, rss
from tests.support.feedserver import items as feed_items

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
    services: Services, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_redaction()
    # An earlier test may have run uvicorn, whose logging config stops its loggers propagating.
    access = logging.getLogger("uvicorn.access")
    monkeypatch.setattr(access, "propagate", True)
    monkeypatch.setattr(access, "disabled", False)
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
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="uvicorn.access"):
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


async def test_login_guesses_are_limited_per_address_and_per_account_whatever_token_rides_along(
    database_url: str,
) -> None:
    from newstalk.main import create_app

    # Small limits keep the test short: 3 a minute per address (one back every 20 s, longer
    # than the test takes) and 6 an hour per targeted account.
    settings = make_settings(
        database_url,
        rate_limit_per_minute=100,
        rate_limit_routes={"POST /api/v1/auth/login": 3},
        auth_attempts_per_account_hour=6,
    )
    victim = await make_account(settings, Role.listener, "victim@example.org")
    owned = [await make_account(settings, Role.listener, f"owned{i}@example.org") for i in range(5)]
    guess = {"email": victim.email, "password": "wrong password 12345"}
    app = create_app(settings)
    async with app.router.lifespan_context(app):

        def client_from(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://testserver")

        # One address, each guess carrying another owned account's valid token: still 3 a minute.
        async with client_from("203.0.113.7") as attacker:
            codes = [
                (
                    await attacker.post("/api/v1/auth/login", json=guess, headers=owned[i % 5].headers)
                ).status_code
                for i in range(8)
            ]
        assert codes == [401] * 3 + [429] * 5
        # Many addresses, one victim: 6 attempts an hour at that account, counted across all.
        spread = []
        for i in range(6):
            async with client_from(f"198.51.100.{i + 1}") as other:
                spread.append((await other.post("/api/v1/auth/login", json=guess)).status_code)
        assert spread == [401] * 3 + [429] * 3
        async with client_from("192.0.2.99") as owner:
            refused = await owner.post(
                "/api/v1/auth/login", json={"email": victim.email, "password": PASSWORD}
            )
        assert refused.status_code == 429
        assert "for this account" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) > 60
        # Register counts against the same account.
        async with client_from("192.0.2.100") as other:
            again = await other.post(
                "/api/v1/auth/register", json={"email": victim.email, "password": "another long passphrase 9"}
            )
        assert again.status_code == 429


async def test_register_answers_the_same_for_a_taken_and_a_free_email(client: httpx.AsyncClient) -> None:
    taken = await _timed_register(client, "taken@example.org")
    answers = [await _timed_register(client, "taken@example.org") for _ in range(3)]
    free = [await _timed_register(client, f"free{i}@example.org") for i in range(3)]
    assert taken[0] == 202
    assert {a[:2] for a in answers} == {a[:2] for a in free} == {taken[:2]}
    # Both paths hash the password once: a taken email is not answered in a few milliseconds.
    slowest_free = max(t for *_, t in free)
    fastest_taken = min(t for *_, t in answers)
    assert fastest_taken > 0.3 * slowest_free, (answers, free)


async def _timed_register(client: httpx.AsyncClient, email: str) -> tuple[int, str, float]:
    start = time.perf_counter()
    resp = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": "a long and unusual passphrase 42"}
    )
    return resp.status_code, resp.text, time.perf_counter() - start


async def test_common_and_trivially_weak_passwords_are_refused(client: httpx.AsyncClient) -> None:
    for weak in ("1234567890", " " * 10, "qwertyuiop", "password1234", "aaaaaaaaaaaa"):
        resp = await client.post(
            "/api/v1/auth/register", json={"email": "minji@example.org", "password": weak}
        )
        assert resp.status_code == 422, weak
        assert "too easy to guess" in resp.json()["detail"]
    for strong in ("a long and unusual passphrase 42", "민지의 비밀번호는 꽤 길다"):
        resp = await client.post(
            "/api/v1/auth/register", json={"email": "minji@example.org", "password": strong}
        )
        assert resp.status_code == 202, strong


@pytest.mark.parametrize(
    ("trusted", "peer", "seen"),
    [
        ("", "127.0.0.1", "127.0.0.1"),
        ("", "203.0.113.5", "203.0.113.5"),
        ("10.0.0.0/8", "203.0.113.5", "203.0.113.5"),
        ("10.0.0.0/8", "10.1.2.3", "198.51.100.77"),
    ],
)
async def test_forwarded_headers_are_believed_only_from_trusted_proxies(
    trusted: str, peer: str, seen: str
) -> None:
    import uvicorn

    from newstalk.cli import proxy_options

    clients: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        clients.append(scope["client"][0])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    settings = Settings(_env_file=None, trusted_proxies=trusted)  # type: ignore[call-arg]
    config = uvicorn.Config(app, **proxy_options(settings))
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await http.get("/", headers={"X-Forwarded-For": "198.51.100.77"})
    assert clients == [seen]


async def test_one_huge_feed_is_collected_in_capped_polls(
    database_url: str, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    from newstalk.main import create_app

    settings = make_settings(
        database_url,
        collect_max_entries=280,
        collect_max_new_per_poll=100,
        collect_max_new_per_source_hour=250,
    )
    entries = feed_items("flood", 300, base_url=feed_server.url(""))
    feed_server.routes["/flood.xml"] = Route(rss("Flood", entries))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            resp = await client.post(
                "/api/v1/sources", json={"url": feed_server.url("/flood.xml")}, headers=admin
            )
            assert resp.status_code == 201, resp.text
            source_id = resp.json()["id"]
            counts, statuses = [], []
            for _ in range(4):
                async with services.db.unit() as uow:
                    uow.emit(poll_event(source_id, utcnow()))
                await drain(collect_worker(services))
                async with services.db.read() as session:
                    counts.append(
                        await session.scalar(
                            select(func.count()).select_from(Article).where(Article.source_id == source_id)
                        )
                    )
                statuses.append(
                    (await client.get(f"/api/v1/sources/{source_id}/health", headers=admin)).json()[
                        "last_status"
                    ]
                )
    # 100 a poll, 250 an hour, and only the first 280 entries of the document are read.
    assert counts == [100, 200, 250, 250]
    assert statuses == ["held-back"] * 4
    # Held-back items live in the same document: it is fetched in full each time, never a 304.
    assert feed_server.not_modified["/flood.xml"] == 0


async def test_a_push_for_a_source_without_subscription_is_refused_unread(
    database_url: str, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    from newstalk.main import create_app

    feed_server.routes["/quiet.xml"] = Route(rss("Quiet", []))
    app = create_app(make_settings(database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            created = await client.post(
                "/api/v1/sources", json={"url": feed_server.url("/quiet.xml")}, headers=admin
            )
        source_id = created.json()["id"]
        body_reads = 0
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal body_reads
            body_reads += 1
            return {"type": "http.request", "body": b"<rss>" + b" " * 65536, "more_body": True}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"/websub/{source_id}",
            "raw_path": f"/websub/{source_id}".encode(),
            "query_string": b"",
            "headers": [(b"content-type", b"application/feed+json"), (b"content-length", b"10000000")],
            "client": ("203.0.113.9", 4000),
            "server": ("testserver", 80),
        }
        await app(scope, receive, send)
    assert sent[0]["status"] == 410
    assert body_reads == 0


@pytest.mark.parametrize(
    "padding", ["", " " * 70_000, "<!-- " + "x" * 70_000 + " -->\n", "<?pi " + "y" * 70_000 + "?>"]
)
def test_internal_entities_are_not_expanded_however_far_the_doctype_is_pushed(padding: str) -> None:
    doc = (
        '<?xml version="1.0"?>\n'
        + padding
        + '<!DOCTYPE rss [<!ENTITY lol "LOLLOLLOL"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
        '<rss version="2.0"><channel><title>t</title>'
        "<item><title>a &lol2; b</title><link>https://example.org/a</link></item></channel></rss>"
    )
    feed = parse_feed(doc.encode(), url="https://example.org/feed")
    assert [e.title for e in feed.entries] == ["a &lol2; b"]


async def test_answers_carrying_tokens_or_secrets_are_not_cacheable(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await make_account(settings, Role.admin, "keys@example.org")
    answers = [
        await client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}),
        await client.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}),
        await client.post("/api/v1/me/api-keys", json={"name": "script"}, headers=owner.headers),
        await client.post("/api/v1/podcasts", json={"story_count": 3}, headers=owner.headers),
    ]
    assert [r.status_code for r in answers] == [200, 200, 201, 201]
    assert {r.headers["cache-control"] for r in answers} == {"no-store"}


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_feeds_without_a_byte_order_mark_are_read(codec: str) -> None:
    xml = (
        f'<?xml version="1.0" encoding="{codec[:6]}"?>\n<rss version="2.0"><channel><title>넓은 피드</title>'
        "<item><title>시의회 예산안 처리</title><link>https://example.org/a</link></item></channel></rss>"
    )
    json_feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "넓은 피드",
            "items": [{"id": "1", "url": "https://example.org/a", "title": "시의회 예산안 처리"}],
        },
        ensure_ascii=False,
    )
    for document in (xml, json_feed):
        feed = parse_feed(document.encode(codec), url="https://example.org/feed")
        assert feed.title == "넓은 피드"
        assert [e.title for e in feed.entries] == ["시의회 예산안 처리"]


def test_full_text_pages_with_nul_give_storable_articles() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {i} of the council story{NUL} with text long enough to count here.</p>"
        for i in range(8)
    )
    page = f"<html><body><article><h1>T</h1>{paragraphs}</article></body></html>".encode()
    extracted = extract_full_text(page, "https://example.org/a")
    assert extracted is not None
    html, plain = extracted
    assert not needs_cleaning(html)
    assert not needs_cleaning(plain)
    assert "Paragraph 7 of the council story with text long enough to count here." in plain


def test_uvicorns_access_log_formats_redacted_records() -> None:
    from uvicorn.logging import AccessFormatter

    install_redaction()
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/podcasts/AbC-123_x/feed.xml?token=s3cret", "1.1", 200),
        None,
    )
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(
        record
    )
    assert line == '127.0.0.1:5000 - "GET /podcasts/[redacted]/feed.xml?token=[redacted] HTTP/1.1" 200 OK'
