"""HTTP for questions about a story and the listener's saved threads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from newstalk.ask import repository, service
from newstalk.ask.models import AskThread, AskTurn
from newstalk.ask.schemas import (
    MAX_ID,
    AskIn,
    AskOut,
    Citation,
    ThreadDetail,
    ThreadPage,
    ThreadSummary,
    TurnOut,
)
from newstalk.deps import CurrentAccount, DbDep, ServicesDep
from newstalk.errors import InvalidInput
from newstalk.kit.api import decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["ask"])

StoryId = Annotated[int, Path(ge=1, le=MAX_ID)]
ThreadId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _turn_out(turn: AskTurn) -> TurnOut:
    return TurnOut(
        position=turn.position,
        question=turn.question,
        answer=turn.answer,
        language=turn.language,
        found=turn.found,
        mode="llm" if turn.mode == "llm" else "extractive",
        follow_up=turn.follow_up,
        context=list(turn.context),
        citations=[Citation.model_validate(c) for c in turn.citations],
        created_at=turn.created_at,
    )


def _summary(thread: AskThread) -> ThreadSummary:
    return ThreadSummary(
        id=thread.id,
        story_id=thread.story_id,
        title=thread.title,
        turn_count=thread.turn_count,
        created_at=thread.created_at,
        updated_at=thread.updated_at,
    )


@router.post("/stories/{story_id}/ask", response_model=AskOut)
async def ask(story_id: StoryId, body: AskIn, services: ServicesDep, principal: CurrentAccount) -> AskOut:
    """Ask about a story: an answer from its articles with cited sentences, saved to your thread.

    Follow-ups ("why?", "그 이유는?") read the thread's last five turns; "found": false means
    the coverage doesn't say.
    """
    thread, turn = await service.ask(services, principal.account_id, story_id, body.question, body.thread_id)
    return AskOut(thread_id=thread.id, story_id=thread.story_id, turn=_turn_out(turn))


@router.get("/ask/threads", response_model=ThreadPage)
async def list_threads(
    db: DbDep,
    principal: CurrentAccount,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ThreadPage:
    """Your question threads, most recently active first."""
    before: tuple[datetime, int] | None = None
    if cursor:
        at, thread_id = decode_cursor(cursor, 2)
        try:
            when = datetime.fromisoformat(str(at))
            if when.tzinfo is None or isinstance(thread_id, bool):
                raise ValueError(at)
            before = (when, int(thread_id))
        except (TypeError, ValueError, OverflowError):
            raise InvalidInput("api: cursor is not valid; pass the next_cursor of a previous page") from None
    async with db.reading() as session:
        rows = await repository.list_threads(session, principal.account_id, before=before, limit=limit + 1)
    items = [_summary(t) for t in rows[:limit]]
    next_cursor = (
        encode_cursor(rows[limit - 1].updated_at.isoformat(), rows[limit - 1].id)
        if len(rows) > limit
        else None
    )
    return ThreadPage(items=items, next_cursor=next_cursor)


@router.get("/ask/threads/{thread_id}", response_model=ThreadDetail)
async def get_thread(thread_id: ThreadId, db: DbDep, principal: CurrentAccount) -> ThreadDetail:
    """One of your threads with every turn and its citations."""
    async with db.reading() as session:
        thread, turns = await service.thread_detail(session, thread_id, principal.account_id)
    return ThreadDetail(**_summary(thread).model_dump(), turns=[_turn_out(t) for t in turns])


@router.delete("/ask/threads/{thread_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_thread(thread_id: ThreadId, db: DbDep, principal: CurrentAccount) -> Response:
    """Delete one of your threads and all its turns."""
    async with db.unit() as uow:
        await service.delete_thread(uow, thread_id, principal.account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
