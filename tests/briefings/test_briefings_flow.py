"""Briefings and speech stages end to end: real feeds → stories → scripts → real synthesized audio."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import soundfile
from sqlalchemy import func, select

from newstalk.articles.models import Article
from newstalk.briefings.models import ScriptRecord
from newstalk.briefings.service import request_audio, write_daily_briefing
from newstalk.briefings.tasks import schedule_daily_briefings
from newstalk.config import Settings
from newstalk.factcheck.models import Claim
from newstalk.kit.bus import Event
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.kit.db import utcnow
from newstalk.pipeline.topics import STORY_CHECKED as CHECKED_TOPIC
from newstalk.pipeline.topics import STORY_UPDATED as UPDATED_TOPIC
from newstalk.runtime import Services
from newstalk.speech.models import PENDING, READY, SUPERSEDED, Audio
from newstalk.speech.service import audio_store
from newstalk.stories.models import Story, StoryArticle
from tests.conftest import make_settings
from tests.pipeline.test_ingest_flow import drain
from tests.stories.test_stories_flow import (
    QUAKE_DAILY,
    QUAKE_EN,
    QUAKE_EN_2,
    RATES_EN,
    item,
    newsroom,
    story_of,
)
from tests.support.feedserver import FeedServer
from tests.support.newsroom import Feeds, drain_stories, stage_worker, subscribe_and_collect

pytestmark = pytest.mark.anyio
__all__ = ["newsroom"]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        audio_dir=str(tmp_path / "audio"),
        briefings_debounce_s=0,
        briefings_factcheck_grace_s=0,
        # One script per story here; the short first edition has its own tests (test_short_first.py).
        briefings_short_first=False,
    )


async def pending(services: Services, stage: str) -> list[QueueJob]:
    async with services.db.read() as session:
        return list((await session.scalars(select(QueueJob).where(QueueJob.stage == stage))).all())


async def test_stories_get_scripts_and_audio_once(services: Services, newsroom: dict[str, int]) -> None:
    # story.updated → one debounced request per story → a script each → audio for each.
    await drain(stage_worker(services, "briefings"))  # requests
    await drain(stage_worker(services, "briefings"))  # scripts
    async with services.db.read() as session:
        scripts = (await session.scalars(select(ScriptRecord).order_by(ScriptRecord.id))).all()
        stories = (await session.scalars(select(Story).where(Story.article_count > 0))).all()
    assert {s.story_id for s in scripts} == {s.id for s in stories}
    quake = await story_of(services, QUAKE_EN[0])
    quake_script = next(s for s in scripts if s.story_id == quake)
    text = " ".join(line["text"] for line in quake_script.lines)
    # Four outlets; an English script names the three whose names an English voice can say.
    assert "Four outlets are covering this story, among them " in text
    assert all(name in text for name in ("Wire", "Daily", "Times"))
    assert "한국일보" not in text
    assert quake_script.lang == "en"
    assert quake_script.speakers == ["anchor"]

    assert len(await pending(services, "speech")) == len(scripts)
    await drain(stage_worker(services, "speech"))
    async with services.db.read() as session:
        audio = (await session.scalars(select(Audio))).all()
    assert len(audio) == len(scripts)
    store = audio_store(services)
    for a in audio:
        assert a.status == READY
        assert a.opus_key is not None
        assert a.mp3_key is not None
        assert store.size(a.opus_key) == a.opus_size
        data, rate = soundfile.read(store.path(a.opus_key))  # type: ignore[attr-defined]
        assert abs(len(data) / rate - (a.duration_s or 0)) < 0.1
        assert a.vtt is not None
        assert a.vtt.startswith("WEBVTT")
        assert a.chapters[0]["title"]
    # audio.ready left with the results (no stage consumes it yet, so it is not queued).

    # The same story updated again with nothing new to say: no new script, no new synthesis.
    async with services.db.unit() as uow:
        uow.emit(Event(UPDATED_TOPIC, "again", {"story_id": quake, "version": 99}, utcnow()))
    await drain(stage_worker(services, "briefings"))
    await drain(stage_worker(services, "briefings"))
    assert await drain(stage_worker(services, "speech")) == 0
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ScriptRecord)) == len(scripts)


async def test_a_burst_of_updates_is_one_request_and_verdicts_reach_the_script(
    services: Services, newsroom: dict[str, int]
) -> None:
    await drain(stage_worker(services, "briefings"))
    await drain(stage_worker(services, "briefings"))
    rates = await story_of(services, RATES_EN[0])
    slow = services.settings.model_copy(update={"briefings_debounce_s": 60.0})
    services.settings = slow
    async with services.db.unit() as uow:
        for version in range(5):
            uow.emit(Event(CHECKED_TOPIC, f"checked:{rates}:{version}", {"story_id": rates}, utcnow()))
    await drain(stage_worker(services, "briefings"))
    due = [j for j in await pending(services, "briefings") if j.topic == "briefing.due"]
    assert len(due) == 1
    assert due[0].available_at > utcnow() + timedelta(seconds=50)

    # The fact-checker's claims for the story: two outlets confirmed, one contradicted.
    async with services.db.read() as session:
        from newstalk.articles.models import Article
        from newstalk.stories.models import StoryArticle

        members = (
            await session.execute(
                select(Article.id, Article.source_id, Article.language)
                .join(StoryArticle, StoryArticle.article_id == Article.id)
                .where(StoryArticle.story_id == rates)
            )
        ).all()
    now = utcnow()
    async with services.db.unit() as uow:
        for i, (verdict, member) in enumerate(zip(["supported", "refuted"], members, strict=False)):
            uow.session.add(
                Claim(
                    article_id=member.id,
                    source_id=member.source_id,
                    story_id=rates,
                    text="The central bank raised its benchmark interest rate to 3.5 percent.",
                    start=0,
                    end=10 + i,
                    language=member.language,
                    score=0.9 - i / 10,
                    kinds=["number"],
                    verdict=verdict,
                    confidence=0.8,
                    final_verdict=verdict,
                    verifier="local",
                    checked_at=now,
                )
            )
        # Make the debounced request due now.
        job = await uow.session.get(QueueJob, due[0].id)
        assert job is not None
        job.available_at = now
    await drain(stage_worker(services, "briefings"))
    async with services.db.read() as session:
        newest = await session.scalar(
            select(ScriptRecord)
            .where(ScriptRecord.story_id == rates)
            .order_by(ScriptRecord.id.desc())
            .limit(1)
        )
    assert newest is not None
    text = " ".join(line["text"] for line in newest.lines)
    assert "One outlet confirms the figure; one reports a different number." in text


async def test_daily_briefing_for_subscribed_configurations(
    services: Services, newsroom: dict[str, int]
) -> None:
    from newstalk.briefings.models import PodcastSubscription

    async with services.db.unit() as uow:
        uow.session.add(
            PodcastSubscription(
                token_sha256="0" * 64,
                title="Morning",
                lang="en",
                form="conversation",
                speakers=["host", "reporter"],
                story_count=2,
                created_at=utcnow(),
            )
        )
    noon = utcnow().replace(hour=12)
    assert await schedule_daily_briefings(services, noon) == 1
    assert await schedule_daily_briefings(services, noon) == 1
    daily = [j for j in await pending(services, "briefings") if j.topic == "briefing.daily"]
    assert len(daily) == 1  # one pending request per configuration and day
    assert await schedule_daily_briefings(services, noon.replace(hour=1)) == 0  # before the hour
    await drain(stage_worker(services, "briefings"))
    async with services.db.read() as session:
        briefing = await session.scalar(select(ScriptRecord).where(ScriptRecord.kind == "briefing"))
    assert briefing is not None
    assert briefing.speakers == ["host", "reporter"]
    assert len(briefing.story_ids) == 2
    assert briefing.briefing_date == noon.date().isoformat()
    async with services.db.unit() as uow:
        again, _audio = await write_daily_briefing(
            uow,
            lang="en",
            form="conversation",
            speakers=["host", "reporter"],
            story_count=2,
            date=briefing.briefing_date,
            first_seen_at=utcnow(),
        )
    assert again.id == briefing.id  # same stories, same words: the same script


async def test_spoken_outlet_counts_are_distinct_outlets_not_articles(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    # Three articles on one event from two outlets: the Wire twice, the Daily once.
    base = feed_server.url("")
    feeds: Feeds = {
        "/wire.xml": (
            "Wire",
            [item(base, "wire", 1, QUAKE_EN, 0), item(base, "wire", 2, QUAKE_EN_2, 4)],
            "en",
        ),
        "/daily.xml": ("Daily", [item(base, "daily", 1, QUAKE_DAILY, 3)], "en"),
    }
    await subscribe_and_collect(client, services, feed_server, admin, feeds)
    await drain_stories(services)
    quake = await story_of(services, QUAKE_EN[0])
    assert await story_of(services, QUAKE_EN_2[0]) == await story_of(services, QUAKE_DAILY[0]) == quake
    async with services.db.unit() as uow:
        briefing, _audio = await write_daily_briefing(
            uow,
            lang="en",
            form="solo",
            speakers=["anchor"],
            story_count=1,
            date=utcnow().date().isoformat(),
            first_seen_at=utcnow(),
        )
    assert briefing.story_ids == [quake]
    spoken = " ".join(line["text"] for line in briefing.lines)
    assert "Two outlets are covering this story, Wire and Daily." in spoken
    assert "Three outlets" not in spoken


async def test_a_queued_older_story_script_is_superseded_not_synthesized(
    services: Services, newsroom: dict[str, int]
) -> None:
    # The first scripts are written and their audio queued, but speech has not run yet.
    await drain(stage_worker(services, "briefings"))
    await drain(stage_worker(services, "briefings"))
    rates = await story_of(services, RATES_EN[0])
    async with services.db.read() as session:
        first = await session.scalar(select(ScriptRecord).where(ScriptRecord.story_id == rates))
        assert first is not None
        member = (
            await session.execute(
                select(Article.id, Article.source_id, Article.language)
                .join(StoryArticle, StoryArticle.article_id == Article.id)
                .where(StoryArticle.story_id == rates)
                .limit(1)
            )
        ).one()
    # The story changes what it says (a checked claim) and gets a newer script.
    async with services.db.unit() as uow:
        uow.session.add(
            Claim(
                article_id=member.id,
                source_id=member.source_id,
                story_id=rates,
                text="The central bank raised its benchmark interest rate to 3.5 percent.",
                start=0,
                end=10,
                language=member.language,
                score=0.9,
                kinds=["number"],
                verdict="supported",
                confidence=0.8,
                final_verdict="supported",
                verifier="local",
                checked_at=utcnow(),
            )
        )
        uow.emit(Event(CHECKED_TOPIC, f"checked:{rates}:claim", {"story_id": rates}, utcnow()))
    await drain(stage_worker(services, "briefings"))
    await drain(stage_worker(services, "briefings"))
    async with services.db.read() as session:
        rates_scripts = (
            await session.scalars(
                select(ScriptRecord).where(ScriptRecord.story_id == rates).order_by(ScriptRecord.id)
            )
        ).all()
    assert rates_scripts[0].id == first.id
    assert len(rates_scripts) == 2
    newest = rates_scripts[-1]

    await drain(stage_worker(services, "speech"))
    async with services.db.read() as session:
        old_audio = await session.scalar(select(Audio).where(Audio.script_id == first.id))
        new_audio = await session.scalar(select(Audio).where(Audio.script_id == newest.id))
        others = (
            await session.scalars(select(Audio).where(Audio.script_id.not_in([first.id, newest.id])))
        ).all()
    assert old_audio is not None
    assert old_audio.status == SUPERSEDED
    assert old_audio.opus_key is None
    assert old_audio.synth_s is None
    assert new_audio is not None
    assert new_audio.status == READY
    # Other stories' audio (one script each) is synthesized as before.
    assert others
    assert all(a.status == READY for a in others)

    # Asking for the older script's audio again (e.g. from the API) queues it once more.
    async with services.db.unit() as uow:
        row = await uow.session.get(ScriptRecord, first.id)
        assert row is not None
        again = await request_audio(uow, row, utcnow())
        assert again.status == PENDING
    assert await drain(stage_worker(services, "speech")) == 1
    async with services.db.read() as session:
        redone = await session.get(Audio, old_audio.id)
    assert redone is not None
    assert redone.status == READY
