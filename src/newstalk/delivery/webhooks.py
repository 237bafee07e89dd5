"""Webhooks: listeners' URLs that receive signed JSON POSTs of live events, sent by the durable queue.

Signing (docs/live.md has a verifier): ``X-NewsTalk-Signature: v1=<hex>``, the
HMAC-SHA256 with the webhook's secret of ``"<X-NewsTalk-Timestamp>.<raw body>"``. The
timestamp (Unix seconds) is that attempt's, so a receiver can refuse old replays; the
delivery id (``X-NewsTalk-Delivery``) stays the same across retries, so it can drop repeats.
After a secret rotation the header carries one comma-separated ``v1=`` entry per secret,
the new one first, for ``SECRET_OVERLAP``; then the previous secret stops signing (and the
live stage's pruning clears it). A receiver accepts a request when any entry matches.

A delivery is a job of the ``webhooks`` stage. Network errors, timeouts, 5xx, 408 and
429 are retried with exponential backoff (``NEWSTALK_WEBHOOK_RETRY_BASE_S`` doubling,
±10 % jitter, ``NEWSTALK_WEBHOOK_MAX_ATTEMPTS`` in all: 2, 4, 8, 16, 32 min by default);
other answers are final. 410 Gone disables the webhook at once, and
``NEWSTALK_WEBHOOK_DISABLE_AFTER`` failed attempts in a row disable it too. The POST
goes through the safe fetcher's guard (no private addresses unless allowed, the checked
address is the one connected to), follows no redirects, and reads at most
``NEWSTALK_WEBHOOK_RESPONSE_MAX_BYTES`` of the answer. Delivery is at least once: a
worker that dies after sending but before recording sends again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk import __version__
from newstalk.delivery import live_repository as repo
from newstalk.delivery.live_models import DELIVERED, FAILED, PENDING, Webhook, WebhookAttempt, WebhookDelivery
from newstalk.errors import BlockedAddress, Conflict, FetchError, InvalidInput, NotFound
from newstalk.kit import metrics
from newstalk.kit.bus import Event
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.kit.http import Fetcher, check_url
from newstalk.pipeline import topics
from newstalk.stories.category import CATEGORIES

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.delivery.live_fanout import LiveMessage
    from newstalk.delivery.live_schemas import WebhookIn
    from newstalk.pipeline.worker import JobContext

PING = "ping"
MAX_WEBHOOKS = 10
EXCERPT_CHARS = 1000
MAX_RETRY_AFTER_S = 3600.0
RESOLVE_TIMEOUT_S = 5.0
SIGNATURE_HEADER = "X-NewsTalk-Signature"
TIMESTAMP_HEADER = "X-NewsTalk-Timestamp"
DELIVERY_HEADER = "X-NewsTalk-Delivery"
EVENT_HEADER = "X-NewsTalk-Event"
RETRY_STATUSES = frozenset({408, 429})
# After a rotation deliveries are signed with the previous secret too for this long, so
# receivers can switch secrets without refusing anything.
SECRET_OVERLAP = timedelta(hours=24)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """One signature entry: ``v1=`` + hex HMAC-SHA256 of ``"<ts>.<body>"`` with ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signature_header(keys: Sequence[str], timestamp: int, body: bytes) -> str:
    """The signature header value for one attempt: an entry per secret, comma-separated."""
    return ",".join(sign(key, timestamp, body) for key in keys)


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance_s: int = 300) -> bool:
    """What a receiver does: any entry made with ``secret`` matches, timestamp within ``tolerance_s``."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    expected = sign(secret, int(timestamp), body).encode()
    # Bytes, not str: compare_digest raises on non-ASCII text, and a header is the sender's input.
    return any(
        hmac.compare_digest(expected, entry.strip().encode("utf-8", "replace"))
        for entry in signature.split(",")
    )


def signing_secrets(hook: Webhook, now: datetime) -> list[str]:
    """The secrets a delivery is signed with: the current one, then the previous one until it expires."""
    expires = hook.previous_secret_expires_at
    if hook.previous_secret and expires is not None and expires > now:
        return [hook.secret, hook.previous_secret]
    return [hook.secret]


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def backoff_s(attempt: int, base_s: float) -> float:
    """Wait after failed attempt ``attempt`` (1-based): base, 2×base, 4×base … with ±10 % jitter."""
    return base_s * (2.0 ** (attempt - 1)) * random.uniform(0.9, 1.1)


def encode_body(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# Registration


def _check_filter(categories: list[str]) -> list[str]:
    cats = [c.lower() for c in dict.fromkeys(categories)]
    unknown = [c for c in cats if c not in CATEGORIES]
    if unknown:
        raise InvalidInput(
            f"webhooks: unknown categories {', '.join(map(repr, unknown))}; use {', '.join(CATEGORIES)}"
        )
    return cats


async def check_target(url: str, settings: Settings) -> None:
    """Refuse URLs that are not http(s) or resolve to private addresses (unless allowed)."""
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            await check_url(url, allow_private_networks=settings.allow_private_networks)
    except BlockedAddress as exc:
        raise BlockedAddress(exc.detail.replace("fetch:", "webhooks:", 1)) from None
    except InvalidInput as exc:
        raise InvalidInput(exc.detail.replace("fetch:", "webhooks:", 1)) from None
    except (FetchError, TimeoutError):
        raise InvalidInput(f"webhooks: the host of {url} could not be resolved; check the URL") from None


async def create_webhook(
    uow: UnitOfWork, settings: Settings, user_id: int, body: WebhookIn
) -> tuple[Webhook, str]:
    """Register a webhook for its owner; returns it with its signing secret (stored for signing, shown once)."""
    await check_target(body.url, settings)
    if await repo.count_webhooks(uow.session, user_id) >= MAX_WEBHOOKS:
        raise Conflict(f"webhooks: you have {MAX_WEBHOOKS} webhooks already; delete one first")
    now = utcnow()
    secret = _new_secret()
    hook = Webhook(
        user_id=user_id,
        url=body.url,
        description=body.description,
        event_types=list(dict.fromkeys(body.event_types)),
        categories=_check_filter(body.categories),
        languages=list(dict.fromkeys(body.languages)),
        secret=secret,
        active=True,
        consecutive_failures=0,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(hook)
    await uow.session.flush()
    return hook, secret


async def get_webhook(session: AsyncSession, user_id: int, webhook_id: int) -> Webhook:
    """The caller's webhook; another listener's is NotFound, never Forbidden (ids are not confirmed)."""
    hook = await repo.owned_webhook(session, user_id, webhook_id)
    if hook is None:
        raise NotFound(f"webhooks: you have no webhook {webhook_id}")
    return hook


async def update_webhook(
    uow: UnitOfWork, settings: Settings, user_id: int, webhook_id: int, changes: dict[str, Any]
) -> Webhook:
    """Apply the given changes; re-enabling clears the failure count."""
    hook = await get_webhook(uow.session, user_id, webhook_id)
    if changes.get("url") is not None:
        await check_target(changes["url"], settings)
        hook.url = changes["url"]
    if changes.get("description") is not None:
        hook.description = changes["description"]
    if changes.get("event_types") is not None:
        hook.event_types = list(dict.fromkeys(changes["event_types"]))
    if changes.get("categories") is not None:
        hook.categories = _check_filter(changes["categories"])
    if changes.get("languages") is not None:
        hook.languages = list(dict.fromkeys(changes["languages"]))
    if changes.get("active") is True and not hook.active:
        hook.active, hook.disabled_reason, hook.consecutive_failures = True, None, 0
    elif changes.get("active") is False and hook.active:
        hook.active, hook.disabled_reason = False, "disabled by its owner"
    hook.updated_at = utcnow()
    return hook


async def rotate_secret(uow: UnitOfWork, user_id: int, webhook_id: int) -> tuple[Webhook, str]:
    """Give a webhook a new signing secret (returned, shown once); the current one keeps signing
    beside it for ``SECRET_OVERLAP``. Rotating again within that window drops the older one at once."""
    hook = await get_webhook(uow.session, user_id, webhook_id)
    now = utcnow()
    secret = _new_secret()
    hook.previous_secret, hook.previous_secret_expires_at = hook.secret, now + SECRET_OVERLAP
    hook.secret, hook.updated_at = secret, now
    return hook, secret


async def delete_webhook(uow: UnitOfWork, user_id: int, webhook_id: int) -> None:
    """Delete a webhook with its delivery log; its queued jobs find nothing and end."""
    hook = await get_webhook(uow.session, user_id, webhook_id)
    await uow.session.delete(hook)


# Deliveries


def _new_delivery(
    hook: Webhook, event_type: str, event_id: int | None, data: dict[str, Any]
) -> WebhookDelivery:
    now = utcnow()
    delivery_uuid = str(uuid.uuid4())
    return WebhookDelivery(
        uuid=delivery_uuid,
        webhook_id=hook.id,
        event_id=event_id,
        event_type=event_type,
        body={
            "id": delivery_uuid,
            "type": event_type,
            "event_id": event_id,
            "created_at": now.isoformat(),
            "data": data,
        },
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def _queue(uow: UnitOfWork, delivery: WebhookDelivery, attempt: int, delay_s: float = 0.0) -> None:
    uow.emit(
        Event(
            topics.WEBHOOK_DELIVER,
            f"webhook:{delivery.id}:{attempt}",
            topics.WebhookDeliver(delivery_id=delivery.id, attempt=attempt),
            utcnow(),
            delay_s=delay_s,
        )
    )


async def enqueue_deliveries(uow: UnitOfWork, msg: LiveMessage) -> int:
    """A delivery (and its job) for every active webhook whose filter takes this event."""
    hooks = await repo.matching_webhooks(uow.session, msg.type, msg.category, msg.languages)
    data = {k: v for k, v in msg.data.items() if k not in ("id", "type", "created_at")}
    deliveries = [_new_delivery(h, msg.type, msg.id, data) for h in hooks]
    uow.session.add_all(deliveries)
    await uow.session.flush()
    for d in deliveries:
        _queue(uow, d, 1)
    return len(deliveries)


async def send_ping(uow: UnitOfWork, user_id: int, webhook_id: int) -> WebhookDelivery:
    """Queue a ``ping`` to a webhook (even a disabled one: testing it is how owners check a fix)."""
    hook = await get_webhook(uow.session, user_id, webhook_id)
    delivery = _new_delivery(
        hook, PING, None, {"webhook_id": hook.id, "message": "NewsTalk webhook test; no action needed"}
    )
    uow.session.add(delivery)
    await uow.session.flush()
    _queue(uow, delivery, 1)
    return delivery


@dataclass(frozen=True, slots=True)
class Outcome:
    started_at: datetime
    status_code: int | None
    error: str | None
    excerpt: str | None
    latency_ms: float
    retry_after_s: float | None
    retryable: bool

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), MAX_RETRY_AFTER_S)


async def attempt(settings: Settings, hook: Webhook, delivery: WebhookDelivery) -> Outcome:
    """POST a delivery once and classify the answer; never raises for the receiver's failures."""
    body = encode_body(delivery.body)
    timestamp = int(time.time())
    headers = {
        EVENT_HEADER: delivery.event_type,
        DELIVERY_HEADER: delivery.uuid,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(signing_secrets(hook, utcnow()), timestamp, body),
    }
    client = Fetcher(
        user_agent=f"NewsTalk-Webhooks/{__version__}",
        timeout_s=settings.webhook_timeout_s,
        max_redirects=0,
        per_host_limit=4,
        allow_private_networks=settings.allow_private_networks,
    )
    started_at, started = utcnow(), time.perf_counter()
    try:
        status, head, retry_after = await client.post_json(
            hook.url, body, headers, cap=settings.webhook_response_max_bytes
        )
    except BlockedAddress as exc:
        return Outcome(started_at, None, exc.detail, None, _ms(started), None, retryable=False)
    except FetchError as exc:
        return Outcome(started_at, None, exc.detail, None, _ms(started), None, retryable=True)
    finally:
        await client.aclose()
    latency = _ms(started)
    excerpt = head.decode("utf-8", errors="replace")[:EXCERPT_CHARS] or None
    ok = 200 <= status < 300
    error = None if ok else f"the receiver answered HTTP {status}"
    if 300 <= status < 400:
        error = f"the receiver answered HTTP {status} (redirects are not followed; register the final URL)"
    retryable = status >= 500 or status in RETRY_STATUSES
    return Outcome(started_at, status, error, excerpt, latency, _retry_after(retry_after), retryable)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


