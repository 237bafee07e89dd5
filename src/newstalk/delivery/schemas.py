"""API shapes for audio, on-demand voice and podcast subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Character = Literal["anchor", "host", "narrator", "reporter", "storyteller"]
TEXT_MAX_CHARS = 2000  # about two minutes of speech


class VoiceRequest(BaseModel):
    story_id: int | None = None
    text: str | None = Field(None, max_length=TEXT_MAX_CHARS)
    character: Character = "anchor"
    lang: Literal["en", "ko"] | None = None
    format: Literal["opus", "mp3"] = "opus"


class AudioStatus(BaseModel):
    id: str
    status: Literal["pending", "ready", "failed"]
    status_url: str
    url: str | None = None
    transcript_url: str | None = None
    chapters_url: str | None = None
    duration_s: float | None = None
    size: int | None = None
    lang: str
    characters: list[str]
    script_id: int
    error: str | None = None


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
