"""Podcast subscriptions: a private feed of daily briefings behind a secret token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime


class PodcastSubscription(Base):
    """One private feed; only the sha256 of its token is stored (the token is shown once).

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
