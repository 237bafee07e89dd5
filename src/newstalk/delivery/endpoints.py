"""HTTP for listening: audio files (Range, ETag, CDN caching), transcripts, chapters, voice, podcasts."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select

from newstalk.accounts.models import Role
from newstalk.briefings.models import PodcastSubscription
from newstalk.delivery import service
from newstalk.delivery.schemas import (
    AudioFormat,
    AudioStatus,
    Briefing,
    BriefingPage,
    Podcast,
    PodcastCreate,
    PodcastCreated,
    VoiceRequest,
)
from newstalk.deps import CurrentAccount, DbDep, ListenerDep, ServicesDep
from newstalk.errors import Forbidden, InvalidInput, NotFound
from newstalk.kit.api import decode_cursor, encode_cursor
from newstalk.kit.db import utcnow
from newstalk.runtime import Services
from newstalk.speech import service as speech
from newstalk.speech.audio import CONTENT_TYPES
from newstalk.speech.models import READY, Audio
from newstalk.speech.storage import public_file_url

router = APIRouter(prefix="/api/v1", tags=["listen"])

AudioId = Annotated[str, Path(pattern="^[0-9a-f]{64}$")]
FormatQuery = Annotated[AudioFormat, Query(alias="format", description="opus or mp3: the file `url` names")]
PodcastId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _status(audio: Audio, fmt: AudioFormat = "opus") -> AudioStatus:
    ready = audio.status == READY
    base = f"/api/v1/audio/{audio.id}"
    return AudioStatus(
        id=audio.id,
        status=audio.status,
        # The poll URL keeps the format, so the answer that says "ready" names the file asked for.
        status_url=f"/api/v1/voice/{audio.id}?format={fmt}",
        format=fmt,
        media_type=CONTENT_TYPES[fmt],
        url=f"{base}.{fmt}" if ready else None,
        transcript_url=f"{base}/transcript.vtt" if ready else None,
        chapters_url=f"{base}/chapters.json" if ready else None,
        duration_s=audio.duration_s,
        size=(audio.opus_size if fmt == "opus" else audio.mp3_size) if ready else None,
        lang=audio.lang,
        characters=list(audio.speakers),
        script_id=audio.script_id,
        error=audio.error,
    )


async def _ready_audio(services: Services, audio_id: str) -> Audio:
    async with services.db.read() as session:
        audio = await speech.get_audio(session, audio_id)
    if audio.status != READY:
        raise NotFound(f"audio: {audio_id} is {audio.status}; poll /api/v1/voice/{audio_id}")
    return audio


async def _audio_file(request: Request, services: Services, audio_id: str, fmt: str) -> Response:
    """The audio file; Range requests (one range) give 206, ETag/If-None-Match give 304.

    With ``NEWSTALK_AUDIO_PUBLIC_BASE_URL`` set, a 302 sends the client to the CDN that
    serves the store's files by key (the API then never carries audio bytes); without it
    the bytes come from the store (the local folder, or ranged GETs on the bucket).
    """
    audio = await _ready_audio(services, audio_id)
    key = audio.opus_key if fmt == "opus" else audio.mp3_key
    size = audio.opus_size if fmt == "opus" else audio.mp3_size
    if key is None or size is None:
        raise NotFound(f"audio: {audio_id} has no {fmt} file")
    public = services.settings.audio_public_base_url
    if public:
        return Response(
            status_code=302,
            headers={
                "Location": public_file_url(public, key),
                "Cache-Control": service.REDIRECT_CACHE_CONTROL,
            },
        )
    etag = service.etag_of(audio, fmt)
    headers = {
        "ETag": etag,
        "Cache-Control": service.CACHE_CONTROL,
        "Accept-Ranges": "bytes",
        "Content-Type": CONTENT_TYPES[fmt],
    }
    if service.etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Cache-Control")})
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        range_header = None  # the client's copy is another file: send this one whole
    try:
        span = service.parse_range(range_header, size)
    except service.RangeNotSatisfiable:
        return Response(
            status_code=416,
            headers={"Content-Range": f"bytes */{size}", "ETag": etag, "Accept-Ranges": "bytes"},
        )
    first, last = span if span else (0, size - 1)
    headers["Content-Length"] = str(last - first + 1)
    status = 200
    if span:
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    store = speech.audio_store(services)
    # Off the event loop: a bucket GET is a network round trip, a big file a long read.
    body = await asyncio.to_thread(store.open_range, key, first, last)
    return Response(content=body, status_code=status, headers=headers, media_type=CONTENT_TYPES[fmt])


# GET and HEAD are two routes (one operation id each in the OpenAPI document).
@router.get("/audio/{audio_id}.{fmt}", response_class=Response, operation_id="get_audio_file")
async def get_audio_file(
    request: Request, services: ServicesDep, audio_id: AudioId, fmt: AudioFormat
) -> Response:
    """The audio file; Range requests (one range) give 206, ETag/If-None-Match give 304."""
    return await _audio_file(request, services, audio_id, fmt)


@router.head("/audio/{audio_id}.{fmt}", response_class=Response, operation_id="head_audio_file")
async def head_audio_file(
    request: Request, services: ServicesDep, audio_id: AudioId, fmt: AudioFormat
) -> Response:
    """The audio file's headers (length, ETag, ranges), as GET would send them."""
    return await _audio_file(request, services, audio_id, fmt)


