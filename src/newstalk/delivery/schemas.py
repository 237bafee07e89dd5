"""API shapes for audio, on-demand voice and podcast subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Character = Literal["anchor", "host", "narrator", "reporter", "storyteller"]
AudioFormat = Literal["opus", "mp3"]
TEXT_MAX_CHARS = 2000  # about two minutes of speech


class VoiceRequest(BaseModel):
    story_id: int | None = None
    text: str | None = Field(None, max_length=TEXT_MAX_CHARS)
    character: Character | None = Field(
        None, description="A character; left out: your preferred voice (preferences), else the default anchor"
    )
    lang: Literal["en", "ko"] | None = None
    format: AudioFormat = "opus"


class AudioStatus(BaseModel):
    id: str
    status: Literal["pending", "ready", "failed", "superseded"] = Field(
        description="superseded: a story script replaced by a newer one before it was spoken;"
        " POST /api/v1/voice for it queues it again"
    )
    status_url: str = Field(description="Where to poll; carries the requested ?format=")
    format: AudioFormat = Field(description="The format of `url` and `size`: the one requested")
    media_type: str = Field(description="The Content-Type `url` is served with")
    url: str | None = None
    transcript_url: str | None = None
    chapters_url: str | None = None
    duration_s: float | None = None
    size: int | None = None
    lang: str
    characters: list[str]
    script_id: int
    error: str | None = None
    voice_source: Literal["request", "preference", "default"] | None = Field(
        None,
        description="Answers to POST /voice only: where the voice came from (the request's character, "
        "your preferred voice, or the default)",
    )
    playback_speed: float | None = Field(
        None, description="Answers to POST /voice only: your preferred playback speed, a hint for the player"
    )


class PodcastCreate(BaseModel):
    title: str = Field("NewsTalk daily briefing", min_length=1, max_length=200)
    lang: Literal["en", "ko"] = "en"
    form: Literal["solo", "conversation"] = "solo"
    characters: list[Character] = Field(default=["anchor"], min_length=1, max_length=3)
    story_count: int = Field(5, ge=1, le=10)
    personal: bool | None = Field(
        None,
        description="Your own daily briefing from your feed and preferences (the default for listeners); "
        "false makes a shared feed of the top trending stories (admins only)",
    )


class Podcast(BaseModel):
    id: int
    title: str
    lang: str
    form: str
    characters: list[str]
    story_count: int
    personal: bool
    created_at: datetime
    revoked_at: datetime | None


class PodcastCreated(Podcast):
    token: str
    feed_url: str


class Briefing(BaseModel):
    """One of your daily briefings (a personal podcast feed's episode) and its audio."""

    id: int = Field(description="The briefing's script id")
    podcast_id: int = Field(description="The personal podcast feed it was written for")
    title: str
    date: str = Field(description="The UTC day it briefs, YYYY-MM-DD")
    lang: str
    form: str
    characters: list[str]
    story_ids: list[int] = Field(description="The stories it covers, in the order it reads them")
    estimated_s: float = Field(description="Estimated length before it is spoken")
    created_at: datetime
    audio: AudioStatus | None = Field(
        description="Its audio (poll `status_url` while pending); null until the speech stage takes it up"
    )


class BriefingPage(BaseModel):
    items: list[Briefing]
    next_cursor: str | None = None
