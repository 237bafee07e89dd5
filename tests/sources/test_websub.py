"""WebSub subscriber tests: a real hub and the real app, both on 127.0.0.1.

The app runs under uvicorn in a thread on a pre-bound port, so the hub (a threaded
http.server) can call its verification URL during the subscribe POST, as real hubs do.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.kit import metrics
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.kit.db import utcnow
from newstalk.main import create_app
from newstalk.pipeline.stages import all_stages
from newstalk.pipeline.worker import StageWorker
from newstalk.runtime import Services
from newstalk.sources.models import ACTIVE, PAUSED, Source
from newstalk.sources.websub import renew_expiring, signature_valid, websub_event
from tests.conftest import make_settings

T = TypeVar("T")
TOPIC = "https://example.org/feed.xml"
SECRET = "s3cret-for-tests"
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Pushed</title><link>https://example.org/</link>
<item><title>Hub delivered this</title><link>https://example.org/a/1</link>
<guid>https://example.org/a/1</guid><pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate>
<description>A story the hub pushed to us, long enough to be an article.</description></item>
</channel></rss>"""


@dataclass
class HubState:
    answer: int = 202
    verify_topic: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[dict[str, str]] = field(default_factory=list)
    verifications: list[tuple[int, bytes]] = field(default_factory=list)


class HubHandler(BaseHTTPRequestHandler):
    """Records subscribe requests and verifies intent before answering, as hubs may."""

    state: ClassVar[HubState]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
        with self.state.lock:
            self.state.requests.append(form)
        if self.state.answer == 202 and form.get("hub.mode") == "subscribe":
            query = urllib.parse.urlencode(
                {
                    "hub.mode": "subscribe",
                    "hub.topic": self.state.verify_topic or form["hub.topic"],
                    "hub.challenge": "challenge-123",
                    "hub.lease_seconds": "3600",
                }
            )
            try:
                with urllib.request.urlopen(f"{form['hub.callback']}?{query}", timeout=10) as resp:
                    verification = (resp.status, resp.read())
            except urllib.error.HTTPError as exc:
                verification = (exc.code, exc.read())
                exc.close()
            with self.state.lock:
                self.state.verifications.append(verification)
        body = b"" if self.state.answer == 202 else b"no such topic"
        self.send_response(self.state.answer)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Env:
    settings: Settings
    base: str
    hub_url: str
    hub: HubState

    def run(self, fn: Callable[[Services], Awaitable[T]]) -> T:
        """Run ``fn`` with freshly built services (the worker/scheduler side)."""

        async def main() -> T:
            services = Services.build(self.settings)
            try:
                return await fn(services)
            finally:
                await services.aclose()

        return asyncio.run(main())

    def add_source(self, **fields: Any) -> int:
        async def add(services: Services) -> int:
            now = utcnow()
            values: dict[str, Any] = {
                "feed_url": TOPIC,
                "title": "Example",
                "status": ACTIVE,
                "fetch_interval_s": 900,
                "next_fetch_at": now + timedelta(hours=1),
                "consecutive_failures": 0,
                "fetch_count": 0,
                "not_modified_count": 0,
                "article_count": 0,
                "websub_hub": self.hub_url,
                "websub_topic": TOPIC,
                "created_at": now,
                "updated_at": now,
                **fields,
            }
            async with services.db.unit() as uow:
                source = Source(**values)
                uow.session.add(source)
                await uow.session.flush()
                return source.id

        return self.run(add)

    def source(self, source_id: int) -> Source:
        async def get(services: Services) -> Source:
            async with services.db.read() as session:
                source = await session.get(Source, source_id)
                assert source is not None
                return source

        return self.run(get)

    def jobs(self, stage: str) -> list[QueueJob]:
        async def get(services: Services) -> list[QueueJob]:
            async with services.db.read() as session:
                rows = await session.scalars(select(QueueJob).where(QueueJob.stage == stage))
                return list(rows.all())

        return self.run(get)

    def run_stage(self, name: str) -> int:
        async def once(services: Services) -> int:
            stage = next(s for s in all_stages(services.settings) if s.name == name)
            return await StageWorker(services, stage).run_once()

        return self.run(once)

    def push(self, source_id: int, body: bytes, signature: str | None, **kw: Any) -> httpx.Response:
        headers = {b"Content-Type": b"application/rss+xml"}
        if signature is not None:
            headers[b"X-Hub-Signature"] = signature.encode("latin-1")
        with httpx.Client(base_url=self.base, trust_env=False, timeout=10) as client:
            return client.post(f"/websub/{source_id}", content=kw.get("content", body), headers=headers)

    def verify(self, source_id: int, **params: str) -> httpx.Response:
        with httpx.Client(base_url=self.base, trust_env=False, timeout=10) as client:
            return client.get(f"/websub/{source_id}", params=params)


