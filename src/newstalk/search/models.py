"""The search index: one row per searchable article or story, with its pre-tokenized terms.

Terms are computed in Python (Kiwi for Korean, stemming for English, see ``terms.py``)
and stored as a space-separated string, so SQLite's FTS5 table and PostgreSQL's
``tsvector`` (the 'simple' configuration, a generated column) index exactly the same
words. The FTS5 table and the ``tsv`` column live only in the migration: they are
dialect-specific and the ORM never writes them (SQLite triggers keep FTS5 in step).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime

ARTICLE = "article"
STORY = "story"


class SearchDoc(Base):
    """A searchable article or story; deleting the article or story deletes its row (cascade)."""

    __tablename__ = "search_docs"
    __table_args__ = (
        Index("ix_search_docs_indexed", "indexed_at"),
        Index("ix_search_docs_kind_time", "kind", "published_at"),
        CheckConstraint(
            "(kind = 'article' AND article_id IS NOT NULL AND story_id IS NULL) OR "
            "(kind = 'story' AND story_id IS NOT NULL AND article_id IS NULL)",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))
    article_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("articles.id", ondelete="CASCADE"), unique=True
    )
    story_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("stories.id", ondelete="CASCADE"), unique=True
    )
    # Articles: their source. Stories have several outlets: filtered through story_articles.
    source_id: Mapped[int | None] = mapped_column(BigId)
    # Space-separated language codes ("en", or "en ko" for a story covered in both).
    languages: Mapped[str] = mapped_column(String(64), default="")
    # A story's category; an article carries its story's, copied when the story changes.
    category: Mapped[str | None] = mapped_column(String(32))
    # Articles: published_at; stories: last_seen_at (what the time filters compare).
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    terms: Mapped[str] = mapped_column(Text, default="")
    # sha256 of the text the terms came from: unchanged text is never tokenized again.
    text_hash: Mapped[str] = mapped_column(String(64))
    # Whether an embedding exists (article_features.embedding or stories.centroid).
    has_vector: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on every change; the in-memory vector index reads changes since its last look.
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime())
