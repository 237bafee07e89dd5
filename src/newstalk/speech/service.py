"""Decisions about audio: which rendering a script gets, synthesizing it once, recording the result."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.errors import NotFound
from newstalk.kit.bus import Event
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.kit.resources import ResourceKey
from newstalk.pipeline import topics
from newstalk.speech.audio import CONTENT_TYPES, Chapter, chapters_json, encode, webvtt
from newstalk.speech.engines import TTSEngine, available_engines
from newstalk.speech.models import FAILED, PENDING, READY, SUPERSEDED, Audio
from newstalk.speech.render import engine_version, render_script
from newstalk.speech.script import Line, Script
from newstalk.speech.storage import AudioStore, audio_key, build_audio_store

if TYPE_CHECKING:
    from newstalk.pipeline.context import StageServices

FORMATS = ("opus", "mp3")
ENGINES: ResourceKey[dict[str, TTSEngine]] = ResourceKey("speech.engines")
STORE: ResourceKey[AudioStore] = ResourceKey("speech.store")


def script_payload(script: Script) -> dict[str, Any]:
    """A script as the ``script.ready`` job carries it (speech never reads the scripts table)."""
    return {
        "kind": script.kind,
        "lang": script.lang,
        "form": script.form,
        "title": script.title,
        "lines": script.lines_json(),
        "story_ids": list(script.story_ids),
    }


def script_from_payload(payload: Mapping[str, Any]) -> Script:
    """The script a ``script.ready`` job carries, or a stored script row's fields."""
    return Script(
        kind=str(payload["kind"]),
        lang=str(payload["lang"]),
        form=str(payload["form"]),
        title=str(payload["title"]),
        lines=tuple(Line(x["speaker"], x["text"], x["chapter"]) for x in payload["lines"]),
        story_ids=tuple(int(x) for x in payload.get("story_ids") or ()),
    )


def audio_id_for(script: Script) -> str:
    """The content address of a script spoken by its characters with today's engines."""
    doc = f"{script.content_hash()}\n{engine_version(script)}"
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def audio_store(services: StageServices) -> AudioStore:
    """This process's audio store: ``NEWSTALK_AUDIO_DIR`` or the bucket ``NEWSTALK_AUDIO_S3_*`` name."""
    return services.resources.get_or_build(STORE, lambda: build_audio_store(services.settings))


async def engines_for(services: StageServices) -> dict[str, TTSEngine]:
    """This process's TTS engines, built on first use (API-only processes never load them)."""
    return await services.resources.aget_or_build(
        ENGINES, lambda: asyncio.to_thread(available_engines, services.settings)
    )


# Synthesis order among due jobs (``Event.priority``): a voice a listener asked for, then
# first editions, story scripts and briefings, then full editions held back behind them.
ASKED = 1
LATER = -1


async def request_audio(
    uow: UnitOfWork,
    script: Script,
    script_id: int,
    first_seen_at: datetime,
    *,
    delay_s: float = 0.0,
    priority: int = 0,
) -> Audio:
    """The audio row for a stored script: existing (never synthesized twice) or new and queued for speech.

    ``script_id`` is the owner's row (``briefings.models.ScriptRecord``); the job carries the
    script itself, so synthesis needs nothing but speech's own rows. ``delay_s`` holds the
    job back (a story's full edition waits behind its short first edition); ``priority``
    orders due syntheses (``LATER`` for a full edition, ``ASKED`` for a voice a listener
    is waiting for), so a full script that fell due does not hold back newer first editions.
    """
    audio_id = audio_id_for(script)
    audio = await uow.session.get(Audio, audio_id)
    hurry = False
    if audio is None:
        audio = Audio(
            id=audio_id,
            script_id=script_id,
            status=PENDING,
            lang=script.lang,
            speakers=list(script.speakers),
            engine_version=engine_version(script),
            chapters=[],
            created_at=utcnow(),
        )
        uow.session.add(audio)
    elif audio.status in (FAILED, SUPERSEDED):
        audio.status, audio.error = PENDING, None
    elif audio.status == PENDING and priority > 0:
        # Queued for later (a story's full edition waits behind its first edition) while a
        # listener waits for it now: its job comes forward (Event.hurry), no second job.
        hurry = True
    else:
        return audio
    await uow.session.flush()
    payload = topics.ScriptReady(audio_id=audio_id, script=script_payload(script))
    uow.emit(
        Event(
            topics.SCRIPT_READY,
            f"audio:{audio_id}",
            payload,
            first_seen_at,
            delay_s=delay_s,
            priority=priority,
            hurry=hurry,
        )
    )
    return audio