def sign(body: bytes, secret: str = SECRET, method: str = "sha256") -> str:
    return f"{method}={hmac.new(secret.encode(), body, method).hexdigest()}"


def websub_count(event: str) -> float:
    value = metrics.REGISTRY.get_sample_value("newstalk_websub_events_total", {"event": event})
    return value or 0.0


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    hub_state = HubState()
    handler = type("Hub", (HubHandler,), {"state": hub_state})
    hub = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    hub_thread = threading.Thread(target=hub.serve_forever, daemon=True)
    hub_thread.start()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(database_url, public_url=base, fetch_max_bytes=8192)
    config = uvicorn.Config(
        create_app(settings), log_level="warning", ws="none", http="h11", loop="asyncio", lifespan="on"
    )
    server = uvicorn.Server(config)
    app_thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    app_thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started, "the app did not start"
    try:
        yield Env(settings, base, f"http://127.0.0.1:{hub.server_address[1]}/hub", hub_state)
    finally:
        server.should_exit = True
        app_thread.join(timeout=10)
        sock.close()
        hub.shutdown()
        hub.server_close()
        hub_thread.join(timeout=10)


def test_subscribe_verify_push_and_collect(env: Env) -> None:
    source_id = env.add_source(websub_state="pending")
    env.run(lambda s: _emit_websub(s, source_id))

    assert env.run_stage("websub") == 1

    assert len(env.hub.requests) == 1
    form = env.hub.requests[0]
    assert form["hub.mode"] == "subscribe"
    assert form["hub.topic"] == TOPIC
    assert form["hub.callback"] == f"{env.base}/websub/{source_id}"
    assert form["hub.lease_seconds"] == str(env.settings.websub_lease_s)
    assert env.hub.verifications == [(200, b"challenge-123")]
    source = env.source(source_id)
    assert source.websub_state == "active"
    assert source.websub_secret == form["hub.secret"]
    assert source.websub_lease_until is not None
    assert timedelta(minutes=59) < source.websub_lease_until - utcnow() <= timedelta(hours=1)
    assert env.jobs("websub") == []

    pushes = websub_count("push")
    resp = env.push(source_id, FEED, sign(FEED, form["hub.secret"]))
    assert resp.status_code == 202
    assert websub_count("push") == pushes + 1
    jobs = env.jobs("collect")
    assert [(j.topic, j.payload["source_id"], j.payload["content_type"]) for j in jobs] == [
        ("source.push", source_id, "application/rss+xml")
    ]
    assert jobs[0].dedup_key == f"push:{source_id}:{hashlib.sha256(FEED).hexdigest()}"

    assert env.run_stage("collect") == 1

    async def articles(services: Services) -> int:
        async with services.db.read() as session:
            query = select(func.count()).select_from(Article).where(Article.source_id == source_id)
            return int(await session.scalar(query) or 0)

    assert env.run(articles) == 1
    assert env.jobs("collect") == []


async def _emit_websub(services: Services, source_id: int) -> None:
    async with services.db.unit() as uow:
        uow.emit(websub_event(source_id, utcnow()))


