"""Preferences and feedback: stored per listener, validated with errors that say what to fix."""

from __future__ import annotations

import httpx
import pytest

from newstalk.accounts.models import Role
from newstalk.config import Settings
from newstalk.kit.db import Database, utcnow
from newstalk.sources.models import Source
from newstalk.stories.models import MERGED, Story
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio


async def add_story(settings: Settings, *, merged_into: int | None = None) -> int:
    """A story row, as the stories stage would leave it."""
    db = Database.open(settings.async_database_url)
    try:
        async with db.unit() as uow:
            now = utcnow()
            story = Story(
                title="한국은행 기준금리 인상",
                first_seen_at=now,
                last_seen_at=now,
                created_at=now,
                updated_at=now,
                status=MERGED if merged_into else "open",
                merged_into_id=merged_into,
            )
            uow.session.add(story)
            await uow.session.flush()
            return story.id
    finally:
        await db.dispose()


async def add_source(settings: Settings, url: str) -> int:
    db = Database.open(settings.async_database_url)
    try:
        async with db.unit() as uow:
            now = utcnow()
            source = Source(
                feed_url=url,
                title=url,
                fetch_interval_s=900,
                next_fetch_at=now,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(source)
            await uow.session.flush()
            return source.id
    finally:
        await db.dispose()


async def test_preferences_round_trip(client: httpx.AsyncClient, settings: Settings) -> None:
    me = await make_account(settings, Role.listener)
    other = await make_account(settings, Role.listener)
    yonhap = await add_source(settings, "https://example.org/yonhap.xml")
    tabloid = await add_source(settings, "https://example.org/tabloid.xml")

    defaults = (await client.get("/api/v1/me/preferences", headers=me.headers)).json()
    assert defaults["playback_speed"] == 1.0
    assert defaults["keywords"] == []
    assert defaults["voice"] is None
    assert defaults["updated_at"] is None

    put = await client.put(
        "/api/v1/me/preferences",
        json={
            "categories": ["Economy", "tech"],
            "keywords": ["경제", " AI ", "ai"],
            "outlets": [yonhap],
            "languages": ["KO", "en"],
            "muted_topics": ["연예"],
            "muted_outlets": [tabloid],
            "voice": "storyteller",
            "playback_speed": 1.25,
        },
        headers=me.headers,
    )
    assert put.status_code == 200, put.text
    prefs = put.json()
    assert prefs["categories"] == ["economy", "tech"]
    assert prefs["keywords"] == ["경제", "AI"]  # trimmed, duplicates dropped regardless of case
    assert prefs["languages"] == ["ko", "en"]
    assert (prefs["outlets"], prefs["muted_outlets"]) == ([yonhap], [tabloid])

    patched = await client.patch("/api/v1/me/preferences", json={"playback_speed": 2.0}, headers=me.headers)
    assert patched.json()["playback_speed"] == 2.0
    assert patched.json()["voice"] == "storyteller"  # untouched by PATCH
    stored = (await client.get("/api/v1/me/preferences", headers=me.headers)).json()
    assert stored == patched.json()
    # Each listener sees only their own.
    assert (await client.get("/api/v1/me/preferences", headers=other.headers)).json()["keywords"] == []
    # PUT replaces: what is left out goes back to its default.
    replaced = await client.put("/api/v1/me/preferences", json={"keywords": ["반도체"]}, headers=me.headers)
    assert replaced.json()["voice"] is None
    assert replaced.json()["outlets"] == []
    assert (await client.get("/api/v1/me/preferences")).status_code == 401


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"playback_speed": 2.5}, "playback_speed: Input should be less than or equal to 2"),
        ({"playback_speed": 0.5}, "playback_speed: Input should be greater than or equal to 0.8"),
        ({"voice": "robot"}, "no voice 'robot'; use one of anchor"),
        ({"categories": ["finance"]}, "unknown categories 'finance'; use politics"),
        ({"languages": ["korean"]}, "languages.0"),
        ({"keywords": [""]}, "keywords.0"),
        ({"keywords": ["x" * 65]}, "keywords.0"),
        ({"outlets": [424242]}, "no sources [424242]"),
        ({"keywords": ["경제"], "muted_topics": ["경제"]}, "both followed and muted"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ],
)
async def test_bad_preferences_are_refused_clearly(
    client: httpx.AsyncClient, settings: Settings, change: dict[str, object], words: str
) -> None:
    me = await make_account(settings, Role.listener)
    resp = await client.patch("/api/v1/me/preferences", json=change, headers=me.headers)
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    assert words in resp.json()["detail"], resp.json()["detail"]
    assert (await client.get("/api/v1/me/preferences", headers=me.headers)).json()["updated_at"] is None


async def test_an_outlet_cannot_be_followed_and_muted(client: httpx.AsyncClient, settings: Settings) -> None:
    me = await make_account(settings, Role.listener)
    source = await add_source(settings, "https://example.org/a.xml")
    resp = await client.put(
        "/api/v1/me/preferences", json={"outlets": [source], "muted_outlets": [source]}, headers=me.headers
    )
    assert resp.status_code == 422
    assert f"outlets [{source}] are both followed and muted" in resp.json()["detail"]


async def test_feedback_events(client: httpx.AsyncClient, settings: Settings) -> None:
    me = await make_account(settings, Role.listener)
    other = await make_account(settings, Role.listener)
    story = await add_story(settings)
    merged = await add_story(settings, merged_into=story)

    events = [
        {"story_id": story, "event": "opened"},
        {"story_id": story, "event": "listened", "percent": 80},
        {"story_id": story, "event": "skipped"},
        {"story_id": story, "event": "liked"},
        {"story_id": story, "event": "disliked"},
        {"story_id": merged, "event": "shared"},
    ]
    for event in events:
        resp = await client.post("/api/v1/me/feedback", json=event, headers=me.headers)
        assert resp.status_code == 201, resp.text
    mine = (await client.get("/api/v1/me/feedback", headers=me.headers)).json()["items"]
    assert [e["event"] for e in mine] == ["shared", "disliked", "liked", "skipped", "listened", "opened"]
    assert mine[0]["story_id"] == story  # feedback on a merged story counts for the story it joined
    assert mine[4]["percent"] == 80
    page = (await client.get("/api/v1/me/feedback", params={"limit": 4}, headers=me.headers)).json()
    rest = await client.get("/api/v1/me/feedback", params={"cursor": page["next_cursor"]}, headers=me.headers)
    assert [e["id"] for e in page["items"] + rest.json()["items"]] == [e["id"] for e in mine]
    assert (await client.get("/api/v1/me/feedback", headers=other.headers)).json()["items"] == []

    bad = [
        ({"story_id": story, "event": "listened"}, 422, "listened event needs percent"),
        ({"story_id": story, "event": "liked", "percent": 10}, 422, "percent is only for listened"),
        ({"story_id": story, "event": "listened", "percent": 101}, 422, "percent"),
        ({"story_id": story, "event": "loved"}, 422, "event"),
        ({"story_id": 999999, "event": "opened"}, 404, "no story 999999"),
    ]
    for body, status, words in bad:
        resp = await client.post("/api/v1/me/feedback", json=body, headers=me.headers)
        assert resp.status_code == status, body
        assert words in resp.json()["detail"], resp.json()["detail"]
    anonymous = await client.post("/api/v1/me/feedback", json=events[0])
    assert anonymous.status_code == 401
