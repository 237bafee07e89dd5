"""HTTP for a listener's own data: /api/v1/me/preferences, /feedback and /positions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from newstalk.deps import CurrentAccount, DbDep
from newstalk.kit import metrics
from newstalk.kit.api import cached_json, decode_cursor, encode_cursor
from newstalk.listeners import repository, service
from newstalk.listeners.models import FeedbackEvent
from newstalk.listeners.schemas import (
    FeedbackIn,
    FeedbackOut,
    FeedbackPage,
    PositionIn,
    PositionOut,
    PreferencesIn,
    PreferencesOut,
)

router = APIRouter(prefix="/api/v1/me", tags=["listeners"])

AudioId = Annotated[str, Path(pattern="^[0-9a-f]{64}$")]


def _feedback_out(event: FeedbackEvent) -> FeedbackOut:
    return FeedbackOut(
        id=event.id,
        story_id=event.story_id,
        event=event.kind,
        percent=event.percent,
        created_at=event.created_at,
    )


@router.get("/preferences", response_model=PreferencesOut)
async def get_preferences(request: Request, db: DbDep, principal: CurrentAccount) -> Response:
    """Your interests, mutes, voice and playback speed (defaults until you set them).

    Cached for a few seconds for you alone (``Cache-Control: private``); any change you make
    through this server drops it at once.
    """
    owner = principal.account_id

    async def render() -> bytes:
        prefs = await service.get_preferences(await db.read(), owner)
        return prefs.model_dump_json().encode()

    return await cached_json(request, render, owner=owner)


@router.put("/preferences", response_model=PreferencesOut)
async def put_preferences(body: PreferencesIn, db: DbDep, principal: CurrentAccount) -> PreferencesOut:
    """Replace your preferences; fields left out go back to their defaults."""
    async with db.unit() as uow:
        return await service.update_preferences(uow, principal.account_id, body.model_dump())


@router.patch("/preferences", response_model=PreferencesOut)
async def patch_preferences(body: PreferencesIn, db: DbDep, principal: CurrentAccount) -> PreferencesOut:
    """Change only the fields you send."""
    async with db.unit() as uow:
        return await service.update_preferences(
            uow, principal.account_id, body.model_dump(exclude_unset=True)
        )


@router.post("/feedback", response_model=FeedbackOut, status_code=status.HTTP_201_CREATED)
async def post_feedback(body: FeedbackIn, db: DbDep, principal: CurrentAccount) -> FeedbackOut:
    """Record what you did with a story: opened, listened (percent), skipped, liked, disliked, shared."""
    async with db.unit() as uow:
        event = await service.record_feedback(uow, principal.account_id, body)
    metrics.FEEDBACK_EVENTS.labels(event.kind).inc()
    return _feedback_out(event)


@router.get("/feedback", response_model=FeedbackPage)
async def list_feedback(
    db: DbDep,
    principal: CurrentAccount,
    story_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> FeedbackPage:
    """Your feedback events, newest first."""
    before = int(decode_cursor(cursor, 1)[0]) if cursor else None
    async with db.reading() as session:
        rows = await repository.list_feedback(
            session, principal.account_id, story_id=story_id, before_id=before, limit=limit + 1
        )
    items = [_feedback_out(r) for r in rows[:limit]]
    return FeedbackPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


@router.get("/positions/{audio_id}", response_model=PositionOut)
async def get_position(audio_id: AudioId, db: DbDep, principal: CurrentAccount) -> PositionOut:
    """Where you stopped in an audio file (0 when never played), to resume on any device."""
    async with db.reading() as session:
        return await service.get_position(session, principal.account_id, audio_id)


@router.put("/positions/{audio_id}", response_model=PositionOut)
async def put_position(
    audio_id: AudioId, body: PositionIn, db: DbDep, principal: CurrentAccount
) -> PositionOut:
    """Remember where you stopped in an audio file."""
    async with db.unit() as uow:
        return await service.save_position(uow, principal.account_id, audio_id, body.position_s)
