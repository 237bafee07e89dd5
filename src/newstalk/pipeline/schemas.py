"""API shapes for the pipeline's queue and dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


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


class DeadJobPage(BaseModel):
    items: list[DeadJobOut]
    next_cursor: str | None
