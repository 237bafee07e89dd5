"""API shapes for fact-checking."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

VerdictName = Literal["supported", "refuted", "disputed", "unverified"]


class EvidenceOut(BaseModel):
    outlet: str
    source_id: int | None
    article_id: int | None
    url: str
    quote: str
    start: int = Field(description="Character offset of the quote in the article's text")
    end: int
    language: str | None = None
    origin: Literal["story", "corpus"]
    stance: Literal["supports", "refutes", "neutral"]
    score: float = Field(description="Probability of the stance")
    related: float = Field(description="Probability that the quote is about the claim at all")
    conflicts: list[str] = Field(description="Numbers, dates or names that disagree with the claim")


class ReviewOut(BaseModel):
    status: Literal["none", "pending", "confirmed", "overturned"]
    reason: str | None = None
    verdict: VerdictName | None = None
    note: str | None = None
    reviewed_at: datetime | None = None


class ClaimOut(BaseModel):
    id: int | None = Field(description="None for ad-hoc checks, which are not stored")
    text: str
    article_id: int | None
    story_id: int | None
    outlet: str | None
    outlet_credibility: float | None
    url: str | None
    start: int = Field(description="Character offset of the claim in the article's text")
    end: int
    language: str
    checkworthiness: float
    kinds: list[str]
    verdict: VerdictName = Field(description="What readers see: the editor's verdict if reviewed")
    machine_verdict: VerdictName
    confidence: float
    explanation: str
    detail: dict[str, Any]
    verifier: str
    checked_at: datetime | None
    review: ReviewOut
    evidence: list[EvidenceOut]
    claim_review: dict[str, Any] = Field(description="schema.org ClaimReview (JSON-LD)")


class StoryFactcheck(BaseModel):
    story_id: int
    checked_at: datetime | None
    story_version: int | None
    verdicts: dict[str, int]
    claims: list[ClaimOut]


class AdhocRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)
    language: Literal["ko", "en"] | None = Field(None, description="Guessed from the script when left out")


class AdhocResult(BaseModel):
    claims: list[ClaimOut]


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["confirm", "overturn"]
    verdict: VerdictName | None = Field(None, description="The editor's verdict, required to overturn")
    note: str | None = Field(None, max_length=2000)


class ReviewPage(BaseModel):
    items: list[ClaimOut]
    next_cursor: str | None


class OutletCredibility(BaseModel):
    source_id: int
    outlet: str
    prior: float
    prior_is_default: bool
    credibility: float
    claims_checked: int
    claims_refuted: int
    claims_overturned: int


class PriorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prior: float = Field(gt=0, lt=1)
    note: str | None = Field(None, max_length=2000)
