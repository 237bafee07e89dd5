"""Live updates end to end in one process: pipeline events → the live stage → the event log →
SSE streams read by a real HTTP client from a real server; filters, resume, reset, pruning."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from newstalk.accounts.models import Role
from newstalk.briefings.models import STORY, TEXT, ScriptRecord
from newstalk.config import Settings
from newstalk.delivery import live
from newstalk.delivery.live_models import LiveEvent
from newstalk.kit.bus import Event
from newstalk.kit.db import utcnow
from newstalk.pipeline.topics import AUDIO_READY as AUDIO_TOPIC
from newstalk.pipeline.topics import STORY_CHECKED as CHECKED_TOPIC
from newstalk.runtime import Services
from newstalk.speech.models import READY, Audio
from tests.conftest import make_settings
from tests.delivery.live_helpers import (
    SSE_ACCEPT,
    SSEReader,
    emit,
    make_source,
    make_story,
    run_stage,
    serve,
    story_updated,
)
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(database_url: str) -> Settings:
    # No log tail: what arrives live here came through the broadcaster.
    return make_settings(database_url, live_poll_s=0, live_heartbeat_s=0.3)


async def _audio_for(services: Services, story_id: int | None, kind: str = STORY) -> str:
    now = utcnow()
    audio_id = uuid.uuid4().hex * 2
    async with services.db.unit() as uow:
        script = ScriptRecord(
            content_hash=uuid.uuid4().hex * 2,
            kind=kind,
            story_id=story_id,
            story_version=1 if story_id else None,
            lang="en",
            form="solo",
            speakers=["anchor"],
            title="t",
            lines=[],
            story_ids=[story_id] if story_id else [],
            word_count=10,
            estimated_s=4.0,
            created_at=now,
        )
        uow.session.add(script)
        await uow.session.flush()
        uow.session.add(
            Audio(
                id=audio_id,
                script_id=script.id,
                status=READY,
                lang="en",
                speakers=["anchor"],
                engine_version="v",
                duration_s=4.2,
                created_at=now,
                ready_at=now,
            )
        )
    return audio_id


def _audio_ready(audio_id: str) -> Event:
    return Event(
        AUDIO_TOPIC,
        f"audio.ready:{audio_id}",
        {"audio_id": audio_id, "script_id": 0, "duration_s": 4.2},
        utcnow(),
    )


def _checked(story_id: int, version: int = 1) -> Event:
    return Event(
        CHECKED_TOPIC,
        f"checked:{story_id}:{version}",
        {"story_id": story_id, "version": version, "claims": 3, "verdicts": {"supported": 2, "refuted": 1}},
        utcnow(),
    )


async def _log_ids(services: Services) -> list[int]:
    async with services.db.read() as session:
        return list((await session.scalars(select(LiveEvent.id).order_by(LiveEvent.id))).all())


async def test_story_check_and_audio_events_reach_an_open_stream(settings: Settings) -> None:
    async with serve(settings) as (base, app), httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http:
        svc: Services = app.state.services
        outlet = await make_source(svc, "Daily")
        story_id = await make_story(svc, "Rates rise", keywords=["rates"], source_ids=[outlet])
        audio_id = await _audio_for(svc, story_id)
        async with http.stream("GET", f"{base}/api/v1/stream") as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            assert resp.headers["cache-control"] == "no-cache"
            reader = SSEReader(resp)
            await reader.ready()
            await emit(svc, story_updated(story_id), _checked(story_id), _audio_ready(audio_id))
            assert await run_stage(svc, "live") == 3
            updated, checked, audio = [await reader.next() for _ in range(3)]
        logged = await _log_ids(svc)

    assert [updated.event, checked.event, audio.event] == ["story.updated", "story.checked", "audio.ready"]
    ids = [int(e.id or 0) for e in (updated, checked, audio)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert ids == logged
    assert updated.data["id"] == ids[0]
    assert updated.data["type"] == "story.updated"
    assert updated.data["new"] is True
    assert updated.data["story"] == {
        **updated.data["story"],
        "id": story_id,
        "title": "Rates rise",
        "category": "economy",
        "languages": ["en"],
        "url": f"/api/v1/stories/{story_id}",
    }
    assert checked.data["check"] == {
        "version": 1,
        "claims": 3,
        "verdicts": {"supported": 2, "refuted": 1},
        "url": f"/api/v1/stories/{story_id}/factcheck",
    }
    assert audio.data["audio"]["id"] == audio_id
    assert audio.data["audio"]["url"] == f"/api/v1/audio/{audio_id}.opus"
    assert audio.data["story"]["id"] == story_id


async def test_redelivered_jobs_and_private_audio_write_nothing(services: Services) -> None:
    story_id = await make_story(services, "Once")
    await emit(services, story_updated(story_id))
    await run_stage(services, "live")
    await emit(services, story_updated(story_id))  # the same event again (a redelivery)
    await run_stage(services, "live")
    assert len(await _log_ids(services)) == 1

    # Audio of someone's own text (POST /api/v1/voice) is theirs: never broadcast.
    text_audio = await _audio_for(services, None, kind=TEXT)
    await emit(services, _audio_ready(text_audio))
    assert await run_stage(services, "live") == 1
    assert len(await _log_ids(services)) == 1

    # An older version of a story that already moved on is not announced (its newer one is).
    newer = await make_story(services, "Moved on", version=3)
    await emit(services, story_updated(newer, 2), story_updated(newer, 3))
    await run_stage(services, "live")
    async with services.db.read() as session:
        rows = (await session.scalars(select(LiveEvent).where(LiveEvent.story_id == newer))).all()
    assert [r.payload["story"]["version"] for r in rows] == [3]


async def test_listener_preferences_and_query_filters(settings: Settings) -> None:
    listener = await make_account(settings, Role.listener, "live-listener@example.org")
    async with serve(settings) as (base, app), httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http:
        svc: Services = app.state.services
        s1, s2 = await make_source(svc, "One"), await make_source(svc, "Two")
        prefs = {
            "categories": ["tech"],
            "keywords": ["반도체"],
            "languages": ["ko"],
            "muted_topics": ["축구"],
            "muted_outlets": [s2],
        }
        resp = await http.put(f"{base}/api/v1/me/preferences", json=prefs, headers=listener.headers)
        assert resp.status_code == 200, resp.text
        stories = {
            "tech-ko": await make_story(
                svc, "AI 칩 공개", category="tech", languages=["ko"], source_ids=[s1]
            ),
            "chips-title": await make_story(svc, "반도체 수출 급증", languages=["ko"], source_ids=[s1]),
            "tech-en": await make_story(svc, "New phone", category="tech", languages=["en"], source_ids=[s1]),
            "muted-outlet": await make_story(
                svc, "로봇 공개", category="tech", languages=["ko"], source_ids=[s2]
            ),
            "economy-ko": await make_story(svc, "환율 상승", languages=["ko"], source_ids=[s1, s2]),
            "muted-topic": await make_story(
                svc, "AI 심판", category="tech", languages=["ko"], keywords=["축구"], source_ids=[s1]
            ),
            "marker": await make_story(svc, "반도체 마지막", languages=["ko"], source_ids=[s1, s2]),
        }
        names = {v: k for k, v in stories.items()}
        async with (
            http.stream("GET", f"{base}/api/v1/stream", headers=listener.headers) as mine,
            http.stream("GET", f"{base}/api/v1/stream?category=economy&lang=ko") as anon,
        ):
            readers = SSEReader(mine), SSEReader(anon)
            for r in readers:
                await r.ready()
            await emit(svc, *(story_updated(sid) for sid in stories.values()))
            await run_stage(svc, "live")
            got: list[list[str]] = []
            for r in readers:
                seen: list[str] = []
                while not seen or seen[-1] != "marker":
                    seen.append(names[(await r.next()).data["story"]["id"]])
                got.append(seen)
    assert got[0] == ["tech-ko", "chips-title", "marker"]
    assert got[1] == ["chips-title", "economy-ko", "marker"]


async def test_resume_with_last_event_id_and_heartbeats_that_move_it(settings: Settings) -> None:
    async with serve(settings) as (base, app), httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http:
        svc: Services = app.state.services
        story_ids = [await make_story(svc, f"Story {i}") for i in range(3)]
        await emit(svc, *(story_updated(s) for s in story_ids))
        await run_stage(svc, "live")
        first, second, third = await _log_ids(svc)

        # Header and query parameter both resume after the given id.
        for kwargs in ({"headers": {"Last-Event-ID": str(first)}}, {"params": {"last_event_id": first}}):
            async with http.stream("GET", f"{base}/api/v1/stream", **kwargs) as resp:  # type: ignore[arg-type]
                reader = SSEReader(resp)
                assert [int((await reader.next()).id or 0) for _ in range(2)] == [second, third]

        async with http.stream("GET", f"{base}/api/v1/stream", headers={"Last-Event-ID": str(third)}) as resp:
            reader = SSEReader(resp)
            await reader.ready()
            later = await make_story(svc, "Later")
            await emit(svc, story_updated(later))
            await run_stage(svc, "live")
            event = await reader.next()
            assert event.data["story"]["id"] == later
            assert int(event.id or 0) > third

        # A filtered stream skips events, but its heartbeats carry the id it got to (with no
        # data: no event fires), so a reconnect does not replay what it already skipped.
        async with http.stream("GET", f"{base}/api/v1/stream?category=tech") as resp:
            reader = SSEReader(resp)
            await reader.ready()
            other = await make_story(svc, "Not tech")
            await emit(svc, story_updated(other))
            await run_stage(svc, "live")
            newest = (await _log_ids(svc))[-1]
            tech = await make_story(svc, "Tech", category="tech")
            await emit(svc, story_updated(tech))
            await asyncio.sleep(1.0)  # a few heartbeats pass before the tech story
            await run_stage(svc, "live")
            event = await reader.next()
            assert event.data["story"]["id"] == tech
            assert str(newest) in reader.ids_without_event
            assert "keep-alive" in reader.comments

        bad = await http.get(f"{base}/api/v1/stream", headers={"Last-Event-ID": "abc"})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        # A client that would wait for the body's end (Accept: */*) is told, not left hanging.
        plain = await http.get(f"{base}/api/v1/stream", headers={"Accept": "*/*"})
        assert plain.status_code == 406
        assert "text/event-stream" in plain.json()["detail"]


async def test_reset_when_missed_events_are_gone_or_too_many(database_url: str) -> None:
    settings = make_settings(database_url, live_poll_s=0, live_heartbeat_s=0.3, live_replay_max=2)
    async with serve(settings) as (base, app), httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http:
        svc: Services = app.state.services

        async def first_event(**kwargs: object) -> tuple[str | None, dict[str, object], str | None]:
            async with http.stream("GET", f"{base}/api/v1/stream", **kwargs) as resp:  # type: ignore[arg-type]
                event = await SSEReader(resp).next()
                return event.event, event.data, event.id

        story_ids = [await make_story(svc, f"S{i}") for i in range(4)]
        await emit(svc, *(story_updated(s) for s in story_ids))
        await run_stage(svc, "live")
        ids = await _log_ids(svc)

        # More missed than the replay bound: reset to the newest id.
        name, data, event_id = await first_event(headers={"Last-Event-ID": str(ids[0])})
        assert name == "reset"
        assert event_id == str(ids[-1])
        assert data["last_event_id"] == ids[-1]
        assert "more than 2" in str(data["reason"])
        # Within the bound: replayed.
        name, data, _ = await first_event(headers={"Last-Event-ID": str(ids[1])})
        assert name == "story.updated"
        assert data["id"] == ids[2]
        # An id this log never had (another database): reset.
        name, data, _ = await first_event(params={"last_event_id": ids[-1] + 100})
        assert name == "reset"

        # Pruned past retention: everything older than 24 h goes except the newest row.
        async with svc.db.unit() as uow:
            await uow.session.execute(update(LiveEvent).values(created_at=utcnow() - timedelta(hours=25)))
        assert await live.prune(svc) == 3
        assert await _log_ids(svc) == [ids[-1]]
        name, data, _ = await first_event(headers={"Last-Event-ID": str(ids[1])})
        assert name == "reset"
        assert "pruned" in str(data["reason"])
        # Up to date with the one remaining event: nothing to replay, no reset.
        async with http.stream(
            "GET", f"{base}/api/v1/stream", headers={"Last-Event-ID": str(ids[-1])}
        ) as resp:
            reader = SSEReader(resp)
            await reader.ready()
            s = await make_story(svc, "after prune")
            await emit(svc, story_updated(s))
            await run_stage(svc, "live")
            assert (await reader.next()).event == "story.updated"


async def test_row_cap_prunes_oldest(database_url: str) -> None:
    settings = make_settings(database_url, live_log_max_rows=100)
    svc = Services.build(settings)
    try:
        story_ids = [await make_story(svc, f"S{i}") for i in range(105)]
        await emit(svc, *(story_updated(s) for s in story_ids))
        await run_stage(svc, "live")
        before = await _log_ids(svc)
        assert len(before) == 105
        assert await live.prune(svc) == 5
        after = await _log_ids(svc)
        assert after == before[5:]
        async with svc.db.read() as session:
            assert await session.scalar(select(func.count()).select_from(LiveEvent)) == 100
    finally:
        await svc.aclose()


async def test_server_stop_ends_open_streams(settings: Settings) -> None:
    async with (
        serve(settings) as (base, app),
        httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http,
        http.stream("GET", f"{base}/api/v1/stream") as resp,
    ):
        reader = SSEReader(resp)
        await reader.ready()
        assert len(app.state.live.subscriptions) == 1
        app.state.live.request_stop()  # what SIGTERM calls (cli.py); the process test sends a real one
        await reader.expect_end(wait_s=5)


async def test_open_streams_are_capped_per_caller(database_url: str) -> None:
    capped = make_settings(database_url, live_poll_s=0, live_heartbeat_s=0.3, live_max_streams_per_caller=1)
    async with serve(capped) as (base, app), httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http:
        account = await make_account(capped, Role.listener)
        async with http.stream("GET", f"{base}/api/v1/stream") as first:
            assert first.status_code == 200
            await SSEReader(first).ready()
            second = await http.get(f"{base}/api/v1/stream")
            assert second.status_code == 429
            assert "already open" in second.json()["detail"]
            # Another caller (a signed-in listener) still gets a stream.
            async with http.stream("GET", f"{base}/api/v1/stream", headers=account.headers) as theirs:
                assert theirs.status_code == 200
                await SSEReader(theirs).ready()
        hub: live.LiveHub = app.state.live
        for _ in range(50):  # the closed streams leave the hub once their generators finish
            if not hub.subscriptions:
                break
            await asyncio.sleep(0.05)
        assert hub.subscriptions == set()
        assert not hub.owners
        async with http.stream("GET", f"{base}/api/v1/stream") as again:
            assert again.status_code == 200
