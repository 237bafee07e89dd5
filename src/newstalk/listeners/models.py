"""A listener's preferences, followed and muted outlets, and feedback events on stories."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime

FEEDBACK_KINDS = ("opened", "listened", "skipped", "liked", "disliked", "shared")
FOLLOW = "follow"
MUTE = "mute"


class Preferences(Base):
    """One row per listener; lists of short strings live in JSON columns."""

    __tablename__ = "listener_preferences"
    __table_args__ = (CheckConstraint("playback_speed >= 0.8 AND playback_speed <= 2.0", name="speed"),)

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    muted_topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    voice: Mapped[str | None] = mapped_column(String(32))
    playback_speed: Mapped[float] = mapped_column(Float, default=1.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutletChoice(Base):
    """A listener follows or mutes an outlet (a source); gone with either of them."""

    __tablename__ = "listener_outlets"
    __table_args__ = (
        CheckConstraint("stance IN ('follow', 'mute')", name="stance"),
        Index("ix_listener_outlets_source", "source_id"),
    )

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    stance: Mapped[str] = mapped_column(String(8))


class FeedbackEvent(Base):
    """Something a listener did with a story; ``percent`` only (and always) for ``listened``."""

    __tablename__ = "feedback_events"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('opened', 'listened', 'skipped', 'liked', 'disliked', 'shared')", name="kind"
        ),
        CheckConstraint(
            "(kind = 'listened' AND percent IS NOT NULL AND percent >= 0 AND percent <= 100)"
            " OR (kind <> 'listened' AND percent IS NULL)",
            name="percent",
        ),
        Index("ix_feedback_events_user", "user_id", "id"),
        Index("ix_feedback_events_story", "story_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    story_id: Mapped[int] = mapped_column(BigId, ForeignKey("stories.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    percent: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ListeningPosition(Base):
    """Where a listener stopped in one audio file, so another device resumes there."""

    __tablename__ = "listening_positions"
    __table_args__ = (CheckConstraint("position_s >= 0", name="position"),)

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    audio_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position_s: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
