"""API shapes for webhooks and their delivery log (the SSE event formats are in docs/live.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from newstalk.listeners.schemas import Language
from newstalk.pipeline.topics import LiveEventType

EventType = LiveEventType


class WebhookIn(BaseModel):
    """A URL and the events it wants; empty lists mean any event type, category or language."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2048, description="http(s) URL that receives POSTs")
    description: str = Field("", max_length=200)
    event_types: list[EventType] = Field(default_factory=list, max_length=3)
    categories: list[str] = Field(default_factory=list, max_length=20, description="e.g. economy, tech")
    languages: list[Language] = Field(default_factory=list, max_length=10, description="e.g. ko, en")


class WebhookPatch(BaseModel):
    """Change only the fields sent; ``active: true`` re-enables a disabled webhook."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=8, max_length=2048)
    description: str | None = Field(None, max_length=200)
    event_types: list[EventType] | None = Field(None, max_length=3)
    categories: list[str] | None = Field(None, max_length=20)
    languages: list[Language] | None = Field(None, max_length=10)
    active: bool | None = None


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    description: str
    event_types: list[str]
    categories: list[str]
    languages: list[str]
    active: bool
    disabled_reason: str | None
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = Field(
        description="After a secret rotation: until when deliveries are signed with the previous "
        "secret too (a second v1= entry); null when there is no previous secret"
    )
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signing secret (whsec_...); shown only this once")


class WebhookRotated(WebhookOut):
    secret: str = Field(
        description="The new signing secret (whsec_...); shown only this once. The previous one "
        "keeps signing beside it until previous_secret_expires_at"
    )


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None
    response_excerpt: str | None
    next_retry_at: datetime | None


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str = Field(description="The X-NewsTalk-Delivery header; the same on every retry")
    event_type: str
    event_id: int | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None
