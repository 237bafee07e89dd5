"""Canonical articles and the tombstones that keep deleted ones from coming back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_listing", "published_at", "id"),
        Index("ix_articles_source_listing", "source_id", "published_at", "id"),
        Index("ix_articles_language_listing", "language", "published_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(BigId, ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    guid: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(512))
    summary: Mapped[str] = mapped_column(Text, default="")
    content_html: Mapped[str] = mapped_column(Text, default="")
    content_text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="und")
    image_url: Mapped[str | None] = mapped_column(String(2048))
    full_text_extracted: Mapped[bool] = mapped_column(default=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Tombstone(Base):
    """An article an admin deleted; its URL and content hash are never stored again."""

    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime())
