"""Decisions about scripts: when a story gets a new one, what daily briefings say, and storing them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from newstalk.briefings import repository
from newstalk.briefings.models import STORY, ScriptRecord
from newstalk.briefings.scripts import (
    Script,
    StoryInput,
    conversation_briefing,
    count_words,
    daily_briefing,
    script_seconds,
    story_script,
)
from newstalk.config import Settings
from newstalk.errors import InvalidInput
from newstalk.kit.bus import Event
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.speech import service as speech
from newstalk.speech.models import Audio
from newstalk.speech.voices import get_voice

DUE_TOPIC = "briefing.due"
DAILY_TOPIC = "briefing.daily"
SOLO = "solo"
CONVERSATION = "conversation"


def due_event(story_id: int, first_seen_at: datetime, delay_s: float, reason: str) -> Event:
    """A debounced request to (re)write a story's script: one pending per story and reason."""
    return Event(
        DUE_TOPIC,
        f"briefing:story:{story_id}:{reason}",
        {"story_id": story_id},
        first_seen_at,
        delay_s=delay_s,
    )


async def store_script(
    uow: UnitOfWork,
    script: Script,
    *,
    story_version: int | None = None,
    briefing_key: str | None = None,
    briefing_date: str | None = None,
) -> tuple[ScriptRecord, bool]:
    """The stored row for a script; (row, False) when the same script was written before."""
    content_hash = script.content_hash()
    existing = await repository.script_by_hash(uow.session, content_hash)
    if existing is not None:
        return existing, False
    record = ScriptRecord(
        content_hash=content_hash,
        kind=script.kind,
        story_id=script.story_ids[0] if script.kind == STORY and script.story_ids else None,
        story_version=story_version,
        lang=script.lang,
        form=script.form,
        speakers=script.speakers,
        title=script.title,
        lines=script.lines_json(),
        story_ids=list(script.story_ids),
        briefing_key=briefing_key,
        briefing_date=briefing_date,
        word_count=count_words(script.text, script.lang),
        estimated_s=round(script_seconds(script), 1),
        created_at=utcnow(),
    )
    uow.session.add(record)
    await uow.session.flush()
    return record, True


async def write_story_scripts(
    uow: UnitOfWork, settings: Settings, story_id: int, first_seen_at: datetime
) -> list[tuple[ScriptRecord, Audio | None]]:
    """Script a story as it is now (and queue its audio); nothing new when what is said did not change."""
    langs = ["ko", "en"] if settings.briefings_both_languages else None
    inputs = await repository.story_inputs(uow.session, story_id, langs)
    out: list[tuple[ScriptRecord, Audio | None]] = []
    for story in inputs:
        script = story_script(story, settings.briefings_voice)
        record, _new = await store_script(uow, script, story_version=story.version)
        audio = (
            await speech.request_audio(uow, record, first_seen_at) if settings.briefings_story_audio else None
        )
        out.append((record, audio))
    return out


def check_speakers(form: str, speakers: Sequence[str], lang: str) -> list[str]:
    """Validated characters for a briefing form (one for solo, two or three for a conversation)."""
    chosen = list(dict.fromkeys(speakers))
    for key in chosen:
        get_voice(key).rendition(lang)
    if form == SOLO and len(chosen) != 1:
        raise InvalidInput("briefings: a solo briefing has exactly one character")
    if form == CONVERSATION and not 2 <= len(chosen) <= 3:
        raise InvalidInput("briefings: a conversation has two or three different characters")
    if form not in (SOLO, CONVERSATION):
        raise InvalidInput(f"briefings: unknown form {form!r}; use solo or conversation")
    return chosen


def briefing_key(lang: str, form: str, speakers: Sequence[str], story_count: int) -> str:
    """Names one daily-briefing configuration; subscriptions sharing it share the episodes."""
    return f"{lang}:{form}:{'+'.join(speakers)}:{story_count}"


async def write_daily_briefing(
    uow: UnitOfWork,
    *,
    lang: str,
    form: str,
    speakers: Sequence[str],
    story_count: int,
    date: str,
    first_seen_at: datetime,
) -> tuple[ScriptRecord, Audio]:
    """The day's briefing of the top trending stories for one configuration, and its queued audio."""
    speakers = check_speakers(form, speakers, lang)
    ids = await repository.top_story_ids(uow.session, lang, story_count)
    stories: list[StoryInput] = []
    for story_id in ids:
        stories.extend(
            s for s in await repository.story_inputs(uow.session, story_id, [lang]) if s.lang == lang
        )
    if form == SOLO:
        script = daily_briefing(stories, voice=speakers[0], lang=lang, date=date)
    else:
        script = conversation_briefing(stories, voices=speakers, lang=lang, date=date)
    key = briefing_key(lang, form, speakers, story_count)
    record, _new = await store_script(uow, script, briefing_key=key, briefing_date=date)
    audio = await speech.request_audio(uow, record, first_seen_at)
    return record, audio


def daily_event(lang: str, form: str, speakers: Sequence[str], story_count: int, date: str) -> Event:
    """Ask the briefings stage for a configuration's briefing of ``date`` (one pending per day)."""
    key = briefing_key(lang, form, speakers, story_count)
    return Event(
        DAILY_TOPIC,
        f"daily:{key}:{date}",
        {"lang": lang, "form": form, "speakers": list(speakers), "story_count": story_count, "date": date},
        utcnow(),
    )