async def handle_webhooks(ctx: JobContext) -> None:
    """The webhooks stage: one attempt of one delivery, recorded with the next one's schedule."""
    services, job = ctx.services, ctx.job
    settings = services.settings
    delivery_id = int(job.payload["delivery_id"])
    async with services.db.read() as session:
        found = await repo.delivery_with_webhook(session, delivery_id)
    if found is None:
        return  # the webhook (and its log) was deleted
    delivery, hook = found
    if delivery.status != PENDING:
        return
    if not hook.active and delivery.event_type != PING:
        async with ctx.commit() as uow:
            await _finish(
                uow, delivery.id, FAILED, f"not sent: the webhook is disabled ({hook.disabled_reason})"
            )
        metrics.WEBHOOK_ATTEMPTS.labels("failed").inc()
        return
    outcome = await attempt(settings, hook, delivery)
    # The backoff counts from the answer, not from when the database was free to record it.
    ended_at = outcome.started_at + timedelta(milliseconds=outcome.latency_ms)
    number = delivery.attempts + 1
    async with ctx.commit() as uow:
        session = uow.session
        row = await session.get(WebhookDelivery, delivery.id)
        if row is None or row.status != PENDING:
            return
        next_at: datetime | None = None
        if outcome.ok:
            row.status, row.completed_at, row.last_error = DELIVERED, utcnow(), None
            await session.execute(update(Webhook).where(Webhook.id == hook.id).values(consecutive_failures=0))
            metrics.WEBHOOK_ATTEMPTS.labels("delivered").inc()
        else:
            failures = await session.scalar(
                update(Webhook)
                .where(Webhook.id == hook.id)
                .values(consecutive_failures=Webhook.consecutive_failures + 1)
                .returning(Webhook.consecutive_failures)
            )
            row.last_error = outcome.error
            if outcome.retryable and number < settings.webhook_max_attempts:
                delay = backoff_s(number, settings.webhook_retry_base_s)
                if outcome.retry_after_s is not None:
                    delay = max(delay, outcome.retry_after_s)
                next_at = ended_at + timedelta(seconds=delay)
                row.next_attempt_at = next_at
                _queue(uow, row, number + 1, max(0.0, (next_at - utcnow()).total_seconds()))
                metrics.WEBHOOK_ATTEMPTS.labels("retry").inc()
            else:
                row.status, row.completed_at, row.next_attempt_at = FAILED, utcnow(), None
                metrics.WEBHOOK_ATTEMPTS.labels("failed").inc()
            reason = None
            if outcome.status_code == 410:
                reason = "the receiver answered 410 Gone"
            elif (failures or 0) >= settings.webhook_disable_after:
                reason = f"{failures} failed attempts in a row"
            if reason is not None:
                await session.execute(
                    update(Webhook)
                    .where(Webhook.id == hook.id, Webhook.active.is_(True))
                    .values(active=False, disabled_reason=reason, updated_at=utcnow())
                )
        row.attempts = number
        session.add(
            WebhookAttempt(
                delivery_id=row.id,
                attempt=number,
                started_at=outcome.started_at,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                error=outcome.error,
                response_excerpt=outcome.excerpt,
                next_retry_at=next_at,
            )
        )


async def _finish(uow: UnitOfWork, delivery_id: int, status: str, error: str | None) -> None:
    row = await uow.session.get(WebhookDelivery, delivery_id)
    if row is not None and row.status == PENDING:
        row.status, row.last_error, row.completed_at, row.next_attempt_at = status, error, utcnow(), None
