"""Spoken scripts (one per story version that changed what is said, and daily briefings), and the
podcast subscriptions that say which daily briefings a private feed gets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime

STORY = "story"
BRIEFING = "briefing"
TEXT = "text"


class ScriptRecord(Base):
    """A script as written; ``content_hash`` (language + lines) makes the same script one row."""

    __tablename__ = "scripts"
    __table_args__ = (
        Index("ix_scripts_story", "story_id", "id"),
        Index("ix_scripts_briefing", "kind", "briefing_key", "briefing_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    story_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stories.id", ondelete="SET NULL"))
    story_version: Mapped[int | None] = mapped_column(Integer)
    lang: Mapped[str] = mapped_column(String(16))
    form: Mapped[str] = mapped_column(String(16))
    speakers: Mapped[list[str]] = mapped_column(JSON, default=list)
    title: Mapped[str] = mapped_column(Text)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    story_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Daily briefings: which configuration (language, form, characters) and which day.
    briefing_key: Mapped[str | None] = mapped_column(String(128))
    briefing_date: Mapped[str | None] = mapped_column(String(10))
    word_count: Mapped[int] = mapped_column(Integer)
    estimated_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PodcastSubscription(Base):
    """One private podcast feed of daily briefings (served by ``delivery``); only the sha256 of its token is stored (the token is shown once).

    ``listener_id`` is for the listeners issue: a subscription an admin creates now can be
    handed to a listener account later (no foreign key until that table exists).
    """

    __tablename__ = "podcast_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(16))
    form: Mapped[str] = mapped_column(String(16))
    speakers: Mapped[list[str]] = mapped_column(JSON, default=list)
    story_count: Mapped[int] = mapped_column(Integer)
    listener_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
