"""Decisions for delivery: byte ranges, on-demand voice requests, podcast subscriptions and feeds."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.accounts.models import Role
from newstalk.accounts.service import Principal
from newstalk.briefings import repository as briefings_repository
from newstalk.briefings import service as briefings
from newstalk.briefings.models import BRIEFING, PodcastSubscription, ScriptRecord
from newstalk.briefings.scripts import lang_of, story_script, text_script
from newstalk.config import Settings
from newstalk.errors import Forbidden, InvalidInput, NotFound, RateLimited
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.kit.ratelimit import Limiter
from newstalk.listeners import repository as listeners_repository
from newstalk.speech import service as speech
from newstalk.speech.models import FAILED, READY, Audio
from newstalk.speech.voices import get_voice

CACHE_CONTROL = "public, max-age=2592000, immutable"
# A redirect to the CDN may be cached too, but for less: the base URL is a setting.
REDIRECT_CACHE_CONTROL = "public, max-age=86400"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
FEED_EPISODES = 30


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the file does not have (HTTP 416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for a single byte range; None means send the whole file.

    Several ranges, or a header that is not a byte range, are ignored (RFC 9110 lets a
    server answer those with the full file); a range past the end raises RangeNotSatisfiable.
    """
    if not header:
        return None
    m = _RANGE.match(header.strip().replace(" ", ""))
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first_s, last_s = m.groups()
    if not first_s:  # suffix range: the last N bytes
        n = int(last_s)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - n), size - 1
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if last_s and last < first:
        return None  # not a valid range: ignored
    if first >= size:
        raise RangeNotSatisfiable
    return first, min(last, size - 1)


def etag_of(audio: Audio, fmt: str) -> str:
    """The strong ETag of one audio file: the sha256 of its bytes."""
    digest = audio.opus_sha256 if fmt == "opus" else audio.mp3_sha256
    return f'"{digest}"'


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match semantics (weak comparison, ``*`` matches anything)."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


REQUEST, PREFERENCE, DEFAULT = "request", "preference", "default"


@dataclass(frozen=True)
class VoiceChoice:
    character: str
    source: str  # where the character came from: REQUEST, PREFERENCE or DEFAULT
    playback_speed: float  # the listener's preferred speed, a hint for the player (1.0 by default)


async def choose_voice(
    session: AsyncSession, principal: Principal, requested: str | None, default: str
) -> VoiceChoice:
    """Who speaks a voice request: the character asked for, else the listener's preferred voice, else ``default``.

    The default is the voice the pipeline records story audio in (``NEWSTALK_BRIEFINGS_VOICE``),
    so a listener without a preference gets the recording that already exists; a listener
    with one gets their voice, queued (202) when it is not recorded yet, never the default's.
    """
    preferred, speed = None, 1.0
    if principal.user_id is not None:
        prefs = await listeners_repository.get_preferences(session, principal.user_id)
        if prefs is not None:
            preferred, speed = prefs.voice, prefs.playback_speed
    if requested is not None:
        return VoiceChoice(requested, REQUEST, speed)
    if preferred is not None:
        return VoiceChoice(preferred, PREFERENCE, speed)
    return VoiceChoice(default, DEFAULT, speed)


@dataclass(frozen=True)
class VoiceResult:
    audio: Audio
    script: ScriptRecord
    queued: bool  # this request queued new synthesis (what a listener's quota counts)


QUOTA_PERIOD_S = 24 * 3600.0


async def charge_voice_quota(limiter: Limiter, settings: Settings, principal: Principal) -> None:
    """Count one new synthesis against a listener's daily quota; RateLimited when it is used up.

    Admins are not counted. The quota is a GCRA bucket of ``NEWSTALK_VOICE_DAILY_QUOTA`` per
    24 hours in the rate limiter (shared through Redis when configured): a listener may use
    it all at once, then gets one more every 24 h / quota. Audio that already exists is free.
    """
    if principal.has_role(Role.admin):
        return
    quota = settings.voice_daily_quota
    if quota == 0:
        raise Forbidden("voice: listeners may not request new audio here (NEWSTALK_VOICE_DAILY_QUOTA=0)")
    decision = await limiter.hit(f"voice-quota:user:{principal.account_id}", quota, QUOTA_PERIOD_S)
    if not decision.allowed:
        hours = decision.retry_after_s / 3600
        raise RateLimited(
            f"voice: your daily quota of {quota} new recordings is used up; "
            f"the next one is available in {hours:.1f} h (audio that already exists stays free)"
        )


