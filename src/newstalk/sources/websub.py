"""WebSub (W3C Recommendation), subscriber side: subscribe to a feed's hub and accept its pushes.

Contracts:

* ``handle_websub`` commits a fresh secret and ``websub_state="pending"`` *before* it
  POSTs to the hub, because hubs verify intent during or right after that POST and the
  verification endpoint must find them. While pending, ``websub_lease_until`` holds the
  time by which the hub must verify; verification replaces it with the real lease end.
* ``GET /websub/{id}`` confirms only what we asked for: a subscribe for a pending or
  active subscription to the stored topic, or an unsubscribe for one we no longer want.
* ``POST /websub/{id}`` queues content only when it is signed (``X-Hub-Signature``) with
  that source's secret; anything else is answered 2xx and dropped (WebSub 7), so the
  callbacks cannot inject items into any source. A source with no pending or active
  subscription answers 410 before the body is read (a hub then drops the subscription). They take no admin token: hubs call them.
* Polling continues whatever happens here, so a failed or silent hub never loses items. A
  source whose hub pushed within a day is polled as a safety net every
  ``schedule.PUSH_SAFETY_FACTOR`` freshness targets ("websub push + safety poll" in source
  health); a poll that finds items the hub did not push puts it back on the freshness target.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import PlainTextResponse
from sqlalchemy import and_, or_, select

from newstalk.deps import ServicesDep
from newstalk.errors import FetchError, NotFound
from newstalk.kit import metrics
from newstalk.kit.api import problem
from newstalk.kit.bus import Event
from newstalk.kit.db import utcnow
from newstalk.pipeline import topics
from newstalk.pipeline.context import StageServices
from newstalk.pipeline.worker import JobContext
from newstalk.sources import repository, schedule
from newstalk.sources.models import ACTIVE, Source
from newstalk.sources.service import new_websub_secret, replan, websub_event

log = logging.getLogger(__name__)

router = APIRouter(prefix="/websub", tags=["websub"])

PENDING = "pending"
SUBSCRIBED = "active"
FAILED = "failed"
DENIED = "denied"
UNSUBSCRIBED = "unsubscribed"
WANTED = frozenset({PENDING, SUBSCRIBED})

VERIFY_WITHIN = timedelta(hours=1)
RENEW_BEFORE = timedelta(days=1)
MAX_LEASE_S = 366 * 24 * 3600
SIGNATURE_METHODS = frozenset({"sha1", "sha256", "sha384", "sha512"})
TRANSIENT_REASONS = frozenset({"timeout", "connect", "dns"})


def callback_url(public_url: str, source_id: int) -> str:
    """The callback a hub verifies and pushes to for one source."""
    return f"{public_url.rstrip('/')}/websub/{source_id}"


async def handle_websub(ctx: JobContext) -> None:
    """Subscribe a source to its hub (the ``websub`` stage)."""
    services = ctx.services
    settings = services.settings
    source_id = int(ctx.job.payload["source_id"])
    secret = new_websub_secret()
    async with services.db.unit() as uow:
        source = await repository.get(uow.session, source_id)
        if (
            source is None
            or source.status != ACTIVE
            or not settings.websub_enabled
            or not source.websub_hub
            or not source.websub_topic
        ):
            return
        now = utcnow()
        hub, topic = source.websub_hub, source.websub_topic
        source.websub_secret, source.websub_state = secret, PENDING
        source.websub_lease_until = now + VERIFY_WITHIN
        source.updated_at = now

    form = {
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.callback": callback_url(settings.public_url, source_id),
        "hub.secret": secret,
        "hub.lease_seconds": str(settings.websub_lease_s),
    }
    try:
        code, body = await services.fetcher.post_form(hub, form)
    except FetchError as exc:
        if exc.reason in TRANSIENT_REASONS:
            raise
        code, reason = 0, exc.detail
    else:
        reason = f"hub answered HTTP {code}: {body[:200].decode('utf-8', 'replace')}"

    if code in (202, 204):
        metrics.WEBSUB_EVENTS.labels("subscribe_sent").inc()
        log.info("websub: asked %s to push %s to source %s", hub, topic, source_id)
        return
    metrics.WEBSUB_EVENTS.labels("subscribe_failed").inc()
    log.warning("websub: subscribing source %s at %s failed (%r); polling continues", source_id, hub, reason)
    async with ctx.commit() as uow:
        source = await repository.get(uow.session, source_id)
        # A newer subscribe attempt owns the state once the secret changed.
        if source is not None and source.websub_secret == secret:
            source.websub_state = FAILED
            source.websub_lease_until = None
            source.updated_at = utcnow()


@router.get("/{source_id}", response_class=PlainTextResponse)
async def verify_intent(
    source_id: int,
    services: ServicesDep,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=32)] = None,
    topic: Annotated[str | None, Query(alias="hub.topic", max_length=4096)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=4096)] = None,
    lease_seconds: Annotated[str | None, Query(alias="hub.lease_seconds", max_length=32)] = None,
    reason: Annotated[str | None, Query(alias="hub.reason", max_length=4096)] = None,
) -> Response:
    """Answer a hub's intent verification (subscribe, unsubscribe) or denial notice."""
    refused = NotFound(f"websub: source {source_id} did not ask for this {mode or 'request'} of {topic!r}")
    settings = services.settings
    now = utcnow()
    async with services.db.unit() as uow:
        source = await repository.get(uow.session, source_id)
        if source is None or topic is None or source.websub_topic != topic:
            raise refused
        wanted = settings.websub_enabled and source.websub_state in WANTED
        if mode == "denied" and wanted:
            source.websub_state, source.websub_lease_until = DENIED, None
            source.updated_at = now
            metrics.WEBSUB_EVENTS.labels("denied").inc()
            log.warning("websub: hub %s denied source %s: %r", source.websub_hub, source_id, reason)
            return PlainTextResponse("", status_code=status.HTTP_200_OK)
        if challenge is None:
            raise refused
        if mode == "subscribe" and wanted and source.websub_secret:
            lease = _lease(lease_seconds, settings.websub_lease_s)
            source.websub_state = SUBSCRIBED
            source.websub_lease_until = now + timedelta(seconds=lease)
            source.updated_at = now
            metrics.WEBSUB_EVENTS.labels("verified").inc()
            log.info("websub: source %s subscribed for %ss", source_id, lease)
            return PlainTextResponse(challenge)
        if mode == "unsubscribe" and not wanted:
            # Confirming only unwanted subscriptions keeps third parties from cancelling ours.
            source.websub_state, source.websub_lease_until = UNSUBSCRIBED, None
            source.updated_at = now
            metrics.WEBSUB_EVENTS.labels("unsubscribed").inc()
            return PlainTextResponse(challenge)
    raise refused


