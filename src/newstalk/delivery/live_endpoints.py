"""HTTP for live updates: the SSE stream and listeners' webhooks with their delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import Field

from newstalk.delivery import live, webhooks
from newstalk.delivery import live_repository as repo
from newstalk.delivery.live_models import WebhookDelivery
from newstalk.delivery.live_schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryPage,
    EventType,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
    WebhookRotated,
)
from newstalk.deps import CurrentAccount, DbDep, OptionalPrincipal, ServicesDep
from newstalk.errors import InvalidInput, NewsTalkError, RateLimited, Unavailable
from newstalk.kit.api import decode_cursor, encode_cursor
from newstalk.listeners import service as listeners
from newstalk.listeners.schemas import MAX_ID

router = APIRouter(prefix="/api/v1", tags=["live"])

WebhookId = Annotated[int, Path(ge=1, le=MAX_ID)]
Terms = Annotated[list[str], Query(max_length=20)]
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
SSE_TYPE = "text/event-stream"


class NotAcceptable(NewsTalkError):
    status_code = 406
    title = "Not acceptable"
    slug = "not-acceptable"


def _event_id(header: str | None, query: int | None) -> int | None:
    if query is not None:
        return query
    if header is None or not header.strip():
        return None
    value = header.strip()
    if not value.isdigit() or len(value) > 19 or int(value) > MAX_ID:
        raise InvalidInput(f"live: Last-Event-ID {value[:40]!r} is not an event id from this stream")
    return int(value)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events (docs/live.md)"}
    },
)
async def stream(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    principal: OptionalPrincipal,
    type: Annotated[list[EventType], Query(max_length=3, description="Event types; default all")] = [],  # noqa: B006
    category: Annotated[list[str], Query(max_length=20, description="Story categories")] = [],  # noqa: B006
    lang: Annotated[list[str], Query(max_length=10, description="Languages, e.g. ko, en")] = [],  # noqa: B006
    keyword: Annotated[list[str], Query(max_length=20, description="Words in keywords or title")] = [],  # noqa: B006
    story: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ID)]],
        Query(
            max_length=20,
            description="Story ids: only these stories' events, and always them "
            "(a listener's preferences do not apply to a story named here)",
        ),
    ] = [],  # noqa: B006
    last_event_id: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Or the Last-Event-ID header")
    ] = None,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", include_in_schema=False)
    ] = None,
) -> StreamingResponse:
    """Live events: new and updated stories (for a listener: those matching their preferences,
    or the stories named by ``story``), fact-check results and story audio. Resume with Last-Event-ID; see docs/live.md.

    The request must accept text/event-stream (EventSource does): a client that waits for
    the end of the body, as plain HTTP libraries do, would otherwise wait forever."""
    if SSE_TYPE not in request.headers.get("accept", ""):
        raise NotAcceptable(f"live: this stream never ends; send 'Accept: {SSE_TYPE}' (EventSource does)")
    for term in (*category, *lang, *keyword):
        if not 0 < len(term) <= 64:
            raise InvalidInput("live: filter values must be 1-64 characters")
    preferences = None
    if principal is not None and principal.user_id is not None:
        async with db.reading() as session:
            preferences = await listeners.get_preferences(session, principal.user_id)
    flt = live.StreamFilter.build(
        types=type,
        categories=category,
        languages=lang,
        keywords=keyword,
        stories=story,
        preferences=preferences,
    )
    resume = _event_id(last_event_id_header, last_event_id)
    hub: live.LiveHub = request.app.state.live
    if principal is not None and principal.user_id is not None:
        owner = f"user:{principal.user_id}"
    else:
        owner = f"ip:{request.client.host if request.client else 'unknown'}"
    if len(hub.subscriptions) >= services.settings.live_max_streams:
        raise Unavailable(hub.refusal(owner) or "live: too many open streams")
    refused = hub.refusal(owner)
    if refused is not None:
        raise RateLimited(refused)
    # The stream never ends: give the request's session (authentication, preferences) back now,
    # not when the stream closes, so open streams hold no database connections.
    await db.close()
    return StreamingResponse(
        live.stream(hub, flt, resume, owner), media_type="text/event-stream", headers=_SSE_HEADERS
    )


def _delivery_out(d: WebhookDelivery, attempts: list[AttemptOut]) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        delivery_id=d.uuid,
        event_type=d.event_type,
        event_id=d.event_id,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_error=d.last_error,
        created_at=d.created_at,
        completed_at=d.completed_at,
        attempt_log=attempts,
    )


@router.get("/webhooks", response_model=list[WebhookOut], tags=["webhooks"])
async def list_webhooks(db: DbDep, principal: CurrentAccount) -> list[WebhookOut]:
    """Your webhooks (never their secrets)."""
    async with db.reading() as session:
        rows = await repo.list_webhooks(session, principal.account_id)
    return [WebhookOut.model_validate(r) for r in rows]


@router.post(
    "/webhooks", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED, tags=["webhooks"]
)
async def create_webhook(
    body: WebhookIn, services: ServicesDep, db: DbDep, principal: CurrentAccount
) -> WebhookCreated:
    """Register a URL for signed event POSTs; the signing secret is in this answer only."""
    async with db.unit() as uow:
        hook, secret = await webhooks.create_webhook(uow, services.settings, principal.account_id, body)
    return WebhookCreated(**WebhookOut.model_validate(hook).model_dump(), secret=secret)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, tags=["webhooks"])
async def get_webhook(webhook_id: WebhookId, db: DbDep, principal: CurrentAccount) -> WebhookOut:
    async with db.reading() as session:
        hook = await webhooks.get_webhook(session, principal.account_id, webhook_id)
    return WebhookOut.model_validate(hook)


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut, tags=["webhooks"])
async def update_webhook(
    webhook_id: WebhookId, body: WebhookPatch, services: ServicesDep, db: DbDep, principal: CurrentAccount
) -> WebhookOut:
    """Change the URL, filter or description; ``{"active": true}`` re-enables a disabled webhook."""
    async with db.unit() as uow:
        hook = await webhooks.update_webhook(
            uow, services.settings, principal.account_id, webhook_id, body.model_dump(exclude_unset=True)
        )
    return WebhookOut.model_validate(hook)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["webhooks"])
async def delete_webhook(webhook_id: WebhookId, db: DbDep, principal: CurrentAccount) -> Response:
    """Delete a webhook and its delivery log; queued deliveries are dropped."""
    async with db.unit() as uow:
        await webhooks.delete_webhook(uow, principal.account_id, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhooks/{webhook_id}/test",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    tags=["webhooks"],
)
async def test_webhook(webhook_id: WebhookId, db: DbDep, principal: CurrentAccount) -> DeliveryOut:
    """Queue a signed ``ping``; watch it at GET /api/v1/webhooks/{id}/deliveries."""
    async with db.unit() as uow:
        delivery = await webhooks.send_ping(uow, principal.account_id, webhook_id)
    return _delivery_out(delivery, [])


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=WebhookRotated, tags=["webhooks"])
async def rotate_secret(webhook_id: WebhookId, db: DbDep, principal: CurrentAccount) -> WebhookRotated:
    """Replace the signing secret; the new one is in this answer only. For 24 hours deliveries
    carry a signature with each secret (``v1=<new>,v1=<old>``), then only the new one."""
    async with db.unit() as uow:
        hook, secret = await webhooks.rotate_secret(uow, principal.account_id, webhook_id)
    return WebhookRotated(**WebhookOut.model_validate(hook).model_dump(), secret=secret)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage, tags=["webhooks"])
async def list_deliveries(
    webhook_id: WebhookId,
    db: DbDep,
    principal: CurrentAccount,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryPage:
    """Deliveries newest first, each with every attempt: status code, latency, error, next retry."""
    before = decode_cursor(cursor, 1)[0] if cursor else None
    if before is not None and not isinstance(before, int):
        raise InvalidInput("api: cursor is not valid; pass the next_cursor of a previous page")
    async with db.reading() as session:
        await webhooks.get_webhook(session, principal.account_id, webhook_id)
        rows = await repo.list_deliveries(session, webhook_id, before_id=before, limit=limit + 1)
        attempts = await repo.attempts_of(session, [r.id for r in rows[:limit]])
    items = [
        _delivery_out(r, [AttemptOut.model_validate(a) for a in attempts.get(r.id, [])]) for r in rows[:limit]
    ]
    return DeliveryPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)