async def supersede(uow: UnitOfWork, script_ids: Sequence[int]) -> int:
    """Mark the still-pending audio of replaced scripts superseded, so the speech stage skips it.

    For story scripts only (``briefings`` passes the older scripts of a story): listeners hear
    a story's newest script, so synthesizing an older version that is still queued is wasted.
    Audio already synthesizing is left to finish. Returns how many rows were marked.
    """
    if not script_ids:
        return 0
    result = await uow.session.execute(
        update(Audio)
        .where(Audio.script_id.in_(list(script_ids)), Audio.status == PENDING)
        .values(status=SUPERSEDED, error="speech: a newer script of the same story replaced it")
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Synthesized:
    duration_s: float
    files: dict[str, tuple[str, int, str]]  # format -> (key, size, sha256 of the bytes)
    chapters: list[dict[str, object]]
    vtt: str
    seconds: float


def synthesize(engines: dict[str, TTSEngine], store: AudioStore, script: Script) -> Synthesized:
    """Render a script, encode Opus and MP3 from the same PCM and store both (blocking; run in a thread)."""
    started = time.perf_counter()
    rendered = render_script(engines, script)
    version = engine_version(script)
    voices = ",".join(script.speakers)
    files = {}
    for fmt in FORMATS:
        data = encode(rendered.pcm, rendered.sample_rate, fmt)  # type: ignore[arg-type]
        key = audio_key(script.content_hash(), voices, script.lang, fmt, version)
        if not store.exists(key):
            store.put(key, data, CONTENT_TYPES[fmt])
        files[fmt] = (key, store.size(key), hashlib.sha256(data).hexdigest())
    chapters = [
        {"startTime": round(c.start_s, 3), "endTime": round(c.end_s, 3), "title": c.title}
        for c in rendered.chapters
    ]
    return Synthesized(
        rendered.duration_s, files, chapters, webvtt(rendered.cues), time.perf_counter() - started
    )


def chapters_document(audio: Audio) -> str:
    """The audio's chapters in the Podcasting 2.0 JSON chapters format."""
    return chapters_json([Chapter(c["title"], c["startTime"], c["endTime"]) for c in audio.chapters])


async def record_audio(uow: UnitOfWork, audio: Audio, result: Synthesized, first_seen_at: datetime) -> None:
    """Mark an audio row ready with its files, and emit audio.ready."""
    audio.status = READY
    audio.duration_s = result.duration_s
    audio.opus_key, audio.opus_size, audio.opus_sha256 = result.files["opus"]
    audio.mp3_key, audio.mp3_size, audio.mp3_sha256 = result.files["mp3"]
    audio.chapters = result.chapters
    audio.vtt = result.vtt
    audio.synth_s = result.seconds
    audio.error = None
    audio.ready_at = utcnow()
    announce_ready(uow, audio, first_seen_at)


def announce_ready(
    uow: UnitOfWork, audio: Audio, first_seen_at: datetime, *, story_version: int | None = None
) -> None:
    """Emit ``audio.ready`` for a ready audio row.

    ``story_version`` names a newer version of the owner's story that says the script word
    for word (a story version that left its short first edition unchanged): the audio
    already made is that version's, so listeners are told at once, not after a synthesis
    that would produce the same file.
    """
    payload = topics.AudioReady(
        audio_id=audio.id, script_id=audio.script_id, duration_s=audio.duration_s or 0.0
    )
    key = f"audio.ready:{audio.id}"
    if story_version is not None:
        payload["story_version"] = story_version
        key = f"{key}:v{story_version}"
    uow.emit(Event(topics.AUDIO_READY, key, payload, first_seen_at))


async def get_audio(session: AsyncSession, audio_id: str) -> Audio:
    """The audio row or NotFound."""
    audio = await session.get(Audio, audio_id)
    if audio is None:
        raise NotFound(f"speech: no audio {audio_id}")
    return audio
