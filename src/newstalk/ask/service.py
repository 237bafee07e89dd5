"""Questions about a story: gather its articles, answer, and save the turn to the listener's thread."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.ask import repository
from newstalk.ask.answer import CONTEXT_TURNS, Answer, Answerer, PastTurn
from newstalk.ask.models import AskThread, AskTurn
from newstalk.ask.schemas import MAX_QUESTION_CHARS
from newstalk.errors import Conflict, InvalidInput, NotFound
from newstalk.factcheck import repository as factcheck_repository
from newstalk.factcheck.checker import Document
from newstalk.factcheck.service import engine_for, pick_pool
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.kit.resources import ResourceKey
from newstalk.providers.llm import build_chat_client
from newstalk.stories.models import MERGED, Story

if TYPE_CHECKING:
    from newstalk.pipeline.context import StageServices

ANSWERER: ResourceKey[Answerer] = ResourceKey("ask")
POOL_ARTICLES = 24  # articles read per story, spread over outlets
TEXT_CHARS = 12_000  # characters read per article (offsets stay valid: a prefix)


async def answerer_for(services: StageServices) -> Answerer:
    """This process's answerer, sharing the fact-checker's sentence, token and embedding caches."""

    async def build() -> Answerer:
        engine = await engine_for(services)
        return Answerer(engine.checker, build_chat_client(services.settings))

    return await services.resources.aget_or_build(ANSWERER, build)


def _past(turn: AskTurn) -> PastTurn:
    cited = tuple((c.get("article_id"), int(c["start"]), int(c["end"])) for c in turn.citations)
    return PastTurn(turn.position, turn.question, turn.answer, cited)


def _citation(doc: Document, start: int, end: int, quote: str) -> dict[str, object]:
    return {
        "article_id": doc.article_id,
        "outlet": doc.outlet,
        "url": doc.url,
        "language": doc.language,
        "quote": quote,
        "start": start,
        "end": end,
    }


async def _story_documents(session: AsyncSession, story_id: int) -> list[Document]:
    story = await session.get(Story, story_id)
    if story is None:
        raise NotFound(f"ask: no story {story_id}")
    if story.status == MERGED and story.merged_into_id is not None:
        # A merged story's articles now belong to the story it went into.
        story_id = story.merged_into_id
    members = await factcheck_repository.story_members(session, story_id)
    return await factcheck_repository.documents(session, pick_pool(members, POOL_ARTICLES), TEXT_CHARS)


async def ask(
    services: StageServices, user_id: int, story_id: int, question: str, thread_id: int | None
) -> tuple[AskThread, AskTurn]:
    """Answer a question about a story from its articles and save it as the thread's next turn."""
    question = " ".join(question.split())
    if not question:
        raise InvalidInput("ask: the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(
            f"ask: the question has {len(question)} characters; the limit is {MAX_QUESTION_CHARS}"
        )
    history: list[PastTurn] = []
    async with services.db.read() as session:
        if thread_id is not None:
            thread = await repository.get_thread(session, thread_id, user_id)
            if thread is None:
                raise NotFound(f"ask: you have no thread {thread_id}")
            if thread.story_id != story_id:
                raise InvalidInput(
                    f"ask: thread {thread_id} is about story {thread.story_id}, not {story_id}; "
                    "leave thread_id out to start a new thread"
                )
            history = [_past(t) for t in await repository.recent_turns(session, thread_id, CONTEXT_TURNS)]
        docs = await _story_documents(session, story_id)
    answerer = await answerer_for(services)
    answer = await asyncio.to_thread(answerer.answer, question, docs, history)
    async with services.db.unit() as uow:
        return await _save(uow, user_id, story_id, thread_id, question, answer)


async def _save(
    uow: UnitOfWork, user_id: int, story_id: int, thread_id: int | None, question: str, answer: Answer
) -> tuple[AskThread, AskTurn]:
    now = utcnow()
    if thread_id is None:
        thread = AskThread(
            user_id=user_id,
            story_id=story_id,
            title=question[:200],
            turn_count=0,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(thread)
        await uow.session.flush()
    else:
        found = await repository.get_thread(uow.session, thread_id, user_id)
        if found is None:
            raise NotFound(f"ask: you have no thread {thread_id} (deleted while answering)")
        thread = found
    turn = AskTurn(
        thread_id=thread.id,
        position=thread.turn_count + 1,
        question=question,
        answer=answer.text,
        language=answer.language,
        found=answer.found,
        mode=answer.mode,
        follow_up=answer.follow_up,
        context=answer.context,
        citations=[_citation(p.doc, p.start, p.end, p.quote) for p in answer.citations],
        created_at=now,
    )
    thread.turn_count = turn.position
    thread.updated_at = now
    uow.session.add(turn)
    try:
        await uow.session.flush()
    except IntegrityError:
        raise Conflict(
            f"ask: another question on thread {thread.id} was saved at the same moment; ask again"
        ) from None
    return thread, turn


async def thread_detail(
    session: AsyncSession, thread_id: int, user_id: int
) -> tuple[AskThread, list[AskTurn]]:
    """A listener's thread with every turn; another listener's thread is NotFound."""
    thread = await repository.get_thread(session, thread_id, user_id)
    if thread is None:
        raise NotFound(f"ask: you have no thread {thread_id}")
    return thread, await repository.turns(session, thread_id)


async def delete_thread(uow: UnitOfWork, thread_id: int, user_id: int) -> None:
    """Delete a listener's thread and its turns."""
    if not await repository.delete_thread(uow.session, thread_id, user_id):
        raise NotFound(f"ask: you have no thread {thread_id}")
