"""Listening as a listener: voice with quotas, personal podcast feeds, feed validity, audio from S3."""

from __future__ import annotations

import os
import struct
import uuid
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import feedparser
import httpx
import pytest
from sqlalchemy import select

from newstalk.accounts.models import Role
from newstalk.briefings.models import ScriptRecord
from newstalk.briefings.tasks import schedule_daily_briefings
from newstalk.config import Settings
from newstalk.kit.db import utcnow
from newstalk.main import create_app
from newstalk.runtime import Services
from tests.conftest import make_settings
from tests.pipeline.test_ingest_flow import drain
from tests.speech.s3stub import S3Stub, s3_endpoint
from tests.stories.test_stories_flow import QUAKE_EN, newsroom, story_of
from tests.support.accounts import make_account
from tests.support.newsroom import stage_worker

pytestmark = pytest.mark.anyio
__all__ = ["newsroom", "s3_endpoint"]

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
TEXT = "Shares closed higher on Tuesday. The index gained 1.2% in late trading."


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        audio_dir=str(tmp_path / "audio"),
        briefings_debounce_s=0,
        briefings_factcheck_grace_s=0,
        briefings_story_audio=False,
        voice_daily_quota=3,
        podcast_owner_email="podcasts@example.org",
    )


async def test_listeners_may_ask_for_voice_within_their_quota(
    client: httpx.AsyncClient, settings: Settings, admin: dict[str, str]
) -> None:
    listener = (await make_account(settings, Role.listener)).headers
    first = await client.post("/api/v1/voice", json={"text": TEXT, "character": "host"}, headers=listener)
    assert first.status_code == 202
    # Asking again for the same audio is free: it is queued once and costs nothing more.
    for _ in range(3):
        again = await client.post("/api/v1/voice", json={"text": TEXT, "character": "host"}, headers=listener)
        assert again.status_code == 202
        assert again.json()["id"] == first.json()["id"]
    for i in range(2):
        ok = await client.post("/api/v1/voice", json={"text": f"Story {i} of the day."}, headers=listener)
        assert ok.status_code == 202
    over = await client.post("/api/v1/voice", json={"text": "One more, please."}, headers=listener)
    assert over.status_code == 429
    assert "daily quota of 3" in over.json()["detail"]
    # Nothing was queued for the refused request: asking with an admin queues it fresh.
    by_admin = await client.post("/api/v1/voice", json={"text": "One more, please."}, headers=admin)
    assert by_admin.status_code == 202
    for i in range(3):  # admins are not counted
        r = await client.post("/api/v1/voice", json={"text": f"Admin text {i}."}, headers=admin)
        assert r.status_code == 202

    too_long = await client.post("/api/v1/voice", json={"text": "x" * 2001}, headers=listener)
    assert too_long.status_code == 422
    assert "2000" in too_long.text


async def test_a_story_read_for_a_listener_is_in_their_voice_never_the_anchors(
    client: httpx.AsyncClient, services: Services, settings: Settings, newsroom: dict[str, int]
) -> None:
    story = await story_of(services, QUAKE_EN[0])
    plain = (await make_account(settings, Role.listener)).headers
    first = await client.post("/api/v1/voice", json={"story_id": story}, headers=plain)
    assert first.status_code == 202
    anchor = first.json()
    assert (anchor["characters"], anchor["voice_source"], anchor["playback_speed"]) == (
        ["anchor"],
        "default",
        1.0,
    )
    assert await drain(stage_worker(services, "speech")) == 1
    assert (await client.get(anchor["status_url"])).json()["status"] == "ready"

    # The anchor's recording of this story exists; a listener who prefers the reporter still
    # gets the reporter: queued (202), not the anchor's file.
    fan = (await make_account(settings, Role.listener)).headers
    prefs = {"voice": "reporter", "playback_speed": 1.25}
    assert (await client.put("/api/v1/me/preferences", json=prefs, headers=fan)).status_code == 200
    theirs = await client.post("/api/v1/voice", json={"story_id": story}, headers=fan)
    assert theirs.status_code == 202
    mine = theirs.json()
    assert mine["id"] != anchor["id"]
    assert (mine["status"], mine["characters"], mine["voice_source"]) == (
        "pending",
        ["reporter"],
        "preference",
    )
    assert mine["playback_speed"] == 1.25  # a hint for the player; the recording is at the voice's own rate
    # A character in the request wins over the preference.
    asked = await client.post("/api/v1/voice", json={"story_id": story, "character": "anchor"}, headers=fan)
    assert asked.status_code == 200
    assert (asked.json()["id"], asked.json()["voice_source"]) == (anchor["id"], "request")


