"""Claims found in articles, the evidence judged for each, and outlet credibility priors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime

# Verdicts, in the order a reader weighs them.
SUPPORTED = "supported"
REFUTED = "refuted"
DISPUTED = "disputed"
UNVERIFIED = "unverified"
VERDICTS = (SUPPORTED, REFUTED, DISPUTED, UNVERIFIED)

# Editor review states.
REVIEW_NONE = "none"
REVIEW_PENDING = "pending"
REVIEW_CONFIRMED = "confirmed"
REVIEW_OVERTURNED = "overturned"


class Claim(Base):
    """A check-worthy sentence of an article, with NewsTalk's verdict and an editor's, if any.

    ``start``/``end`` are character offsets into the article's ``content_text`` at the
    time of the check. ``verdict`` is the machine's; ``final_verdict`` is what readers
    see: the editor's decision when there is one, else the machine's.
    """

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("article_id", "start", "end", name="uq_claims_article_span"),
        Index("ix_claims_story", "story_id", "score"),
        Index("ix_claims_review", "review_status", "checked_at"),
        Index("ix_claims_source_verdict", "source_id", "final_verdict"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(BigId, ForeignKey("articles.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(BigId, ForeignKey("sources.id", ondelete="CASCADE"))
    story_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stories.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    verdict: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    final_verdict: Mapped[str] = mapped_column(String(16))
    explanation: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verifier: Mapped[str] = mapped_column(String(32))
    review_status: Mapped[str] = mapped_column(String(16), default=REVIEW_NONE)
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_verdict: Mapped[str | None] = mapped_column(String(16))
    verdict_at_review: Mapped[str | None] = mapped_column(String(16))
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Evidence(Base):
    """One sentence from another article judged against a claim."""

    __tablename__ = "claim_evidence"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int] = mapped_column(BigId, ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(BigId, ForeignKey("sources.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(16))  # "story" or "corpus"
    quote: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    stance: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    related: Mapped[float] = mapped_column(Float)
    retrieval_score: Mapped[float] = mapped_column(Float)
    conflicts: Mapped[list[str]] = mapped_column(JSON, default=list)


class OutletPrior(Base):
    """An editor's credibility prior for one outlet; outlets without a row use the settings' default."""

    __tablename__ = "outlet_priors"

    source_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    prior: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StoryCheck(Base):
    """When a story was last checked, and over which articles (a story unchanged is not re-checked)."""

    __tablename__ = "story_checks"

    story_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    story_version: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(64))
    claim_count: Mapped[int] = mapped_column(Integer)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