async def request_voice(
    uow: UnitOfWork,
    *,
    story_id: int | None,
    text: str | None,
    character: str,
    lang: str | None,
) -> VoiceResult:
    """The audio for a story or a text in a character's voice: existing, or queued for the speech stage."""
    voice = get_voice(character)
    if (story_id is None) == (text is None):
        raise InvalidInput("voice: give exactly one of story_id or text")
    if story_id is not None:
        inputs = await briefings_repository.story_inputs(uow.session, story_id, [lang] if lang else None)
        chosen = [s for s in inputs if lang is None or s.lang == lang]
        if not chosen:
            raise NotFound(
                f"voice: story {story_id} does not exist or has no {lang or ''} articles to script".replace(
                    "  ", " "
                )
            )
        story = chosen[0]
        voice.rendition(story.lang)
        script = story_script(story, character)
        record, _ = await briefings.store_script(uow, script, story_version=story.version)
    else:
        assert text is not None
        if not text.strip():
            raise InvalidInput("voice: text is empty")
        lang = lang or lang_of(text)
        voice.rendition(lang)
        record, _ = await briefings.store_script(uow, text_script(text, voice=character, lang=lang))
    before = await uow.session.get(Audio, speech.audio_id_for(briefings.script_of(record)))
    queued = before is None or before.status == FAILED
    # A listener is waiting for this one: it goes ahead of the pipeline's own syntheses.
    audio = await briefings.request_audio(uow, record, utcnow(), priority=speech.ASKED)
    return VoiceResult(audio, record, queued)


