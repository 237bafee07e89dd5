"""Listening over HTTP: voice requests, audio files with Range/ETag, transcripts, private podcast feeds."""

from __future__ import annotations

import io
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
import soundfile

from newstalk.briefings.tasks import schedule_daily_briefings
from newstalk.config import Settings
from newstalk.kit.db import utcnow
from newstalk.runtime import Services
from tests.conftest import make_settings
from tests.pipeline.test_ingest_flow import drain
from tests.stories.test_stories_flow import newsroom
from tests.support.newsroom import stage_worker

pytestmark = pytest.mark.anyio
__all__ = ["newsroom"]

TEXT = "Shares closed higher on Tuesday. The index gained 1.2% in late trading."
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, audio_dir=str(tmp_path / "audio"), briefings_debounce_s=0, briefings_factcheck_grace_s=0
    )


async def test_voice_then_audio_with_ranges_etags_and_transcript(
    client: httpx.AsyncClient, services: Services, admin: dict[str, str]
) -> None:
    body = {"text": TEXT, "character": "reporter"}
    first = await client.post("/api/v1/voice", json=body, headers=admin)
    assert first.status_code == 202
    job = first.json()
    assert job["status"] == "pending"
    assert first.headers["location"] == job["status_url"] == f"/api/v1/voice/{job['id']}?format=opus"
    assert (job["format"], job["media_type"], job["voice_source"]) == ("opus", "audio/ogg", "request")
    assert (await client.get(f"/api/v1/audio/{job['id']}.opus")).status_code == 404
    assert await drain(stage_worker(services, "speech")) == 1

    done = (await client.get(job["status_url"])).json()
    assert done["status"] == "ready"
    assert done["url"] == f"/api/v1/audio/{job['id']}.opus"
    # Same text, same voice: the same file at once, and nothing is synthesized again.
    again = await client.post("/api/v1/voice", json=body, headers=admin)
    assert again.status_code == 200
    assert again.json()["id"] == job["id"]
    assert await drain(stage_worker(services, "speech")) == 0

    full = await client.get(done["url"])
    assert full.status_code == 200
    assert full.headers["content-type"] == "audio/ogg"
    assert full.headers["cache-control"] == "public, max-age=2592000, immutable"
    assert full.headers["accept-ranges"] == "bytes"
    size = len(full.content)
    assert int(full.headers["content-length"]) == size == done["size"]
    pcm, rate = soundfile.read(io.BytesIO(full.content))
    assert abs(len(pcm) / rate - done["duration_s"]) < 0.1
    etag = full.headers["etag"]

    head = await client.head(done["url"])
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == size

    part = await client.get(done["url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == full.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{size}"
    tail = await client.get(done["url"], headers={"Range": "bytes=-50"})
    assert tail.status_code == 206
    assert tail.content == full.content[-50:]
    beyond = await client.get(done["url"], headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    multi = await client.get(done["url"], headers={"Range": "bytes=0-9,20-29"})
    assert multi.status_code == 200  # several ranges: the whole file
    assert multi.content == full.content
    stale = await client.get(done["url"], headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200

    cached = await client.get(done["url"], headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.headers["etag"] == etag

    mp3 = await client.get(f"/api/v1/audio/{job['id']}.mp3")
    assert mp3.status_code == 200
    assert mp3.headers["content-type"] == "audio/mpeg"
    assert mp3.headers["etag"] != etag

    vtt = await client.get(done["transcript_url"])
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    assert "The index gained 1.2% in late trading." in vtt.text  # as written; spoken as words
    chapters = (await client.get(done["chapters_url"])).json()
    assert chapters["chapters"][0]["startTime"] == 0

    assert (await client.post("/api/v1/voice", json=body)).status_code == 401
    bad = await client.post("/api/v1/voice", json={"character": "anchor"}, headers=admin)
    assert bad.status_code == 422
    assert (await client.get("/api/v1/audio/" + "0" * 64 + ".opus")).status_code == 404


async def test_the_requested_format_comes_back_when_queued_and_when_ready(
    client: httpx.AsyncClient, services: Services, admin: dict[str, str]
) -> None:
    body = {"text": "Rates were left unchanged on Thursday.", "format": "mp3"}
    first = await client.post("/api/v1/voice", json=body, headers=admin)
    assert first.status_code == 202
    job = first.json()
    assert (job["format"], job["media_type"]) == ("mp3", "audio/mpeg")
    # The poll URL keeps the format: the answer that says "ready" names the MP3.
    assert first.headers["location"] == job["status_url"] == f"/api/v1/voice/{job['id']}?format=mp3"
    assert await drain(stage_worker(services, "speech")) == 1

    done = (await client.get(job["status_url"])).json()
    assert done["status"] == "ready"
    assert (done["url"], done["format"], done["media_type"]) == (
        f"/api/v1/audio/{job['id']}.mp3",
        "mp3",
        "audio/mpeg",
    )
    file = await client.get(done["url"])
    assert file.headers["content-type"] == "audio/mpeg"
    assert len(file.content) == done["size"]
    pcm, rate = soundfile.read(io.BytesIO(file.content))
    assert abs(len(pcm) / rate - done["duration_s"]) < 0.2

    # Ready at once: 200 with the format asked for, MP3 or Opus, from the same recording.
    again = await client.post("/api/v1/voice", json=body, headers=admin)
    assert again.status_code == 200
    assert again.json()["url"] == done["url"]
    opus = (await client.post("/api/v1/voice", json={**body, "format": "opus"}, headers=admin)).json()
    assert opus["id"] == job["id"]
    assert (opus["url"], opus["media_type"]) == (f"/api/v1/audio/{job['id']}.opus", "audio/ogg")
    assert opus["size"] == len((await client.get(opus["url"])).content) != done["size"]
    status = (await client.get(f"/api/v1/audio/{job['id']}", params={"format": "mp3"})).json()
    assert status["url"] == done["url"]
    assert (await client.get(f"/api/v1/audio/{job['id']}")).json()["url"] == opus["url"]  # Opus by default
    assert (await client.get(job["status_url"].replace("mp3", "wav"))).status_code == 422


async def test_private_podcast_feed_of_daily_briefings(
    client: httpx.AsyncClient, services: Services, admin: dict[str, str], newsroom: dict[str, int]
) -> None:
    created = await client.post(
        "/api/v1/podcasts",
        json={
            "title": "Morning news",
            "form": "conversation",
            "characters": ["host", "reporter"],
            "story_count": 2,
        },
        headers=admin,
    )
    assert created.status_code == 201
    feed_url = created.json()["feed_url"]
    path = feed_url.removeprefix(services.settings.public_url)
    empty = await client.get(path)
    assert empty.status_code == 200
    assert ET.fromstring(empty.content).find("channel/item") is None

    assert await schedule_daily_briefings(services, utcnow().replace(hour=12)) == 1
    await drain(stage_worker(services, "briefings"))  # the stories' scripts and the day's briefing
    assert await drain(stage_worker(services, "speech")) == 4

    feed = await client.get(path)
    assert feed.headers["content-type"].startswith("application/rss+xml")
    channel = ET.fromstring(feed.content).find("channel")
    assert channel is not None
    assert channel.findtext("title") == "Morning news"
    assert channel.find(f"{ITUNES}category") is not None
    assert channel.findtext(f"{ITUNES}explicit") == "false"
    items = channel.findall("item")
    assert len(items) == 1
    enclosure = items[0].find("enclosure")
    assert enclosure is not None
    assert enclosure.get("type") == "audio/mpeg"
    audio = await client.get(enclosure.get("url", "").removeprefix(services.settings.public_url))
    assert audio.status_code == 200
    assert int(enclosure.get("length", "0")) == len(audio.content)
    assert items[0].findtext(f"{ITUNES}duration", "").count(":") == 2
    guid = items[0].findtext("guid")
    again = ET.fromstring((await client.get(path)).content)
    assert again.findtext("channel/item/guid") == guid  # stable across fetches

    wrong = await client.get("/podcasts/not-a-real-token/feed.xml")
    assert wrong.status_code == 404
    sub_id = created.json()["id"]
    assert (await client.delete(f"/api/v1/podcasts/{sub_id}", headers=admin)).status_code == 204
    revoked = await client.get(path)
    assert revoked.status_code == 404
    assert revoked.json()["detail"] == wrong.json()["detail"]  # nothing tells the two apart
