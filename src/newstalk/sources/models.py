"""Feed sources and their fetch state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime
from newstalk.sources.schedule import poll_reason

ACTIVE = "active"
PAUSED = "paused"


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (Index("ix_sources_due", "status", "next_fetch_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    feed_url: Mapped[str] = mapped_column(String(2048), unique=True)
    site_url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(512), default="")
    language: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(128))
    full_text: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    paused_reason: Mapped[str | None] = mapped_column(Text)

    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    fetch_interval_s: Mapped[int] = mapped_column(Integer)
    # Why fetch_interval_s is what it is (schedule.plan_poll); ``poll_reason`` adds error backoff.
    planned_reason: Mapped[str | None] = mapped_column("poll_reason", String(128))
    # An interval an admin set for this source (never under NEWSTALK_POLL_MIN_S); None: adaptive.
    poll_interval_s: Mapped[int | None] = mapped_column(Integer)
    next_fetch_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_new_item_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The newest item date the feed showed (not in the future): how long it has been silent.
    last_item_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[str | None] = mapped_column(String(32))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    fetch_count: Mapped[int] = mapped_column(Integer, default=0)
    not_modified_count: Mapped[int] = mapped_column(Integer, default=0)
    article_count: Mapped[int] = mapped_column(Integer, default=0)

    websub_hub: Mapped[str | None] = mapped_column(String(2048))
    websub_topic: Mapped[str | None] = mapped_column(String(2048))
    websub_secret: Mapped[str | None] = mapped_column(String(128))
    websub_state: Mapped[str | None] = mapped_column(String(16))
    websub_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last signed push the hub delivered; recent pushes turn polling into a safety net.
    last_push_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def poll_reason(self) -> str | None:
        """Why the source is polled when it is, for source health: error backoff while polls fail.

        Derived from ``consecutive_failures``, so any successful poll (however it is recorded)
        ends the backoff reason.
        """
        return poll_reason(self.consecutive_failures, self.planned_reason)