def _lease(value: str | None, default: int) -> int:
    try:
        lease = int(value) if value is not None else default
    except ValueError:
        lease = default
    return min(max(lease, 0), MAX_LEASE_S)


@router.post("/{source_id}", status_code=status.HTTP_202_ACCEPTED)
async def receive_push(source_id: int, request: Request, services: ServicesDep) -> Response:
    """Queue a hub's signed content for the collect stage; unsigned or badly signed content is dropped."""
    async with services.db.read() as session:
        source = await repository.get(session, source_id)
        if source is None:
            raise NotFound(f"websub: no source with id {source_id}")
        wanted = services.settings.websub_enabled and source.websub_state in WANTED
        secret = source.websub_secret if wanted else None
    if secret is None:
        # Nothing could accept this push: refuse before reading a byte of it (up to
        # NEWSTALK_FETCH_MAX_BYTES each, from anyone). 410 tells a hub to drop the subscription.
        metrics.WEBSUB_EVENTS.labels("unsubscribed").inc()
        return problem(
            410,
            "Gone",
            f"websub: source {source_id} has no active subscription; pushes are not accepted",
            slug="websub-unsubscribed",
        )

    cap = services.settings.fetch_max_bytes
    body = await _read_capped(request, cap)
    if body is None:
        metrics.WEBSUB_EVENTS.labels("too_large").inc()
        return problem(
            413,
            "Content too large",
            f"websub: push bodies are limited to {cap} bytes (NEWSTALK_FETCH_MAX_BYTES)",
            slug="too-large",
        )
    accepted = Response(status_code=status.HTTP_202_ACCEPTED)
    if not signature_valid(secret, body, request.headers.get("x-hub-signature")):
        metrics.WEBSUB_EVENTS.labels("rejected").inc()
        log.warning("websub: dropped a push for source %s: no valid X-Hub-Signature", source_id)
        return accepted

    now = utcnow()
    payload = {
        "source_id": source_id,
        "body_b64": base64.b64encode(body).decode("ascii"),
        "content_type": request.headers.get("content-type"),
    }
    # The key carries the source id: two sources may share a topic and so a body.
    key = f"push:{source_id}:{hashlib.sha256(body).hexdigest()}"
    async with services.db.unit() as uow:
        uow.emit(Event(topics.SOURCE_PUSH, key, payload, now))
        pushed = await repository.get(uow.session, source_id)
        if pushed is not None and pushed.websub_state == SUBSCRIBED:
            # The hub delivers: polling becomes a safety net (schedule.PUSH_SAFETY_FACTOR).
            pushed.last_push_at = now
            replan(pushed, services.settings, now=now)
            pushed.next_fetch_at = max(
                pushed.next_fetch_at,
                schedule.next_fetch_at(now, pushed.fetch_interval_s, floor_s=services.settings.poll_min_s),
            )
            pushed.updated_at = now
    metrics.WEBSUB_EVENTS.labels("push").inc()
    return accepted


async def _read_capped(request: Request, cap: int) -> bytes | None:
    """The request body, or None as soon as it exceeds ``cap`` bytes (Content-Length is only a hint)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            return None
    return bytes(body)


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Check ``X-Hub-Signature: <method>=<hex HMAC of the body>`` in constant time."""
    if not header:
        return False
    method, _, given = header.strip().partition("=")
    method = method.strip().lower()
    if method not in SIGNATURE_METHODS:
        return False
    expected = hmac.new(secret.encode(), body, method).hexdigest()
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("latin-1"))


async def renew_expiring(services: StageServices) -> int:
    """Queue a resubscribe for leases ending within a day and verifications overdue; returns how many."""
    if not services.settings.websub_enabled:
        return 0
    now = utcnow()
    due = and_(
        Source.status == ACTIVE,
        Source.websub_hub.is_not(None),
        Source.websub_topic.is_not(None),
        or_(
            and_(Source.websub_state == SUBSCRIBED, Source.websub_lease_until <= now + RENEW_BEFORE),
            and_(Source.websub_state == PENDING, Source.websub_lease_until <= now),
            # Pending without a deadline: note_hub asked, but no attempt has run since.
            and_(
                Source.websub_state == PENDING,
                Source.websub_lease_until.is_(None),
                Source.updated_at <= now - VERIFY_WITHIN,
            ),
        ),
    )
    async with services.db.unit() as uow:
        ids = (await uow.session.scalars(select(Source.id).where(due).order_by(Source.id))).all()
        for source_id in ids:
            uow.emit(websub_event(source_id, now))
    return len(ids)
