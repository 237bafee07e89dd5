"""API shapes for preferences and feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Language = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2}$")]
MAX_ID = 2**63 - 1
SourceId = Annotated[int, Field(ge=1, le=MAX_ID)]
FeedbackKind = Literal["opened", "listened", "skipped", "liked", "disliked", "shared"]


class PreferencesIn(BaseModel):
    """PUT replaces every field (missing ones reset to their defaults); PATCH changes the given ones."""

    model_config = ConfigDict(extra="forbid")

    categories: list[str] = Field(
        default_factory=list, max_length=20, description="Story categories you follow, e.g. economy, tech"
    )
    keywords: list[Term] = Field(
        default_factory=list, max_length=50, description="Topics you follow (경제, AI)"
    )
    outlets: list[SourceId] = Field(default_factory=list, max_length=200, description="Source ids you follow")
    languages: list[Language] = Field(
        default_factory=list, max_length=10, description="ISO 639-1, e.g. ko, en"
    )
    muted_topics: list[Term] = Field(
        default_factory=list, max_length=50, description="Keywords or categories to hide"
    )
    muted_outlets: list[SourceId] = Field(
        default_factory=list, max_length=200, description="Source ids to hide"
    )
    voice: str | None = Field(
        None,
        max_length=32,
        description="A character: anchor, host, narrator, reporter or storyteller; null: the default",
    )
    playback_speed: float = Field(1.0, ge=0.8, le=2.0, description="0.8-2.0")


class PreferencesOut(BaseModel):
    categories: list[str]
    keywords: list[str]
    outlets: list[int]
    languages: list[str]
    muted_topics: list[str]
    muted_outlets: list[int]
    voice: str | None
    playback_speed: float
    updated_at: datetime | None


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    story_id: int = Field(ge=1, le=MAX_ID)
    event: FeedbackKind
    percent: int | None = Field(
        None, ge=0, le=100, description="How much was heard; only (and always) for listened"
    )

    @model_validator(mode="after")
    def _percent_only_for_listened(self) -> Self:
        if self.event == "listened" and self.percent is None:
            raise ValueError("a listened event needs percent (0-100)")
        if self.event != "listened" and self.percent is not None:
            raise ValueError(f"percent is only for listened events, not {self.event}")
        return self


class FeedbackOut(BaseModel):
    id: int
    story_id: int
    event: FeedbackKind
    percent: int | None
    created_at: datetime


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    next_cursor: str | None


class PositionIn(BaseModel):
    """Where playback stopped, in seconds from the start of the file."""

    position_s: float = Field(ge=0, le=86_400)


class PositionOut(BaseModel):
    audio_id: str
    position_s: float
    updated_at: datetime | None