@router.get("/audio/{audio_id}/transcript.vtt", response_class=Response)
async def get_transcript(services: ServicesDep, audio_id: AudioId) -> Response:
    """The WebVTT transcript, one cue per sentence, in sync with the audio."""
    audio = await _ready_audio(services, audio_id)
    return Response(
        content=audio.vtt or "WEBVTT\n",
        media_type="text/vtt; charset=utf-8",
        headers={"Cache-Control": service.CACHE_CONTROL},
    )


@router.get("/audio/{audio_id}/chapters.json", response_class=Response)
async def get_chapters(services: ServicesDep, audio_id: AudioId) -> Response:
    """Chapters (one per story) in the Podcasting 2.0 JSON chapters format."""
    audio = await _ready_audio(services, audio_id)
    return Response(
        content=speech.chapters_document(audio),
        media_type="application/json+chapters",
        headers={"Cache-Control": service.CACHE_CONTROL},
    )


@router.get("/audio/{audio_id}", response_model=AudioStatus)
async def get_audio_status(db: DbDep, audio_id: AudioId, fmt: FormatQuery = "opus") -> AudioStatus:
    """What an audio id is: status, length, the file URL in the format asked for (opus by default)."""
    async with db.reading() as session:
        return _status(await speech.get_audio(session, audio_id), fmt)


@router.post("/voice", response_model=AudioStatus, responses={202: {"model": AudioStatus}})
async def post_voice(
    body: VoiceRequest, services: ServicesDep, db: DbDep, response: Response, principal: ListenerDep
) -> AudioStatus:
    """Speak a story or a text in a character's voice: 200 with the URL if it exists, else 202 to poll.

    Without ``character`` a signed-in listener's preferred voice speaks (``voice_source``
    says which was used); a voice not recorded yet is queued (202), never replaced by
    another. The answer and its poll URL name the file in the requested ``format``.
    Listeners may ask; each request that needs new synthesis counts against their daily
    quota (``NEWSTALK_VOICE_DAILY_QUOTA``), audio that already exists is free, admins are
    not counted.
    """
    async with db.unit() as uow:
        voice = await service.choose_voice(
            uow.session, principal, body.character, services.settings.briefings_voice
        )
        result = await service.request_voice(
            uow, story_id=body.story_id, text=body.text, character=voice.character, lang=body.lang
        )
        if result.queued:
            # Raising here rolls the unit back: nothing is queued past the quota.
            await service.charge_voice_quota(services.limiter, services.settings, principal)
    status = _status(result.audio, body.format).model_copy(
        update={"voice_source": voice.source, "playback_speed": voice.playback_speed}
    )
    if result.audio.status != READY:
        response.status_code = 202
        response.headers["Location"] = status.status_url
        response.headers["Retry-After"] = "2"
    return status


@router.get("/voice/{audio_id}", response_model=AudioStatus)
async def get_voice_status(db: DbDep, audio_id: AudioId, fmt: FormatQuery = "opus") -> AudioStatus:
    """Poll a voice request: pending, ready (with the URL in ``format``) or failed (with the reason)."""
    async with db.reading() as session:
        return _status(await speech.get_audio(session, audio_id), fmt)


def _podcast(sub: PodcastSubscription) -> Podcast:
    return Podcast(
        id=sub.id,
        title=sub.title,
        lang=sub.lang,
        form=sub.form,
        characters=list(sub.speakers),
        story_count=sub.story_count,
        personal=sub.listener_id is not None,
        created_at=sub.created_at,
        revoked_at=sub.revoked_at,
    )


@router.post("/podcasts", response_model=PodcastCreated, status_code=201)
async def create_podcast(
    body: PodcastCreate, services: ServicesDep, db: DbDep, principal: ListenerDep
) -> PodcastCreated:
    """A private podcast feed of daily briefings; the token in its URL is shown only here.

    A listener's feed is personal: each day's briefing is chosen from their feed and
    preferences, in their preferred language (and voice, for a solo feed). Admins create
    shared feeds of the top trending stories unless they ask for ``personal``.
    """
    from newstalk.briefings.service import check_speakers

    admin = principal.has_role(Role.admin)
    personal = body.personal if body.personal is not None else not admin
    if not personal and not admin:
        raise Forbidden("podcasts: only admins create shared feeds; leave 'personal' out or true")
    speakers = check_speakers(body.form, body.characters, body.lang)
    token, digest = service.new_token()
    async with db.unit() as uow:
        sub = PodcastSubscription(
            token_sha256=digest,
            title=body.title,
            lang=body.lang,
            form=body.form,
            speakers=speakers,
            story_count=body.story_count,
            listener_id=principal.account_id if personal else None,
            created_at=utcnow(),
        )
        uow.session.add(sub)
        await uow.session.flush()
    base = services.settings.public_url.rstrip("/")
    return PodcastCreated(
        **_podcast(sub).model_dump(), token=token, feed_url=f"{base}/podcasts/{token}/feed.xml"
    )


