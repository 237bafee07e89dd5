"""API shapes for push devices."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class DeviceIn(BaseModel):
    """An app install's Expo push token."""

    token: str = Field(min_length=1, max_length=255, examples=["ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]"])
    platform: Literal["ios", "android"]
    language: Literal["en", "ko"] = "en"


class DeviceOut(BaseModel):
    id: int
    token: str
    platform: str
    language: str
    created_at: datetime
    updated_at: datetime
