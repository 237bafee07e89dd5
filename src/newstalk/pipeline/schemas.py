"""API shapes for the pipeline's queue and dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from newstalk.kit.bus import CONTEXT_KEY


class QueueDepthOut(BaseModel):
    stage: str
    status: str
    count: int


class DeadJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stage: str
    topic: str
    dedup_key: str | None
    attempts: int
    last_error: str | None
    payload: dict[str, Any]
    first_seen_at: datetime
    created_at: datetime

    @field_validator("payload")
    @classmethod
    def _without_origin(cls, payload: dict[str, Any]) -> dict[str, Any]:
        """What the handler sees; the event's origin (ids, trace headers) stays internal."""
        return {k: v for k, v in payload.items() if k != CONTEXT_KEY}


class DeadJobPage(BaseModel):
    items: list[DeadJobOut]
    next_cursor: str | None
