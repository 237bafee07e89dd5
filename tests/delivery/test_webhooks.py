"""Webhooks against a real receiver on 127.0.0.1: signatures it verifies, retries with backoff,
no retry on 410, disabling, the delivery log, owner-only access, the private-address guard and
secret rotation (both secrets sign during the overlap, then only the new one)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from newstalk.accounts.models import Role
from newstalk.config import Settings
from newstalk.delivery import live, webhooks
from newstalk.delivery.live_models import Webhook, WebhookDelivery
from newstalk.kit.bus import Event
from newstalk.kit.db import utcnow
from newstalk.pipeline.topics import STORY_CHECKED as CHECKED_TOPIC
from newstalk.runtime import Services
from tests.conftest import make_settings
from tests.delivery.live_helpers import emit, make_story, run_stage, story_updated
from tests.support.accounts import Account, make_account

pytestmark = pytest.mark.anyio

RETRY_BASE_S = 0.3


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    """A real HTTP server recording every POST and answering from a script (then the default)."""

    port: int = 0
    script: list[Answer] = field(default_factory=list)
    default: Answer = field(default_factory=Answer)
    received: list[tuple[dict[str, str], bytes, float]] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
            answer = state.script.pop(0) if state.script else state.default
            if answer.delay_s:
                time.sleep(answer.delay_s)
            try:
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        webhook_retry_base_s=RETRY_BASE_S,
        webhook_max_attempts=4,
        webhook_timeout_s=1.0,
        webhook_disable_after=4,
        webhook_response_max_bytes=2048,
    )


@pytest.fixture
async def listener(settings: Settings) -> Account:
    return await make_account(settings, Role.listener, "hooks@example.org")


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, written from docs/live.md (not from our signing code): any entry."""
    timestamp = headers["x-newstalk-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= 300
    entries = [e.strip() for e in headers["x-newstalk-signature"].split(",")]
    return fresh and any(hmac.compare_digest("v1=" + expected, e) for e in entries)


async def _register(client: httpx.AsyncClient, who: Account, url: str, **filters: Any) -> dict[str, Any]:
    resp = await client.post("/api/v1/webhooks", json={"url": url, **filters}, headers=who.headers)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def _deliveries(client: httpx.AsyncClient, who: Account, hook_id: int) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=who.headers)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


async def _drain(services: Services, done: Any, wait_s: float = 20.0) -> None:
    """Run the webhooks stage (delayed retries included) until ``done()`` is true."""
    deadline = time.monotonic() + wait_s
    while not await done():
        assert time.monotonic() < deadline, "deliveries did not finish"
        await run_stage(services, "webhooks")
        await asyncio.sleep(0.05)


def _checked(story_id: int) -> Event:
    return Event(
        CHECKED_TOPIC,
        f"checked:{story_id}:1",
        {"story_id": story_id, "version": 1, "claims": 1, "verdicts": {"supported": 1}},
        utcnow(),
    )


@pytest.fixture
async def hooked(
    client: httpx.AsyncClient, services: Services, listener: Account, receiver: Receiver
) -> AsyncIterator[tuple[dict[str, Any], Any]]:
    """A webhook for economy fact-checks and a function that makes one such event."""
    hook = await _register(
        client, listener, receiver.url(), event_types=["story.checked"], categories=["economy"]
    )

    async def fire(title: str = "Rates") -> None:
        story_id = await make_story(services, title)
        await emit(services, _checked(story_id))
        await run_stage(services, "live")

    return hook, fire


async def test_deliveries_are_signed_filtered_and_logged(
    client: httpx.AsyncClient, services: Services, listener: Account, receiver: Receiver
) -> None:
    hook = await _register(
        client,
        listener,
        receiver.url(),
        event_types=["story.checked"],
        categories=["economy"],
        languages=["en"],
    )
    assert hook["secret"].startswith("whsec_")
    economy = await make_story(services, "Rates rise")
    tech = await make_story(services, "Chips", category="tech")
    await emit(services, story_updated(economy), _checked(economy), _checked(tech))
    await run_stage(services, "live")
    await run_stage(services, "webhooks")

    assert len(receiver.received) == 1  # the filter took one of three events
    headers, body, _ = receiver.received[0]
    assert verify(hook["secret"], headers, body)
    assert not verify("whsec_wrong", headers, body)
    assert not verify(hook["secret"], headers, body + b" ")
    assert headers["content-type"] == "application/json"
    assert headers["x-newstalk-event"] == "story.checked"
    payload = json.loads(body)
    assert payload["type"] == "story.checked"
    assert payload["id"] == headers["x-newstalk-delivery"]
    assert payload["data"]["story"]["id"] == economy
    assert payload["data"]["check"]["verdicts"] == {"supported": 1}

    [delivery] = await _deliveries(client, listener, hook["id"])
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 1
    assert delivery["delivery_id"] == headers["x-newstalk-delivery"]
    assert delivery["event_id"] == payload["event_id"]
    [attempt] = delivery["attempt_log"]
    assert attempt["status_code"] == 200
    assert attempt["error"] is None
    assert attempt["next_retry_at"] is None
    assert attempt["latency_ms"] > 0
    assert attempt["response_excerpt"] == "ok"