def test_hub_refusal_marks_failed_and_keeps_fetch_state(env: Env) -> None:
    env.hub.answer = 400
    source_id = env.add_source(websub_state="pending", last_error="fetch: an earlier poll error")
    env.run(lambda s: _emit_websub(s, source_id))

    assert env.run_stage("websub") == 1

    source = env.source(source_id)
    assert source.websub_state == "failed"
    assert source.last_error == "fetch: an earlier poll error"
    assert env.hub.verifications == []
    assert env.jobs("websub") == []


def test_unreachable_hub_is_retried_and_stays_pending(env: Env) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    source_id = env.add_source(websub_state="pending", websub_hub=f"http://127.0.0.1:{port}/hub")
    env.run(lambda s: _emit_websub(s, source_id))

    assert env.run_stage("websub") == 1

    [job] = env.jobs("websub")
    assert job.status == "ready"
    assert job.last_error is not None
    assert "connection failed" in job.last_error
    source = env.source(source_id)
    assert source.websub_state == "pending"
    assert source.websub_lease_until is not None
    assert source.websub_lease_until > utcnow()


def test_verification_with_wrong_topic_is_refused(env: Env) -> None:
    env.hub.verify_topic = "https://attacker.example/feed"
    source_id = env.add_source(websub_state="pending")
    env.run(lambda s: _emit_websub(s, source_id))

    env.run_stage("websub")

    assert [v[0] for v in env.hub.verifications] == [404]
    assert env.source(source_id).websub_state == "pending"


@pytest.mark.parametrize(
    ("state", "params", "expected", "after"),
    [
        ("active", {"hub.mode": "subscribe", "hub.topic": "https://other/"}, 404, "active"),
        ("active", {"hub.mode": "subscribe", "hub.topic": TOPIC}, 404, "active"),
        ("failed", {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.challenge": "c"}, 404, "failed"),
        ("active", {"hub.mode": "unsubscribe", "hub.topic": TOPIC, "hub.challenge": "c"}, 404, "active"),
        (
            "failed",
            {"hub.mode": "unsubscribe", "hub.topic": TOPIC, "hub.challenge": "c"},
            200,
            "unsubscribed",
        ),
        ("active", {"hub.mode": "bogus", "hub.topic": TOPIC, "hub.challenge": "c"}, 404, "active"),
        ("pending", {"hub.mode": "denied", "hub.topic": TOPIC, "hub.reason": "no"}, 200, "denied"),
        ("pending", {"hub.mode": "denied", "hub.topic": "https://other/"}, 404, "pending"),
    ],
)
def test_verification_answers(
    env: Env, state: str, params: dict[str, str], expected: int, after: str
) -> None:
    source_id = env.add_source(websub_state=state, websub_secret=SECRET)

    resp = env.verify(source_id, **params)

    assert resp.status_code == expected
    if expected == 200 and "hub.challenge" in params:
        assert resp.text == params["hub.challenge"]
    assert env.source(source_id).websub_state == after


def test_verification_for_unknown_source_is_404(env: Env) -> None:
    resp = env.verify(999, **{"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.challenge": "c"})
    assert resp.status_code == 404


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        sign(FEED, "another-source-secret"),
        sign(FEED, method="md5"),
        sign(FEED + b" ", SECRET),
        "sha256",
        "sha256=\u00e9\u00e9",
    ],
)
def test_unsigned_or_badly_signed_push_is_accepted_and_dropped(env: Env, signature: str | None) -> None:
    source_id = env.add_source(websub_state="active", websub_secret=SECRET)
    rejected = websub_count("rejected")

    resp = env.push(source_id, FEED, signature)

    assert resp.status_code == 202
    assert env.jobs("collect") == []
    assert websub_count("rejected") == rejected + 1


def test_push_without_a_subscription_is_refused(env: Env) -> None:
    unsubscribed = env.add_source(websub_state="failed", websub_secret=SECRET)

    assert env.push(unsubscribed, FEED, sign(FEED)).status_code == 410
    assert env.jobs("collect") == []


