"""Stories: groups of articles about one event, their members, and editors' decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime

OPEN = "open"
MERGED = "merged"


class Story(Base):
    __tablename__ = "stories"
    __table_args__ = (
        Index("ix_stories_recent", "status", "last_seen_at", "id"),
        Index("ix_stories_trending", "status", "trending_score", "id"),
        Index("ix_stories_category", "category", "last_seen_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    merged_into_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stories.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    category: Mapped[str | None] = mapped_column(String(32))
    category_score: Mapped[float | None] = mapped_column(Float)
    sentiment: Mapped[float | None] = mapped_column(Float)
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    outlet_count: Mapped[int] = mapped_column(Integer, default=0)
    trending_score: Mapped[float] = mapped_column(Float, default=0.0)
    trending_reason: Mapped[str | None] = mapped_column(Text)
    trending_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StoryArticle(Base):
    """An article's place in a story; ``pinned`` marks an editor's decision that must stick."""

    __tablename__ = "story_articles"
    __table_args__ = (Index("ix_story_articles_story", "story_id", "added_at"),)

    article_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    story_id: Mapped[int] = mapped_column(BigId, ForeignKey("stories.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str | None] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StoryBlock(Base):
    """An editor split this article out of this story: it never rejoins it."""

    __tablename__ = "story_blocks"

    story_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ArticleFeatures(Base):
    """What the stories stage computed for an article, kept so state can be rebuilt without recomputing."""

    __tablename__ = "article_features"

    article_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    entities: Mapped[list[str]] = mapped_column(JSON, default=list)
    sentiment: Mapped[float | None] = mapped_column(Float)
    lead: Mapped[list[str]] = mapped_column(JSON, default=list)
    duplicate_of_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    duplicate_score: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ArticleEmbedding(Base):
    """What the ``embed`` stage computed from an article, before the stories stage places it.

    One pass over the article gives the e5 vector of its headline and the other features
    clustering reads (MinHash, keywords, entities, lead, sentiment). ``content_hash`` and
    ``model`` say what it was computed from: a redelivered event finds the row and computes
    nothing. ``article_features`` copies it when the stories stage places the article.
    """

    __tablename__ = "article_embeddings"

    article_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    entities: Mapped[list[str]] = mapped_column(JSON, default=list)
    lead: Mapped[list[str]] = mapped_column(JSON, default=list)
    sentiment: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