async def test_failures_are_retried_with_exponential_backoff_then_given_up(
    client: httpx.AsyncClient,
    services: Services,
    listener: Account,
    receiver: Receiver,
    hooked: tuple[dict[str, Any], Any],
) -> None:
    hook, fire = hooked
    # A timeout, a 500 and a 429 are retried; the fourth attempt (the last allowed) fails too.
    receiver.script = [Answer(delay_s=2.0), Answer(500), Answer(429)]
    receiver.default = Answer(502)
    await fire()

    async def finished() -> bool:
        items = await _deliveries(client, listener, hook["id"])
        return bool(items) and items[0]["status"] != "pending"

    await _drain(services, finished)
    [delivery] = await _deliveries(client, listener, hook["id"])
    log = delivery["attempt_log"]
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 4
    assert [a["status_code"] for a in log] == [None, 500, 429, 502]
    assert "did not finish within 1s" in log[0]["error"]
    assert log[3]["next_retry_at"] is None
    state = (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=listener.headers)).json()
    assert state["active"] is False
    assert state["disabled_reason"] == "4 failed attempts in a row"
    for n, (a, b) in enumerate(itertools.pairwise(log)):
        planned = datetime.fromisoformat(a["next_retry_at"]) - datetime.fromisoformat(a["started_at"])
        wait = planned.total_seconds() - a["latency_ms"] / 1000
        assert RETRY_BASE_S * 2**n * 0.9 - 0.1 <= wait <= RETRY_BASE_S * 2**n * 1.1 + 0.1, (n, wait)
        # ... and the next attempt did not start before it was due.
        assert datetime.fromisoformat(b["started_at"]) >= datetime.fromisoformat(a["next_retry_at"])
    ids = {h["x-newstalk-delivery"] for h, _, _ in receiver.received}
    assert len(receiver.received) == 4
    assert len(ids) == 1


async def test_410_is_final_and_disables_the_webhook(
    client: httpx.AsyncClient,
    services: Services,
    listener: Account,
    receiver: Receiver,
    hooked: tuple[dict[str, Any], Any],
) -> None:
    hook, fire = hooked
    receiver.default = Answer(410, b"gone")
    await fire()
    await run_stage(services, "webhooks")
    await asyncio.sleep(RETRY_BASE_S * 1.5)
    await run_stage(services, "webhooks")
    assert len(receiver.received) == 1
    [delivery] = await _deliveries(client, listener, hook["id"])
    assert delivery["status"] == "failed"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [410]
    state = (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=listener.headers)).json()
    assert state["active"] is False
    assert "410" in state["disabled_reason"]
    await fire("Later")  # a disabled webhook gets no new deliveries
    assert len(await _deliveries(client, listener, hook["id"])) == 1


async def test_repeated_failures_disable_and_owner_reenables(
    client: httpx.AsyncClient,
    services: Services,
    listener: Account,
    receiver: Receiver,
    hooked: tuple[dict[str, Any], Any],
) -> None:
    hook, fire = hooked
    receiver.default = Answer(400, b"x" * 100_000)  # final answers, with a body over the read cap
    for i in range(4):
        await fire(f"Story {i}")
        await run_stage(services, "webhooks")
    state = (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=listener.headers)).json()
    assert state["active"] is False
    assert state["consecutive_failures"] == 4
    assert state["disabled_reason"] == "4 failed attempts in a row"
    deliveries = await _deliveries(client, listener, hook["id"])
    assert [d["attempts"] for d in deliveries] == [1, 1, 1, 1]
    excerpt = deliveries[0]["attempt_log"][0]["response_excerpt"]
    assert excerpt == "x" * 1000

    resp = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"active": True}, headers=listener.headers
    )
    assert resp.json()["active"] is True
    assert resp.json()["consecutive_failures"] == 0
    receiver.default = Answer(204, b"")
    await fire("Back")
    await run_stage(services, "webhooks")
    assert (await _deliveries(client, listener, hook["id"]))[0]["status"] == "delivered"


