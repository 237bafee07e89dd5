"""A listener's briefing stories (feed, preferences over trending) and LLM rewrites in the stage."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from newstalk.accounts.models import Role
from newstalk.briefings import selection
from newstalk.briefings.models import ScriptRecord
from newstalk.briefings.service import REWRITER
from newstalk.config import Settings
from newstalk.kit.db import utcnow
from newstalk.listeners.models import Preferences
from newstalk.runtime import Services
from newstalk.stories.models import Story
from tests.conftest import make_settings
from tests.pipeline.test_ingest_flow import drain
from tests.stories.test_stories_flow import newsroom
from tests.support.accounts import make_account
from tests.support.newsroom import stage_worker
from tests.support.openai_stub import OpenAIStub, Reply, chat_answer, serve

pytestmark = pytest.mark.anyio
__all__ = ["newsroom"]

_LINE = re.compile(r"^\d+\. \[(\w+)\] (.*)$")


@pytest.fixture
def llm() -> Iterator[OpenAIStub]:
    yield from serve()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, llm: OpenAIStub) -> Settings:
    return make_settings(
        database_url,
        audio_dir=str(tmp_path / "audio"),
        briefings_debounce_s=0,
        briefings_factcheck_grace_s=0,
        briefings_story_audio=False,
        llm_url=llm.url,
        llm_model="stub-model",
        llm_max_retries=0,
    )


async def story_ids_by_title(services: Services) -> dict[str, int]:
    async with services.db.read() as session:
        rows = (await session.execute(select(Story.title, Story.id).where(Story.article_count > 0))).all()
    return {row.title: row.id for row in rows}


async def prefer(services: Services, user_id: int, **values: Any) -> None:
    async with services.db.unit() as uow:
        uow.session.add(Preferences(user_id=user_id, updated_at=utcnow(), **values))


async def test_preferences_reorder_and_filter_trending(
    services: Services, settings: Settings, newsroom: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    titles = await story_ids_by_title(services)
    quake = [sid for t, sid in titles.items() if "quake" in t.lower()]
    football = next(sid for t, sid in titles.items() if "penalty" in t.lower())
    listener = await make_account(settings, Role.listener)
    await prefer(services, listener.id, keywords=["penalty"], muted_topics=["earthquake", "quake"])
    async with services.db.read() as session:
        ranked = await selection.preferred_trending(session, listener.id, "en", 10)
        plain = await selection.preferred_trending(
            session, (await make_account(settings, Role.listener)).id, "en", 10
        )
    assert ranked[0] == football  # a followed keyword comes first
    assert not set(quake) & set(ranked)  # muted
    assert set(ranked) < set(plain)  # a listener without preferences gets plain trending

    async def broken(*_args: Any, **_kwargs: Any) -> list[Any]:
        raise RuntimeError("feed index unavailable")

    monkeypatch.setattr(selection, "rank_for_listener", broken)
    async with services.db.read() as session:
        choice = await selection.stories_for_listener(session, listener.id, "en", 2)
    assert choice.story_ids == ranked[:2]  # the feed failed: preferences over trending
    assert choice.sources == ["preferences"] * len(choice.story_ids)


async def test_the_personal_feed_comes_first(
    services: Services, settings: Settings, newsroom: dict[str, int]
) -> None:
    titles = await story_ids_by_title(services)
    quake = {sid for t, sid in titles.items() if "quake" in t.lower()}
    listener = await make_account(settings, Role.listener)
    await prefer(services, listener.id, muted_topics=["earthquake", "quake"], languages=["en"])
    async with services.db.read() as session:
        feed = await selection.rank_for_listener(session, listener.id, 10)
        choice = await selection.stories_for_listener(session, listener.id, "en", 3)
    english_feed = [i.story_id for i in feed if "en" in i.languages]
    assert english_feed  # the feed ranks these stories for the listener
    n = min(3, len(english_feed))
    assert choice.story_ids[:n] == english_feed[:n]
    assert choice.sources[:n] == ["feed"] * n
    assert not quake & set(choice.story_ids)
    assert len(choice.story_ids) == len(set(choice.story_ids)) <= 3


async def test_the_stage_rewrites_scripts_once_outside_its_transaction(
    services: Services, llm: OpenAIStub, newsroom: dict[str, int]
) -> None:
    def respond(_path: str, body: dict[str, Any]) -> Reply:
        user = body["messages"][-1]["content"]
        lines = [m.group(2) for line in user.splitlines() if (m := _LINE.match(line))]
        return Reply(200, chat_answer(json.dumps({"lines": ["Here is the story. " + lines[0], *lines[1:]]})))

    llm.respond = respond
    await drain(stage_worker(services, "briefings"))  # requests
    await drain(stage_worker(services, "briefings"))  # scripts
    async with services.db.read() as session:
        scripts = (await session.scalars(select(ScriptRecord).where(ScriptRecord.kind == "story"))).all()
    assert scripts
    rewritten = [s for s in scripts if s.lines[0]["text"].startswith("Here is the story.")]
    assert len(rewritten) == len(scripts)
    asked = len(llm.requests)
    assert asked == len(scripts)  # one request per script

    # The same story asked for again: same template, answered from the cache, no new script.
    for sid in {s.story_id for s in scripts if s.story_id is not None}:
        async with services.db.unit() as uow:
            from newstalk.briefings.service import due_event

            uow.emit(due_event(sid, utcnow(), 0, "again"))
    await drain(stage_worker(services, "briefings"))
    assert len(llm.requests) == asked
    async with services.db.read() as session:
        again = (await session.scalars(select(ScriptRecord).where(ScriptRecord.kind == "story"))).all()
    assert len(again) == len(scripts)

    # The model down: the template is written, and nothing fails.
    llm.stop()
    async with services.db.unit() as uow:
        from newstalk.briefings.service import due_event

        for sid in {s.story_id for s in scripts if s.story_id is not None}:
            uow.emit(due_event(sid, utcnow(), 0, "down"))
    services.resources.pop(REWRITER)  # a fresh process: an empty cache
    await drain(stage_worker(services, "briefings"))
    async with services.db.read() as session:
        latest = (await session.scalars(select(ScriptRecord).where(ScriptRecord.kind == "story"))).all()
    templates = [s for s in latest if not s.lines[0]["text"].startswith("Here is the story.")]
    assert len(templates) == len(scripts)