def new_token() -> tuple[str, str]:
    """A feed token and the sha256 stored for it."""
    token = secrets.token_urlsafe(24)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """What is stored for a token: its sha256 (a leaked database leaks no feed URLs)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def subscription_by_token(session: AsyncSession, token: str) -> PodcastSubscription:
    """The live subscription a token opens; NotFound, the same for a wrong or revoked token."""
    sub = await session.scalar(
        select(PodcastSubscription).where(PodcastSubscription.token_sha256 == token_hash(token))
    )
    if sub is None or sub.revoked_at is not None:
        raise NotFound("podcasts: not found")
    return sub


async def episodes(session: AsyncSession, sub: PodcastSubscription) -> list[tuple[ScriptRecord, Audio]]:
    """The subscription's daily briefings whose audio is ready, newest first.

    Audio is found by what is spoken, not by the row that first asked for it: listeners
    whose briefings read the same share one file.
    """
    key = briefings.subscription_briefing_key(sub)
    scripts = (
        await session.scalars(
            select(ScriptRecord)
            .where(ScriptRecord.kind == BRIEFING, ScriptRecord.briefing_key == key)
            .order_by(ScriptRecord.created_at.desc(), ScriptRecord.id.desc())
            .limit(FEED_EPISODES)
        )
    ).all()
    ids = {s.id: speech.audio_id_for(briefings.script_of(s)) for s in scripts}
    ready = {
        a.id: a
        for a in (
            await session.scalars(select(Audio).where(Audio.id.in_(set(ids.values())), Audio.status == READY))
        ).all()
    }
    return [(s, ready[ids[s.id]]) for s in scripts if ids[s.id] in ready]


async def listener_briefings(
    session: AsyncSession, account_id: int, *, before_id: int | None, limit: int
) -> tuple[list[tuple[PodcastSubscription, ScriptRecord, Audio | None]], bool]:
    """A listener's daily briefings, newest first: those written for their personal feeds
    (revoked ones too: revoking hides the feed URL, not what was written for them).

    Returns up to ``limit`` briefings with their subscription and audio (None before the
    speech stage has a row for it), and whether older ones follow.
    """
    subs = {
        s.id: s
        for s in (
            await session.scalars(
                select(PodcastSubscription).where(PodcastSubscription.listener_id == account_id)
            )
        ).all()
    }
    if not subs:
        return [], False
    keys = {briefings.subscription_briefing_key(s): s for s in subs.values()}
    query = select(ScriptRecord).where(ScriptRecord.kind == BRIEFING, ScriptRecord.briefing_key.in_(keys))
    if before_id is not None:
        query = query.where(ScriptRecord.id < before_id)
    scripts = (await session.scalars(query.order_by(ScriptRecord.id.desc()).limit(limit + 1))).all()
    page = scripts[:limit]
    ids = {s.id: speech.audio_id_for(briefings.script_of(s)) for s in page}
    audio = (
        {a.id: a for a in (await session.scalars(select(Audio).where(Audio.id.in_(set(ids.values()))))).all()}
        if ids
        else {}
    )
    out = [(keys[s.briefing_key or ""], s, audio.get(ids[s.id])) for s in page]
    return out, len(scripts) > limit


ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass(frozen=True)
class FeedOwner:
    """Who the feed names as its owner and what artwork it shows (``NEWSTALK_PODCAST_*``)."""

    image_url: str
    author: str = "NewsTalk"
    email: str | None = None


def feed_xml(
    sub: PodcastSubscription,
    items: Sequence[tuple[ScriptRecord, Audio]],
    *,
    base_url: str,
    feed_url: str,
    owner: FeedOwner,
) -> bytes:
    """RSS 2.0 with iTunes and Podcasting 2.0 tags: MP3 enclosures, stable GUIDs, chapters, transcripts.

    Apple Podcasts and Spotify require title, description, language, square artwork
    (itunes:image, 1400-3000 px), itunes:category and itunes:explicit on the channel, and
    enclosure (url, length, type), a GUID and an RFC 2822 pubDate on each episode;
    itunes:owner with an email is what directories verify ownership by, so it is written
    when one is configured.
    """
    ET.register_namespace("itunes", ITUNES)
    ET.register_namespace("podcast", PODCAST)
    ET.register_namespace("atom", ATOM)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    names = ", ".join(get_voice(k).name for k in sub.speakers)
    description = (
        f"NewsTalk daily briefing: the top {sub.story_count} stories, read by {names}."
        if sub.lang != "ko"
        else f"NewsTalk 데일리 브리핑: 주요 뉴스 {sub.story_count}건"
    )
    for tag, value in (
        ("title", sub.title),
        ("link", base_url),
        ("description", description),
        ("language", sub.lang),
        ("generator", "NewsTalk"),
    ):
        ET.SubElement(channel, tag).text = value
    ET.SubElement(
        channel, f"{{{ATOM}}}link", {"href": feed_url, "rel": "self", "type": "application/rss+xml"}
    )
    image = ET.SubElement(channel, "image")
    for tag, value in (("url", owner.image_url), ("title", sub.title), ("link", base_url)):
        ET.SubElement(image, tag).text = value
    ET.SubElement(channel, f"{{{ITUNES}}}image", {"href": owner.image_url})
    ET.SubElement(channel, f"{{{ITUNES}}}author").text = owner.author
    if owner.email:
        who = ET.SubElement(channel, f"{{{ITUNES}}}owner")
        ET.SubElement(who, f"{{{ITUNES}}}name").text = owner.author
        ET.SubElement(who, f"{{{ITUNES}}}email").text = owner.email
    ET.SubElement(channel, f"{{{ITUNES}}}summary").text = description
    ET.SubElement(channel, f"{{{ITUNES}}}explicit").text = "false"
    ET.SubElement(channel, f"{{{ITUNES}}}type").text = "episodic"
    ET.SubElement(channel, f"{{{ITUNES}}}block").text = "Yes"  # private: keep it out of directories
    ET.SubElement(channel, f"{{{ITUNES}}}category", {"text": "News"}).append(
        ET.Element(f"{{{ITUNES}}}category", {"text": "Daily News"})
    )
    for script, audio in items:
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = script.title
        summary = " / ".join(
            dict.fromkeys(x["chapter"] for x in script.lines if x["chapter"] in _story_chapters(script))
        )
        ET.SubElement(item, "description").text = summary or script.title
        ET.SubElement(item, "guid", {"isPermaLink": "false"}).text = f"newstalk:audio:{audio.id}"
        published = audio.ready_at or script.created_at
        ET.SubElement(item, "pubDate").text = format_datetime(published.astimezone(UTC), usegmt=True)
        ET.SubElement(
            item,
            "enclosure",
            {
                "url": f"{base_url}/api/v1/audio/{audio.id}.mp3",
                "length": str(audio.mp3_size),
                "type": "audio/mpeg",
            },
        )
        ET.SubElement(item, f"{{{ITUNES}}}duration").text = _duration(audio.duration_s or 0)
        ET.SubElement(item, f"{{{ITUNES}}}episodeType").text = "full"
        ET.SubElement(item, f"{{{ITUNES}}}explicit").text = "false"
        ET.SubElement(
            item,
            f"{{{PODCAST}}}chapters",
            {"url": f"{base_url}/api/v1/audio/{audio.id}/chapters.json", "type": "application/json+chapters"},
        )
        ET.SubElement(
            item,
            f"{{{PODCAST}}}transcript",
            {"url": f"{base_url}/api/v1/audio/{audio.id}/transcript.vtt", "type": "text/vtt"},
        )
    body: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return body


def _story_chapters(script: ScriptRecord) -> set[str]:
    chapters = [x["chapter"] for x in script.lines]
    return set(chapters[1:-1]) if len(set(chapters)) > 2 else set(chapters)
