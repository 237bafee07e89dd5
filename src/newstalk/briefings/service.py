"""Decisions about scripts: when a story gets a new one, what daily briefings say, and storing them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.briefings import repository, selection
from newstalk.briefings.models import STORY, PodcastSubscription, ScriptRecord
from newstalk.briefings.rewrite import ScriptRewriter
from newstalk.briefings.scripts import (
    StoryInput,
    conversation_briefing,
    count_words,
    daily_briefing,
    first_story_script,
    script_seconds,
    story_script,
)
from newstalk.config import Settings
from newstalk.errors import InvalidInput
from newstalk.kit.bus import Event, Job
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.kit.resources import ResourceKey
from newstalk.listeners import repository as listeners_repository
from newstalk.pipeline import topics
from newstalk.providers.llm import build_chat_client
from newstalk.speech import service as speech
from newstalk.speech.models import READY, Audio
from newstalk.speech.script import Script
from newstalk.speech.voices import get_voice

if TYPE_CHECKING:
    from newstalk.pipeline.context import StageServices

log = logging.getLogger(__name__)

# None when no chat model is configured.
REWRITER: ResourceKey[ScriptRewriter | None] = ResourceKey("briefings.rewriter")
SOLO = "solo"
CONVERSATION = "conversation"


def due_event(story_id: int, first_seen_at: datetime, delay_s: float, reason: str) -> Event:
    """A debounced request to (re)write a story's script: one pending per story and reason."""
    return Event(
        topics.BRIEFING_DUE,
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
    """The stored row for a script; (row, False) when the same script was written before.

    A daily briefing's row is also keyed by its ``briefing_key``: two listeners whose
    briefings read the same each get a row for their feed, and share one audio file
    (audio is addressed by what is spoken, see ``speech.service.audio_id_for``).
    """
    content_hash = script.content_hash()
    if briefing_key is not None:
        content_hash = hashlib.sha256(f"{content_hash}\n{briefing_key}".encode()).hexdigest()
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


def script_of(record: ScriptRecord) -> Script:
    """The script a stored row holds."""
    return speech.script_from_payload(
        {
            "kind": record.kind,
            "lang": record.lang,
            "form": record.form,
            "title": record.title,
            "lines": record.lines,
            "story_ids": record.story_ids,
        }
    )


async def request_audio(
    uow: UnitOfWork,
    record: ScriptRecord,
    first_seen_at: datetime,
    *,
    delay_s: float = 0.0,
    priority: int = 0,
) -> Audio:
    """The audio of a stored script: speech's row for it, queued for synthesis when new or failed."""
    return await speech.request_audio(
        uow, script_of(record), record.id, first_seen_at, delay_s=delay_s, priority=priority
    )


def rewriter_for(services: StageServices) -> ScriptRewriter | None:
    """This process's script rewriter, or None when no chat model is configured (``NEWSTALK_LLM_URL``)."""
    return services.resources.get_or_build(REWRITER, lambda: _build_rewriter(services))


def _build_rewriter(services: StageServices) -> ScriptRewriter | None:
    client = build_chat_client(services.settings)
    return ScriptRewriter(client) if client is not None else None


def _for_the_ear(template: Script, rewriter: ScriptRewriter | None) -> Script:
    # Only what prepare_rewrites already asked the model: no network call inside a transaction.
    outcome = rewriter.cached(template) if rewriter is not None else None
    return outcome.script if outcome is not None else template


@dataclass(frozen=True, slots=True)
class StoryTemplate:
    """A story's template scripts as it is now: the full one, the short first edition (None
    when the settings turn it off or it would say the same), and the story version."""

    full: Script
    first: Script | None
    version: int

    @property
    def scripts(self) -> list[Script]:
        return [self.full] if self.first is None else [self.full, self.first]


async def story_templates(session: AsyncSession, settings: Settings, story_id: int) -> list[StoryTemplate]:
    """A story's template scripts as it is now, with the story version each was made from."""
    langs = ["ko", "en"] if settings.briefings_both_languages else None
    inputs = await repository.story_inputs(session, story_id, langs)
    out = []
    for story in inputs:
        full = story_script(story, settings.briefings_voice)
        first = (
            first_story_script(story, settings.briefings_voice) if settings.briefings_short_first else None
        )
        if first is not None and first.content_hash() == full.content_hash():
            first = None
        out.append(StoryTemplate(full, first, story.version))
    return out


async def write_story_scripts(
    uow: UnitOfWork,
    settings: Settings,
    story_id: int,
    first_seen_at: datetime,
    rewriter: ScriptRewriter | None = None,
) -> list[tuple[ScriptRecord, Audio | None]]:
    """Script a story as it is now (and queue its audio); nothing new when what is said did not change.

    With ``briefings_short_first`` the short first edition's audio is queued at once and the
    full script's ``briefings_full_audio_delay_s`` later, so a new version is heard soon and
    a version replaced within that delay is never synthesized in full. Returns the full
    script and its audio per language.
    """
    out: list[tuple[ScriptRecord, Audio | None]] = []
    for template in await story_templates(uow.session, settings, story_id):
        version = template.version
        record, _new = await store_script(uow, _for_the_ear(template.full, rewriter), story_version=version)
        first = None
        if template.first is not None:
            first, _new = await store_script(
                uow, _for_the_ear(template.first, rewriter), story_version=version
            )
            if first.id == record.id:
                first = None
        audio = None
        if settings.briefings_story_audio:
            if first is not None:
                first_audio = await request_audio(uow, first, first_seen_at)
                _speaks_for(uow, first, first_audio, version, first_seen_at)
            # Held back behind the first edition, and claimed after the first editions due then.
            later = first is not None
            audio = await request_audio(
                uow,
                record,
                first_seen_at,
                delay_s=settings.briefings_full_audio_delay_s if later else 0.0,
                priority=speech.LATER if later else 0,
            )
            _speaks_for(uow, record, audio, version, first_seen_at)
            # Listeners hear a story's newest script: older versions still queued are skipped.
            keep = {record.id} if first is None else {record.id, first.id}
            older = await repository.other_story_scripts(uow.session, record)
            await speech.supersede(uow, [i for i in older if i not in keep])
        out.append((record, audio))
    return out


def _speaks_for(
    uow: UnitOfWork, record: ScriptRecord, audio: Audio, version: int, first_seen_at: datetime
) -> None:
    """A script written for an earlier story version that a newer version says word for word
    (an article that joined without changing the headline or the summary's first sentence)
    now speaks for the newer version; its audio, when ready, is announced as that version's
    at once (when still queued, speech announces it with this version once made)."""
    if record.story_version is None or record.story_version >= version:
        return
    record.story_version = version
    if audio.status == READY:
        speech.announce_ready(uow, audio, first_seen_at, story_version=version)


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


@dataclass(frozen=True)
class DailyPlan:
    """One day's briefing as the template says it, and the key its feed finds it by."""

    script: Script
    key: str
    date: str


async def daily_plan(session: AsyncSession, payload: Mapping[str, Any]) -> DailyPlan | None:
    """The briefing a ``briefing.daily`` job asks for: a listener's podcast, or a shared configuration.

    A listener's preferences win over what their feed was created with: the first of their
    languages a briefing can be spoken in and, for a solo feed, their voice. None when the
    listener's feed is gone or revoked.
    """
    date = str(payload["date"])
    if "podcast_id" in payload:
        sub = await session.get(PodcastSubscription, int(payload["podcast_id"]))
        if sub is None or sub.revoked_at is not None or sub.listener_id is None:
            return None
        prefs = await listeners_repository.get_preferences(session, sub.listener_id)
        lang = selection.briefing_language(prefs.languages if prefs else (), sub.lang)
        speakers = list(sub.speakers)
        if sub.form == SOLO and prefs is not None and prefs.voice:
            speakers = [prefs.voice]
        speakers = check_speakers(sub.form, speakers, lang)
        choice = await selection.stories_for_listener(session, sub.listener_id, lang, sub.story_count)
        log.info(
            "briefings: podcast %s (listener %s) %s: stories %s from %s",
            sub.id,
            sub.listener_id,
            date,
            choice.story_ids,
            ",".join(sorted(set(choice.sources))) or "nothing",
        )
        script = await _briefing_script(session, choice.story_ids, lang, sub.form, speakers, date)
        return DailyPlan(script, subscription_briefing_key(sub), date)
    lang, form, count = str(payload["lang"]), str(payload["form"]), int(payload["story_count"])
    speakers = check_speakers(form, [str(x) for x in payload["speakers"]], lang)
    ids = await repository.top_story_ids(session, lang, count)
    script = await _briefing_script(session, ids, lang, form, speakers, date)
    return DailyPlan(script, briefing_key(lang, form, speakers, count), date)


async def write_daily(
    uow: UnitOfWork,
    payload: Mapping[str, Any],
    first_seen_at: datetime,
    rewriter: ScriptRewriter | None = None,
) -> tuple[ScriptRecord, Audio] | None:
    """Write the briefing a ``briefing.daily`` job asks for and queue its audio."""
    plan = await daily_plan(uow.session, payload)
    if plan is None:
        return None
    script = _for_the_ear(plan.script, rewriter)
    record, _new = await store_script(uow, script, briefing_key=plan.key, briefing_date=plan.date)
    audio = await request_audio(uow, record, first_seen_at)
    return record, audio


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
    """The day's briefing of the top trending stories for one shared configuration, and its queued audio."""
    payload = {
        "lang": lang,
        "form": form,
        "speakers": list(speakers),
        "story_count": story_count,
        "date": date,
    }
    written = await write_daily(uow, payload, first_seen_at)
    assert written is not None  # only a listener's podcast can be gone
    return written


def subscription_briefing_key(sub: PodcastSubscription) -> str:
    """Which briefings a podcast feed lists: its listener's own, or its shared configuration's."""
    if sub.listener_id is not None:
        return f"podcast:{sub.id}"
    return briefing_key(sub.lang, sub.form, sub.speakers, sub.story_count)


async def _briefing_script(
    session: AsyncSession, ids: Sequence[int], lang: str, form: str, speakers: Sequence[str], date: str
) -> Script:
    stories: list[StoryInput] = []
    for story_id in ids:
        stories.extend(s for s in await repository.story_inputs(session, story_id, [lang]) if s.lang == lang)
    if form == SOLO:
        return daily_briefing(stories, voice=speakers[0], lang=lang, date=date)
    return conversation_briefing(stories, voices=speakers, lang=lang, date=date)


async def prepare_rewrites(services: StageServices, jobs: Sequence[Job]) -> None:
    """Ask the chat model for the scripts a batch will write, before its transaction opens.

    The rewriter caches each answer by the template's content hash; ``write_story_scripts``
    and ``write_daily`` then read the cache inside the unit of work. A story that changed in
    between has another template, finds no answer and keeps its template.
    """
    rewriter = rewriter_for(services)
    if rewriter is None:
        return
    templates: list[Script] = []
    async with services.db.read() as session:
        for job in jobs:
            if job.topic == topics.BRIEFING_DUE:
                story_id = int(job.payload["story_id"])
                for story in await story_templates(session, services.settings, story_id):
                    templates += story.scripts
            elif job.topic == topics.BRIEFING_DAILY:
                plan = await daily_plan(session, job.payload)
                if plan is not None:
                    templates.append(plan.script)
    for template in {t.content_hash(): t for t in templates}.values():
        await asyncio.to_thread(rewriter.rewrite, template)


def daily_event(lang: str, form: str, speakers: Sequence[str], story_count: int, date: str) -> Event:
    """Ask the briefings stage for a configuration's briefing of ``date`` (one pending per day)."""
    key = briefing_key(lang, form, speakers, story_count)
    return Event(
        topics.BRIEFING_DAILY,
        f"daily:{key}:{date}",
        {"lang": lang, "form": form, "speakers": list(speakers), "story_count": story_count, "date": date},
        utcnow(),
    )


def listener_daily_event(podcast_id: int, date: str) -> Event:
    """Ask the briefings stage for one listener's podcast briefing of ``date`` (one pending per day)."""
    return Event(
        topics.BRIEFING_DAILY,
        f"daily:podcast:{podcast_id}:{date}",
        {"podcast_id": podcast_id, "date": date},
        utcnow(),
    )