async def test_voice_has_a_per_route_rate_limit(client: httpx.AsyncClient, settings: Settings) -> None:
    listener = (await make_account(settings, Role.listener)).headers
    codes = [
        (await client.post("/api/v1/voice", json={"text": TEXT}, headers=listener)).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [202] * 10
    assert codes[10] == 429


async def test_openapi_has_one_operation_id_per_audio_route(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    ids = [
        op["operationId"] for path in spec["paths"].values() for op in path.values() if "operationId" in op
    ]
    assert len(ids) == len(set(ids))
    audio = spec["paths"]["/api/v1/audio/{audio_id}.{fmt}"]
    assert audio["get"]["operationId"] == "get_audio_file"
    assert audio["head"]["operationId"] == "head_audio_file"


def _png_size(data: bytes) -> tuple[int, int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, colour


async def test_personal_podcast_briefing_follows_the_listener(
    client: httpx.AsyncClient, services: Services, settings: Settings, newsroom: dict[str, int]
) -> None:
    listener = (await make_account(settings, Role.listener)).headers
    prefs = {"voice": "narrator", "languages": ["en"], "muted_topics": ["earthquake"]}
    assert (await client.put("/api/v1/me/preferences", json=prefs, headers=listener)).status_code == 200
    created = await client.post("/api/v1/podcasts", json={"story_count": 3}, headers=listener)
    assert created.status_code == 201
    assert created.json()["personal"] is True
    path = created.json()["feed_url"].removeprefix(settings.public_url)
    other = (await make_account(settings, Role.listener)).headers
    assert (await client.get("/api/v1/podcasts", headers=other)).json() == []  # not theirs
    assert (await client.delete(f"/api/v1/podcasts/{created.json()['id']}", headers=other)).status_code == 404
    refused = await client.post("/api/v1/podcasts", json={"personal": False}, headers=other)
    assert refused.status_code == 403

    noon = utcnow().replace(hour=12)
    assert await schedule_daily_briefings(services, noon) == 1
    await drain(stage_worker(services, "briefings"))
    assert await schedule_daily_briefings(services, noon) == 0  # written for today
    async with services.db.read() as session:
        briefing = await session.scalar(select(ScriptRecord).where(ScriptRecord.kind == "briefing"))
    assert briefing is not None
    assert briefing.speakers == ["narrator"]  # the listener's voice, not the feed's default anchor
    assert briefing.lang == "en"
    assert briefing.story_ids  # the English stories that are left
    spoken = " ".join(x["text"] for x in briefing.lines).lower()
    assert "earthquake" not in spoken  # muted
    # GET /me/briefings lists it for the web player before it is spoken, without a file yet.
    mine = await client.get("/api/v1/me/briefings", headers=listener)
    assert mine.status_code == 200
    (listed,) = mine.json()["items"]
    assert (listed["id"], listed["podcast_id"]) == (briefing.id, created.json()["id"])
    assert listed["story_ids"] == briefing.story_ids
    assert listed["audio"] is None or listed["audio"]["url"] is None
    assert (await client.get("/api/v1/me/briefings", headers=other)).json()["items"] == []
    assert await drain(stage_worker(services, "speech")) == 1
    (listed,) = (await client.get("/api/v1/me/briefings?format=mp3", headers=listener)).json()["items"]
    assert listed["audio"]["status"] == "ready"
    assert listed["audio"]["url"] == f"/api/v1/audio/{listed['audio']['id']}.mp3"
    assert (await client.get(listed["audio"]["url"], headers=listener)).status_code == 200

    feed = await client.get(path)
    items = ET.fromstring(feed.content).findall("channel/item")
    assert len(items) == 1

    # A second listener whose briefing reads the same gets their own episode of the same file.
    second = (await make_account(settings, Role.listener)).headers
    assert (await client.put("/api/v1/me/preferences", json=prefs, headers=second)).status_code == 200
    theirs = await client.post("/api/v1/podcasts", json={"story_count": 3}, headers=second)
    assert await schedule_daily_briefings(services, noon) == 1
    await drain(stage_worker(services, "briefings"))
    assert await drain(stage_worker(services, "speech")) == 0  # never synthesized twice
    their_feed = await client.get(theirs.json()["feed_url"].removeprefix(settings.public_url))
    their_items = ET.fromstring(their_feed.content).findall("channel/item")
    assert [i.findtext("guid") for i in their_items] == [i.findtext("guid") for i in items]
    # Each lists their own briefing of the one shared file.
    (theirs_listed,) = (await client.get("/api/v1/me/briefings", headers=second)).json()["items"]
    assert theirs_listed["id"] != listed["id"]
    assert theirs_listed["audio"]["id"] == listed["audio"]["id"]


async def test_briefings_list_pages_and_refuses_what_it_cannot_answer(
    client: httpx.AsyncClient, services: Services, settings: Settings
) -> None:
    listener = await make_account(settings, Role.listener)
    created = await client.post("/api/v1/podcasts", json={"story_count": 3}, headers=listener.headers)
    podcast_id = created.json()["id"]
    async with services.db.unit() as uow:
        for day in range(1, 4):
            uow.session.add(
                ScriptRecord(
                    content_hash=uuid.uuid4().hex,
                    kind="briefing",
                    lang="en",
                    form="solo",
                    speakers=["anchor"],
                    title=f"Daily briefing 2026-12-0{day}",
                    lines=[{"speaker": "anchor", "text": f"Good morning, day {day}.", "chapter": "Intro"}],
                    story_ids=[],
                    briefing_key=f"podcast:{podcast_id}",
                    briefing_date=f"2026-12-0{day}",
                    word_count=4,
                    estimated_s=2.0,
                    created_at=utcnow(),
                )
            )
    first = (await client.get("/api/v1/me/briefings?limit=2", headers=listener.headers)).json()
    assert [b["date"] for b in first["items"]] == ["2026-12-03", "2026-12-02"]
    rest = await client.get(
        "/api/v1/me/briefings", params={"limit": 2, "cursor": first["next_cursor"]}, headers=listener.headers
    )
    assert [b["date"] for b in rest.json()["items"]] == ["2026-12-01"]
    assert rest.json()["next_cursor"] is None
    # Revoking the feed hides its URL, not what was written for the listener.
    assert (
        await client.delete(f"/api/v1/podcasts/{podcast_id}", headers=listener.headers)
    ).status_code == 204
    assert len((await client.get("/api/v1/me/briefings", headers=listener.headers)).json()["items"]) == 3
    for bad in ("not-a-cursor", "WyJ4Il0", "WzBd"):  # garbage, ["x"], [0]
        answer = await client.get("/api/v1/me/briefings", params={"cursor": bad}, headers=listener.headers)
        assert answer.status_code == 422, bad
        assert "cursor" in answer.json()["detail"]
    assert (await client.get("/api/v1/me/briefings?limit=51", headers=listener.headers)).status_code == 422
    assert (await client.get("/api/v1/me/briefings")).status_code == 401
    # The development admin token is no listener: it has no briefings of its own.
    admin = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    assert (await client.get("/api/v1/me/briefings", headers=admin)).status_code == 403


async def test_feed_has_what_podcast_directories_require(
    client: httpx.AsyncClient, services: Services, admin: dict[str, str], newsroom: dict[str, int]
) -> None:
    created = await client.post("/api/v1/podcasts", json={"story_count": 1}, headers=admin)
    assert created.json()["personal"] is False  # an admin's feed is shared by default
    path = created.json()["feed_url"].removeprefix(services.settings.public_url)
    assert await schedule_daily_briefings(services, utcnow().replace(hour=12)) == 1
    await drain(stage_worker(services, "briefings"))
    await drain(stage_worker(services, "speech"))
    body = (await client.get(path)).content

    channel = ET.fromstring(body).find("channel")
    assert channel is not None
    image = channel.find(f"{ITUNES}image")
    assert image is not None
    art_url = image.get("href", "")
    assert art_url == f"{services.settings.public_url}/podcasts/artwork.png"
    art = await client.get(art_url.removeprefix(services.settings.public_url))
    assert art.headers["content-type"] == "image/png"
    width, height, colour = _png_size(art.content)
    assert width == height >= 1400
    assert colour == 2  # RGB
    assert len(art.content) < 200 * 1024
    assert channel.findtext("language") == "en"
    assert channel.findtext(f"{ITUNES}explicit") == "false"
    category = channel.find(f"{ITUNES}category")
    assert category is not None
    assert category.get("text") == "News"
    assert channel.findtext(f"{ITUNES}owner/{ITUNES}email") == "podcasts@example.org"

    parsed: Any = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert parsed.feed.language == "en"
    assert parsed.feed.image.href == art_url
    # Apple's current values are true/false; feedparser 6 only maps the older yes/clean.
    assert parsed.feed.itunes_explicit is not True
    assert parsed.feed.author_detail.email == "podcasts@example.org"
    assert parsed.feed.tags[0].term == "News"
    assert len(parsed.entries) == 1
    entry = parsed.entries[0]
    assert entry.guidislink is False
    assert entry.id.startswith("newstalk:audio:")
    assert entry.published_parsed is not None  # RFC 2822 date that feedparser understood
    enclosure = entry.enclosures[0]
    assert enclosure.type == "audio/mpeg"
    assert int(enclosure.length) > 0
    audio = await client.head(enclosure.href.removeprefix(services.settings.public_url))
    assert int(audio.headers["content-length"]) == int(enclosure.length)


async def test_audio_served_from_a_bucket_with_ranges_or_redirected_to_the_cdn(
    s3_endpoint: str, database_url: str, tmp_path: Path
) -> None:
    s3 = {
        "audio_store": "s3",
        "audio_s3_bucket": "news",
        "audio_s3_endpoint_url": s3_endpoint,
        "audio_s3_region": "eu-test-1",
        "audio_s3_access_key_id": "stub-key",
        "audio_s3_secret_access_key": "stub-secret",
    }
    settings = make_settings(database_url, **s3)
    admin = (await make_account(settings, Role.admin)).headers
    services = Services.build(settings)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
            job = (await client.post("/api/v1/voice", json={"text": TEXT}, headers=admin)).json()
            assert await drain(stage_worker(services, "speech")) == 1
            done = (await client.get(job["status_url"])).json()
            stored = {path for path in S3Stub.objects if path.startswith("/news/audio/")}
            assert len(stored) == 2  # opus and mp3 went to the bucket, nothing to the local folder
            full = await client.get(done["url"])
            assert full.status_code == 200
            opus = next(data for p, (data, _type) in S3Stub.objects.items() if p.endswith(".opus"))
            assert full.content == opus
            part = await client.get(done["url"], headers={"Range": "bytes=10-19"})
            assert part.status_code == 206
            assert part.content == opus[10:20]
            method, _path, asked = S3Stub.requests[-1]
            assert (method, asked) == ("GET", "bytes=10-19")  # the range went to the bucket
            await client.aclose()
    finally:
        await services.aclose()

    cdn = make_settings(database_url, **s3, audio_public_base_url="https://cdn.example.org/audio")
    app = create_app(cdn)
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        before = len(S3Stub.requests)
        moved = await client.get(done["url"])
        assert moved.status_code == 302
        key = moved.headers["location"].rsplit("/", 1)[1]
        assert moved.headers["location"] == f"https://cdn.example.org/audio/{key}"
        assert f"/news/audio/{key}" in S3Stub.objects
        assert (await client.head(done["url"])).status_code == 302
        assert len(S3Stub.requests) == before  # the API carried no audio bytes
        await client.aclose()


async def test_the_daily_quota_is_shared_by_api_processes_through_redis(database_url: str) -> None:
    import redis

    url = os.environ.get("NEWSTALK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no Redis at {url} (set NEWSTALK_TEST_REDIS_URL)")
    prefix = f"newstalk-test-voice-{uuid.uuid4().hex}:"
    settings = make_settings(database_url, redis_url=url, redis_prefix=prefix, voice_daily_quota=2)
    listener = (await make_account(settings, Role.listener)).headers
    apps = [create_app(settings), create_app(settings)]  # two API processes, one Redis
    try:
        async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
            clients = [
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
                for app in apps
            ]
            codes = [
                (
                    await clients[i % 2].post("/api/v1/voice", json={"text": f"Text {i}."}, headers=listener)
                ).status_code
                for i in range(3)
            ]
            assert codes == [202, 202, 429]
            for client in clients:
                await client.aclose()
    finally:
        client = redis.Redis.from_url(url)
        assert any(client.scan_iter(match=f"{prefix}*voice-quota*"))  # the bucket lived in Redis
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()
