"""Short first: a story version's audio is a short first edition at once, the full script later.

Real feeds, real stories, real synthesis (piper), the embedded queue on the test database.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import soundfile
from sqlalchemy import select, update

from newstalk.articles.models import Article
from newstalk.briefings.models import ScriptRecord
from newstalk.briefings.scripts import FIRST_MAX_S
from newstalk.config import Settings
from newstalk.delivery.live_models import LiveEvent
from newstalk.factcheck.models import Claim
from newstalk.kit.bus import Event
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.kit.db import utcnow
from newstalk.pipeline.topics import STORY_CHECKED
from newstalk.runtime import Services
from newstalk.speech import render
from newstalk.speech.models import READY, SUPERSEDED, Audio
from newstalk.speech.service import ASKED, audio_store
from newstalk.stories.models import Story, StoryArticle
from tests.briefings.test_briefings_flow import pending
from tests.conftest import make_settings
from tests.pipeline.test_ingest_flow import drain
from tests.stories.test_stories_flow import QUAKE_EN, newsroom, story_of
from tests.support.newsroom import stage_worker

pytestmark = pytest.mark.anyio
__all__ = ["newsroom"]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Short first as shipped; the full audio's delay is an hour here, so that no drain on a
    # loaded machine outlasts it (make_full_audio_due ends it when the test says so).
    return make_settings(
        database_url,
        audio_dir=str(tmp_path / "audio"),
        briefings_debounce_s=0,
        briefings_factcheck_grace_s=0,
        briefings_full_audio_delay_s=3600,
    )


async def scripts_of(services: Services, story_id: int) -> list[ScriptRecord]:
    async with services.db.read() as session:
        rows = await session.scalars(
            select(ScriptRecord).where(ScriptRecord.story_id == story_id).order_by(ScriptRecord.id)
        )
        return list(rows.all())


async def audio_of(services: Services, script_id: int) -> Audio:
    async with services.db.read() as session:
        audio = await session.scalar(select(Audio).where(Audio.script_id == script_id))
    assert audio is not None
    return audio


async def announced_versions(services: Services, story_id: int) -> list[tuple[str, int]]:
    """(edition, story version) of each ``audio.ready`` the live stage announced for the story, in order."""
    await drain(stage_worker(services, "live"))
    async with services.db.read() as session:
        rows = await session.scalars(
            select(LiveEvent)
            .where(LiveEvent.story_id == story_id, LiveEvent.type == "audio.ready")
            .order_by(LiveEvent.id)
        )
        return [(str(r.payload["audio"]["edition"]), int(r.payload["story"]["version"])) for r in rows]


async def announced_editions(services: Services, story_id: int) -> list[str]:
    """The ``audio.edition`` of each ``audio.ready`` the live stage announced for the story, in order."""
    return [edition for edition, _version in await announced_versions(services, story_id)]


async def make_full_audio_due(services: Services) -> None:
    async with services.db.unit() as uow:
        await uow.session.execute(
            update(QueueJob)
            .where(QueueJob.stage == "speech")
            .values(available_at=utcnow() - timedelta(seconds=1))
        )


async def first_editions_heard(services: Services) -> tuple[int, ScriptRecord, ScriptRecord]:
    """The newsroom scripted and its first editions synthesized: the quake story, its full
    script and its first edition."""
    await drain(stage_worker(services, "briefings"))
    await drain(stage_worker(services, "briefings"))
    quake = await story_of(services, QUAKE_EN[0])
    full, first = await scripts_of(services, quake)
    await drain(stage_worker(services, "speech"))  # the first editions
    return quake, full, first


async def test_the_first_edition_is_heard_first_and_the_full_script_follows(
    services: Services, newsroom: dict[str, int]
) -> None:
    assert services.settings.briefings_short_first
    await drain(stage_worker(services, "briefings"))
    await drain(stage_worker(services, "briefings"))
    quake = await story_of(services, QUAKE_EN[0])  # four outlets: more to say than 25 s
    scripts = await scripts_of(services, quake)
    full, first = scripts  # the full script is stored first, then its first edition
    assert full.story_version == first.story_version
    assert first.estimated_s <= FIRST_MAX_S < full.estimated_s
    # The first edition opens the same way: headline, then the summary.
    assert first.lines[0] == full.lines[0]
    assert first.lines[1]["text"].split(". ")[0] == full.lines[1]["text"].split(". ")[0]

    # Its audio is due now; the full script's waits briefings_full_audio_delay_s.
    jobs = {str(j.payload["audio_id"]): j for j in await pending(services, "speech")}
    first_job = jobs[(await audio_of(services, first.id)).id]
    full_job = jobs[(await audio_of(services, full.id)).id]
    assert first_job.available_at <= utcnow()
    assert full_job.available_at > utcnow() + timedelta(seconds=3000)
    # Once due, it still waits for the first editions queued meanwhile (claimed by priority).
    assert full_job.priority < first_job.priority

    # Speech now synthesizes the first editions only: real, short, playable in full.
    await drain(stage_worker(services, "speech"))
    first_audio, full_audio = await audio_of(services, first.id), await audio_of(services, full.id)
    assert first_audio.status == READY
    assert full_audio.status != READY
    assert first_audio.duration_s is not None
    assert 3 < first_audio.duration_s < FIRST_MAX_S + 10
    assert first_audio.opus_key is not None
    data, rate = soundfile.read(audio_store(services).path(first_audio.opus_key))  # type: ignore[attr-defined]
    assert abs(len(data) / rate - first_audio.duration_s) < 0.1
    assert float(abs(data).max()) > 0.1  # speech, not silence

    # The full script follows; the first edition's sentences come from the sentence cache.
    hits = render.SENTENCES.hits
    await make_full_audio_due(services)
    await drain(stage_worker(services, "speech"))
    full_audio = await audio_of(services, full.id)
    assert full_audio.status == READY
    assert full_audio.duration_s is not None
    assert full_audio.duration_s > first_audio.duration_s + 10
    assert render.SENTENCES.hits >= hits + 2
    # The app is told which is which: the first edition, then the full script.
    assert await announced_editions(services, quake) == ["first", "full"]


async def test_a_new_version_within_the_delay_skips_the_older_full_script(
    services: Services, newsroom: dict[str, int]
) -> None:
    quake, old_full, old_first = await first_editions_heard(services)
    assert (await audio_of(services, old_first.id)).status == READY

    # A checked claim changes what the story says before the full script's turn comes.
    async with services.db.read() as session:
        member = (
            await session.execute(
                select(Article.id, Article.source_id, Article.language)
                .join(StoryArticle, StoryArticle.article_id == Article.id)
                .where(StoryArticle.story_id == quake)
                .limit(1)
            )
        ).one()
    async with services.db.unit() as uow:
        uow.session.add(
            Claim(
                article_id=member.id,
                source_id=member.source_id,
                story_id=quake,
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
        uow.emit(Event(STORY_CHECKED, f"checked:{quake}:claim", {"story_id": quake}, utcnow()))
    await drain(stage_worker(services, "briefings"))
    await drain(stage_worker(services, "briefings"))
    new_full, new_first = (await scripts_of(services, quake))[2:]
    assert new_first.lines != old_first.lines

    # The older full script was never synthesized; the new first edition is, at once.
    assert (await audio_of(services, old_full.id)).status == SUPERSEDED
    await drain(stage_worker(services, "speech"))
    assert (await audio_of(services, new_first.id)).status == READY
    assert (await audio_of(services, old_full.id)).synth_s is None
    assert (await audio_of(services, old_first.id)).status == READY  # heard already: kept
    await make_full_audio_due(services)
    await drain(stage_worker(services, "speech"))
    assert (await audio_of(services, new_full.id)).status == READY
    assert (await audio_of(services, old_full.id)).status == SUPERSEDED


async def test_a_version_that_says_the_same_is_announced_with_the_audio_already_made(
    services: Services, newsroom: dict[str, int]
) -> None:
    quake, full, first = await first_editions_heard(services)
    first_audio = await audio_of(services, first.id)
    assert first_audio.status == READY
    version = first.story_version
    assert version is not None
    assert await announced_versions(services, quake) == [("first", version)]

    # A new version whose words are the same (say, one more article that changed neither
    # headline nor summary): its listeners are told at once that its audio is ready.
    async with services.db.unit() as uow:
        await uow.session.execute(update(Story).where(Story.id == quake).values(version=version + 1))
        uow.emit(Event(STORY_CHECKED, f"checked:{quake}:same", {"story_id": quake}, utcnow()))
    await drain(stage_worker(services, "briefings"))
    await drain(stage_worker(services, "briefings"))
    assert [s.id for s in await scripts_of(services, quake)] == [full.id, first.id]  # nothing new written
    assert not [j for j in await pending(services, "speech") if j.payload["audio_id"] == first_audio.id]
    assert await announced_versions(services, quake) == [("first", version), ("first", version + 1)]
    assert (await audio_of(services, first.id)).synth_s == first_audio.synth_s  # not synthesized again

    # The full script, still queued, speaks for the newer version too once it is made.
    await make_full_audio_due(services)
    await drain(stage_worker(services, "speech"))
    assert (await announced_versions(services, quake))[-1] == ("full", version + 1)


async def test_a_listener_asking_for_a_held_full_script_gets_it_now(
    services: Services, newsroom: dict[str, int], client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """The full script waits behind its first edition (an hour here); a listener who presses play
    on the story does not: the same job comes forward, ahead of the pipeline's own."""
    quake, full, _first = await first_editions_heard(services)
    full_audio = await audio_of(services, full.id)
    [held] = [j for j in await pending(services, "speech") if j.payload["audio_id"] == full_audio.id]
    assert held.available_at > utcnow() + timedelta(seconds=3000)

    body = {"story_id": quake, "character": services.settings.briefings_voice}
    asked = await client.post("/api/v1/voice", json=body, headers=admin)
    assert asked.status_code == 202
    assert asked.json()["id"] == full_audio.id  # the pipeline's own audio, not a second one
    jobs = [j for j in await pending(services, "speech") if j.payload["audio_id"] == full_audio.id]
    assert [(j.id, j.priority) for j in jobs] == [(held.id, ASKED)]
    assert jobs[0].available_at <= utcnow()

    await drain(stage_worker(services, "speech"))
    assert (await audio_of(services, full.id)).status == READY
    assert (await client.get(f"/api/v1/voice/{full_audio.id}")).json()["status"] == "ready"