@router.get("/podcasts", response_model=list[Podcast])
async def list_podcasts(db: DbDep, principal: ListenerDep) -> list[Podcast]:
    """Your podcast feeds (an admin sees every feed); tokens are not stored, so not shown."""
    query = select(PodcastSubscription).order_by(PodcastSubscription.id)
    if not principal.has_role(Role.admin):
        query = query.where(PodcastSubscription.listener_id == principal.account_id)
    async with db.reading() as session:
        subs = (await session.scalars(query)).all()
    return [_podcast(s) for s in subs]


@router.delete("/podcasts/{podcast_id}", status_code=204)
async def revoke_podcast(podcast_id: PodcastId, db: DbDep, principal: ListenerDep) -> Response:
    """Revoke a feed: its URL answers 404 from now on. Listeners revoke their own; admins any."""
    async with db.unit() as uow:
        sub = await uow.session.get(PodcastSubscription, podcast_id)
        mine = sub is not None and (principal.has_role(Role.admin) or sub.listener_id == principal.account_id)
        if sub is None or not mine:
            raise NotFound(f"podcasts: no podcast {podcast_id}")
        sub.revoked_at = sub.revoked_at or utcnow()
    return Response(status_code=204)


@router.get("/me/briefings", response_model=BriefingPage)
async def list_briefings(
    db: DbDep,
    principal: CurrentAccount,
    fmt: FormatQuery = "opus",
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> BriefingPage:
    """Your daily briefings, newest first, with their audio: what your personal podcast feeds
    carry, for players that are not podcast apps (the web app, the mobile app).

    Daily briefings are written for listeners with a personal feed (``POST /api/v1/podcasts``);
    without one the list is empty. Pages of at most 50; ``next_cursor`` fetches older ones.
    """
    before = None
    if cursor:
        (raw,) = decode_cursor(cursor, 1)
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
            raise InvalidInput("briefings: cursor is not valid; pass the next_cursor of a previous page")
        before = raw
    async with db.reading() as session:
        rows, more = await service.listener_briefings(
            session, principal.account_id, before_id=before, limit=limit
        )
    items = [
        Briefing(
            id=script.id,
            podcast_id=sub.id,
            title=script.title,
            date=script.briefing_date or script.created_at.date().isoformat(),
            lang=script.lang,
            form=script.form,
            characters=list(script.speakers),
            story_ids=list(script.story_ids),
            estimated_s=script.estimated_s,
            created_at=script.created_at,
            audio=_status(audio, fmt) if audio is not None else None,
        )
        for sub, script, audio in rows
    ]
    return BriefingPage(items=items, next_cursor=encode_cursor(items[-1].id) if more and items else None)


feed_router = APIRouter(tags=["listen"])

ARTWORK = "podcast-artwork.png"


@functools.cache
def _artwork() -> bytes:
    # Drawn by scripts/podcast_artwork.py and shipped as package data.
    return (resources.files("newstalk.delivery") / "data" / ARTWORK).read_bytes()


@feed_router.get("/podcasts/artwork.png", response_class=Response)
async def podcast_artwork() -> Response:
    """The default podcast artwork: a 1400x1400 RGB PNG (``NEWSTALK_PODCAST_IMAGE_URL`` replaces it)."""
    data = _artwork()
    return Response(
        content=data,
        media_type="image/png",
        headers={"Cache-Control": "public, max-age=86400", "ETag": f'"{hashlib.sha256(data).hexdigest()}"'},
    )


@feed_router.get("/podcasts/{token}/feed.xml", response_class=Response)
async def podcast_feed(
    token: Annotated[str, Path(max_length=100)], services: ServicesDep, db: DbDep
) -> Response:
    """The private feed; a wrong or revoked token is a plain 404 that says nothing about other feeds."""
    async with db.reading() as session:
        sub = await service.subscription_by_token(session, token)
        items = await service.episodes(session, sub)
    settings = services.settings
    base = settings.public_url.rstrip("/")
    owner = service.FeedOwner(
        image_url=settings.podcast_image_url or f"{base}/podcasts/artwork.png",
        author=settings.podcast_author,
        email=settings.podcast_owner_email,
    )
    body = service.feed_xml(
        sub, items, base_url=base, feed_url=f"{base}/podcasts/{token}/feed.xml", owner=owner
    )
    return Response(
        content=body,
        media_type="application/rss+xml; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"},
    )