async def test_ping_and_owner_only_access(
    client: httpx.AsyncClient, services: Services, listener: Account, receiver: Receiver, settings: Settings
) -> None:
    hook = await _register(client, listener, receiver.url("/ping"))
    listed = (await client.get("/api/v1/webhooks", headers=listener.headers)).json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]

    resp = await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=listener.headers)
    assert resp.status_code == 202
    assert resp.json()["event_type"] == "ping"
    await run_stage(services, "webhooks")
    headers, body, _ = receiver.received[-1]
    assert headers["x-newstalk-event"] == "ping"
    assert verify(hook["secret"], headers, body)
    assert json.loads(body)["data"]["webhook_id"] == hook["id"]

    other = await make_account(settings, Role.listener, "other@example.org")
    base = f"/api/v1/webhooks/{hook['id']}"
    for method, path in [
        ("GET", base),
        ("PATCH", base),
        ("DELETE", base),
        ("GET", f"{base}/deliveries"),
        ("POST", f"{base}/test"),
    ]:
        kwargs: dict[str, Any] = {"json": {"description": "mine now"}} if method == "PATCH" else {}
        resp = await client.request(method, path, headers=other.headers, **kwargs)
        assert resp.status_code == 404, (method, path, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/webhooks", headers=other.headers)).json() == []
    assert (await client.get(base)).status_code == 401
    assert (await client.get(f"/api/v1/webhooks/{2**63}", headers=listener.headers)).status_code == 422

    assert (await client.delete(base, headers=listener.headers)).status_code == 204
    assert (await client.get(base, headers=listener.headers)).status_code == 404

    # Deleting an account deletes its webhooks and their delivery logs (foreign keys).
    await _register(client, other, receiver.url("/other"))
    assert (await client.delete("/api/v1/me", headers=other.headers)).status_code == 204
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Webhook)) == 0
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


async def test_bad_targets_and_filters_are_refused(
    database_url: str, client: httpx.AsyncClient, listener: Account
) -> None:
    for body, slug in [
        ({"url": "ftp://example.org/hook"}, "invalid-input"),
        ({"url": "https://example.org/hook", "categories": ["gossip"]}, "invalid-input"),
        ({"url": "https://example.org/hook", "event_types": ["story.deleted"]}, None),
    ]:
        resp = await client.post("/api/v1/webhooks", json=body, headers=listener.headers)
        assert resp.status_code == 422, resp.text
        if slug:
            assert resp.json()["type"].endswith(slug)


async def test_private_addresses_are_refused_by_default(database_url: str, receiver: Receiver) -> None:
    from newstalk.main import create_app

    strict = make_settings(database_url, allow_private_networks=False)
    account = await make_account(strict, Role.listener, "strict@example.org")
    app = create_app(strict)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for url in (
                receiver.url(),
                "http://10.1.2.3/hook",
                "http://[::1]:8080/hook",
                "http://localhost:9/x",
            ):
                resp = await http.post("/api/v1/webhooks", json={"url": url}, headers=account.headers)
                assert resp.status_code == 422, (url, resp.text)
                assert resp.json()["type"].endswith("blocked-address"), resp.text
                assert "NEWSTALK_ALLOW_PRIVATE_NETWORKS" in resp.json()["detail"]
    assert receiver.received == []


async def _rotate(client: httpx.AsyncClient, who: Account, hook_id: int) -> httpx.Response:
    return await client.post(f"/api/v1/webhooks/{hook_id}/rotate-secret", headers=who.headers)


async def _sent(services: Services, receiver: Receiver) -> tuple[dict[str, str], bytes, int]:
    """Run the queued deliveries; the last request's headers, body and number of signatures."""
    await run_stage(services, "webhooks")
    headers, body, _ = receiver.received[-1]
    return headers, body, headers["x-newstalk-signature"].count("v1=")