def test_push_signed_for_one_source_cannot_reach_another(env: Env) -> None:
    env.add_source(websub_state="active", websub_secret=SECRET)
    other = env.add_source(
        feed_url="https://other.example/feed",
        websub_topic="https://other.example/feed",
        websub_state="active",
        websub_secret="other-secret",
    )

    assert env.push(other, FEED, sign(FEED, SECRET)).status_code == 202
    assert env.jobs("collect") == []


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_every_signature_method_is_accepted(env: Env, method: str) -> None:
    source_id = env.add_source(websub_state="active", websub_secret=SECRET)

    resp = env.push(source_id, FEED, sign(FEED, method=method))

    assert resp.status_code == 202
    assert len(env.jobs("collect")) == 1


def test_oversized_push_is_413(env: Env) -> None:
    source_id = env.add_source(websub_state="active", websub_secret=SECRET)
    big = b"x" * (env.settings.fetch_max_bytes + 1)

    declared = env.push(source_id, big, sign(big))

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"y" * 4096

    streamed = env.push(source_id, b"", sign(b""), content=chunks())

    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert streamed.headers["content-type"].startswith("application/problem+json")
    assert env.jobs("collect") == []


def test_push_to_unknown_source_is_404(env: Env) -> None:
    assert env.push(999, FEED, sign(FEED)).status_code == 404


def test_renew_expiring(env: Env) -> None:
    now = utcnow()
    n = iter(range(100))

    def add(**fields: Any) -> int:
        url = f"https://example.org/{next(n)}.xml"
        return env.add_source(feed_url=url, websub_topic=url, websub_secret=SECRET, **fields)

    expiring = add(websub_state="active", websub_lease_until=now + timedelta(hours=2))
    add(websub_state="active", websub_lease_until=now + timedelta(days=3))
    overdue = add(websub_state="pending", websub_lease_until=now - timedelta(minutes=1))
    add(websub_state="pending", websub_lease_until=now + timedelta(minutes=30))
    stale = add(websub_state="pending", updated_at=now - timedelta(hours=2))
    add(websub_state="pending", updated_at=now - timedelta(minutes=5))
    add(websub_state="active", status=PAUSED, websub_lease_until=now + timedelta(hours=2))
    add(websub_state="failed", websub_lease_until=None)

    assert env.run(renew_expiring) == 3
    assert sorted(j.payload["source_id"] for j in env.jobs("websub")) == [expiring, overdue, stale]
    assert env.run(renew_expiring) == 3
    assert len(env.jobs("websub")) == 3


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_signature_valid(method: str) -> None:
    good = sign(FEED, method=method)
    assert signature_valid(SECRET, FEED, good)
    assert signature_valid(SECRET, FEED, good.upper().replace(method.upper(), method))
    assert not signature_valid("other", FEED, good)
    assert not signature_valid(SECRET, FEED[:-1], good)
    assert not signature_valid(SECRET, FEED, None)
    assert not signature_valid(SECRET, FEED, f"md5={hashlib.md5(FEED).hexdigest()}")


def test_a_signed_push_turns_polling_into_a_safety_net(env: Env) -> None:
    source_id = env.add_source(websub_state="active", websub_secret=SECRET, planned_reason="busy feed")
    before = env.source(source_id)
    assert before.last_push_at is None

    assert env.push(source_id, FEED, sign(FEED)).status_code == 202

    after = env.source(source_id)
    assert after.last_push_at is not None
    assert after.poll_reason == "websub push + safety poll"
    assert after.fetch_interval_s == 4 * env.settings.freshness_s
    # The next poll moves out to the safety interval (jittered, never under the floor).
    assert after.next_fetch_at - utcnow() > timedelta(seconds=0.9 * 4 * env.settings.freshness_s - 60)

    # A badly signed push changes nothing.
    other = env.add_source(
        feed_url="https://other.example/feed",
        websub_topic="https://other.example/feed",
        websub_state="active",
        websub_secret="other-secret",
    )
    assert env.push(other, FEED, sign(FEED, SECRET)).status_code == 202
    assert env.source(other).last_push_at is None
