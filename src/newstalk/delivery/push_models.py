"""Push notification targets: a listener's devices (Expo push tokens), gone with the account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime

PLATFORMS = ("ios", "android")


class PushDevice(Base):
    """One app install that may receive pushes; a token belongs to one listener at a time."""

    __tablename__ = "push_devices"
    __table_args__ = (
        CheckConstraint("platform IN ('ios', 'android')", name="platform"),
        Index("ix_push_devices_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(255), unique=True)
    platform: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