async def test_rotation_signs_with_both_secrets_for_the_overlap_then_only_the_new_one(
    client: httpx.AsyncClient,
    services: Services,
    listener: Account,
    receiver: Receiver,
    hooked: tuple[dict[str, Any], Any],
) -> None:
    hook, fire = hooked
    old = hook["secret"]
    assert hook["previous_secret_expires_at"] is None
    resp = await _rotate(client, listener, hook["id"])
    assert resp.status_code == 200, resp.text
    rotated = resp.json()
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert rotated["id"] == hook["id"]
    left = datetime.fromisoformat(rotated["previous_secret_expires_at"]) - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < left <= timedelta(hours=24)

    # Neither secret is ever shown again; the overlap's end is.
    listed = (await client.get("/api/v1/webhooks", headers=listener.headers)).json()
    one = (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=listener.headers)).json()
    for shown in (listed[0], one):
        assert "secret" not in shown
        assert old not in json.dumps(shown)
        assert new not in json.dumps(shown)
        assert shown["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]

    await fire("During the overlap")
    headers, body, signatures = await _sent(services, receiver)
    assert signatures == 2
    assert verify(new, headers, body)
    assert verify(old, headers, body)  # a receiver still configured with the old secret
    assert not verify("whsec_wrong", headers, body)

    # End the overlap by moving its end into the past rather than waiting 24 hours.
    async with services.db.unit() as uow:
        await uow.session.execute(
            update(Webhook)
            .where(Webhook.id == hook["id"])
            .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
        )
    await fire("After the overlap")
    headers, body, signatures = await _sent(services, receiver)
    assert signatures == 1
    assert verify(new, headers, body)
    assert not verify(old, headers, body)
    assert len(receiver.received) == 2

    # The live stage's pruning forgets the expired secret.
    await live.prune(services)
    async with services.db.read() as session:
        row = await session.get(Webhook, hook["id"])
        assert row is not None
        assert (row.secret, row.previous_secret, row.previous_secret_expires_at) == (new, None, None)
    one = (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=listener.headers)).json()
    assert one["previous_secret_expires_at"] is None


async def test_rotation_is_owner_only_and_rate_limited_and_a_second_one_drops_the_oldest(
    client: httpx.AsyncClient, services: Services, listener: Account, receiver: Receiver, settings: Settings
) -> None:
    hook = await _register(client, listener, receiver.url("/ping"))
    base = f"/api/v1/webhooks/{hook['id']}"
    other = await make_account(settings, Role.listener, "rotator@example.org")
    resp = await _rotate(client, other, hook["id"])
    assert resp.status_code == 404, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert (await client.post(f"{base}/rotate-secret")).status_code == 401

    # Unchanged by the refused attempts: one signature, with the first secret.
    assert (await client.post(f"{base}/test", headers=listener.headers)).is_success
    headers, body, signatures = await _sent(services, receiver)
    assert signatures == 1
    assert verify(hook["secret"], headers, body)

    # Rotating twice: the first secret stops signing at once, the second overlaps the third.
    second = (await _rotate(client, listener, hook["id"])).json()["secret"]
    third = (await _rotate(client, listener, hook["id"])).json()["secret"]
    assert (await client.post(f"{base}/test", headers=listener.headers)).is_success
    headers, body, signatures = await _sent(services, receiver)
    assert signatures == 2
    assert verify(third, headers, body)
    assert verify(second, headers, body)
    assert not verify(hook["secret"], headers, body)

    # The same built-in limit as creating a webhook: 10 a minute per listener.
    codes = [(await _rotate(client, listener, hook["id"])).status_code for _ in range(9)]
    assert codes == [200] * 8 + [429]


async def test_rotation_is_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/webhooks/{webhook_id}/rotate-secret"]["post"]
    assert "webhooks" in operation["tags"]
    assert "24 hours" in operation["description"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    rotated = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "shown only this once" in rotated["properties"]["secret"]["description"]
    assert "previous_secret_expires_at" in rotated["properties"]
    assert "secret" not in spec["components"]["schemas"]["WebhookOut"]["properties"]


def test_shipped_verifier_accepts_any_entry_and_refuses_forged_or_non_ascii_headers() -> None:
    body, now = b'{"type":"ping"}', int(time.time())
    new, old = webhooks.sign("whsec_new", now, body), webhooks.sign("whsec_old", now, body)
    assert webhooks.verify("whsec_old", str(now), body, f"{new}, {old}")
    assert webhooks.verify("whsec_new", str(now), body, f"{new},{old}")
    assert not webhooks.verify("whsec_other", str(now), body, f"{new},{old}")
    # A forged header with non-ASCII text is a False, not a TypeError from compare_digest.
    assert not webhooks.verify("whsec_new", str(now), body, "v1=ä,v1=서명")
    assert not webhooks.verify("whsec_new", str(now - 3600), body, new)  # stale timestamp
