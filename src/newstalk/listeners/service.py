"""Decisions about what listeners tell us: validated preferences and feedback events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.errors import InvalidInput, NotFound
from newstalk.kit import metrics
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.listeners import repository
from newstalk.listeners.models import FOLLOW, MUTE, FeedbackEvent, ListeningPosition, Preferences
from newstalk.listeners.schemas import FeedbackIn, PositionOut, PreferencesOut
from newstalk.speech.voices import VOICES
from newstalk.stories.category import CATEGORIES
from newstalk.stories.models import MERGED, Story

DEFAULTS: dict[str, Any] = {
    "categories": [],
    "keywords": [],
    "outlets": [],
    "languages": [],
    "muted_topics": [],
    "muted_outlets": [],
    "voice": None,
    "playback_speed": 1.0,
}


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for value in values:
        key = value.casefold() if isinstance(value, str) else value
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


async def get_preferences(session: AsyncSession, user_id: int) -> PreferencesOut:
    """A listener's preferences; defaults until they set any."""
    prefs = await repository.get_preferences(session, user_id)
    choices = await repository.outlet_choices(session, user_id)
    values = dict(DEFAULTS)
    if prefs is not None:
        values.update(
            categories=prefs.categories,
            keywords=prefs.keywords,
            languages=prefs.languages,
            muted_topics=prefs.muted_topics,
            voice=prefs.voice,
            playback_speed=prefs.playback_speed,
        )
    values["outlets"] = [c.source_id for c in choices if c.stance == FOLLOW]
    values["muted_outlets"] = [c.source_id for c in choices if c.stance == MUTE]
    return PreferencesOut(**values, updated_at=prefs.updated_at if prefs else None)


async def update_preferences(uow: UnitOfWork, user_id: int, changes: dict[str, Any]) -> PreferencesOut:
    """Apply changes over the stored preferences after checking every value; nothing is half-saved."""
    current = (await get_preferences(uow.session, user_id)).model_dump(exclude={"updated_at"})
    values = {**current, **changes}
    for name in ("categories", "keywords", "outlets", "languages", "muted_topics", "muted_outlets"):
        values[name] = _unique(values[name])
    values["categories"] = [c.lower() for c in values["categories"]]
    unknown = [c for c in values["categories"] if c not in CATEGORIES]
    if unknown:
        raise InvalidInput(
            f"preferences: unknown categories {', '.join(map(repr, unknown))}; use {', '.join(CATEGORIES)}"
        )
    if values["voice"] is not None and values["voice"] not in VOICES:
        raise InvalidInput(f"preferences: no voice {values['voice']!r}; use one of {', '.join(VOICES)}")
    both = set(values["outlets"]) & set(values["muted_outlets"])
    if both:
        raise InvalidInput(f"preferences: outlets {sorted(both)} are both followed and muted; pick one")
    followed = {k.casefold() for k in values["keywords"]} | set(values["categories"])
    clash = [t for t in values["muted_topics"] if t.casefold() in followed]
    if clash:
        raise InvalidInput(
            f"preferences: {', '.join(map(repr, clash))} are both followed and muted; pick one"
        )
    wanted = set(values["outlets"]) | set(values["muted_outlets"])
    missing = wanted - await repository.existing_source_ids(uow.session, wanted)
    if missing:
        raise InvalidInput(
            f"preferences: no sources {sorted(missing)}; see GET /api/v1/sources for outlet ids"
        )

    now = utcnow()
    prefs = await repository.get_preferences(uow.session, user_id)
    if prefs is None:
        prefs = Preferences(user_id=user_id)
        uow.session.add(prefs)
    prefs.categories = values["categories"]
    prefs.keywords = values["keywords"]
    prefs.languages = values["languages"]
    prefs.muted_topics = values["muted_topics"]
    prefs.voice = values["voice"]
    prefs.playback_speed = values["playback_speed"]
    prefs.updated_at = now
    choices = dict.fromkeys(values["outlets"], FOLLOW) | dict.fromkeys(values["muted_outlets"], MUTE)
    await repository.replace_outlet_choices(uow.session, user_id, choices)
    await uow.session.flush()
    return PreferencesOut(**values, updated_at=now)


async def record_feedback(uow: UnitOfWork, user_id: int, body: FeedbackIn) -> FeedbackEvent:
    """Store one feedback event; feedback on a merged story counts for the story it joined."""
    story = await uow.session.get(Story, body.story_id)
    if story is None:
        raise NotFound(f"feedback: no story {body.story_id}")
    story_id = story.merged_into_id if story.status == MERGED and story.merged_into_id else story.id
    event = FeedbackEvent(
        user_id=user_id, story_id=story_id, kind=body.event, percent=body.percent, created_at=utcnow()
    )
    return await repository.add_feedback(uow.session, event)


ACTIVE_WINDOWS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}


async def update_listener_gauges(session: AsyncSession) -> None:
    """Set the active-listener gauges from the database (every replica reports the same truth)."""
    now = utcnow()
    for window, span in ACTIVE_WINDOWS.items():
        metrics.ACTIVE_LISTENERS.labels(window).set(await repository.active_listeners(session, now - span))


async def get_position(session: AsyncSession, user_id: int, audio_id: str) -> PositionOut:
    """Where this listener stopped in one audio file (0 when never played)."""
    row = await repository.get_position(session, user_id, audio_id)
    if row is None:
        return PositionOut(audio_id=audio_id, position_s=0.0, updated_at=None)
    return PositionOut(audio_id=audio_id, position_s=row.position_s, updated_at=row.updated_at)


async def save_position(uow: UnitOfWork, user_id: int, audio_id: str, position_s: float) -> PositionOut:
    """Keep where this listener stopped, for every device they resume on."""
    now = utcnow()
    row = await repository.get_position(uow.session, user_id, audio_id)
    if row is None:
        row = ListeningPosition(user_id=user_id, audio_id=audio_id, position_s=position_s, updated_at=now)
        uow.session.add(row)
    else:
        row.position_s, row.updated_at = position_s, now
    await uow.session.flush()
    return PositionOut(audio_id=audio_id, position_s=position_s, updated_at=now)
