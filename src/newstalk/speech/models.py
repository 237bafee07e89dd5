"""Rendered audio: one row per synthesis of a script, its files in the audio store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newstalk.kit.db import Base, BigId, UTCDateTime

PENDING = "pending"
READY = "ready"
FAILED = "failed"
# A story script's audio still queued when a newer script of the same story was written:
# listeners only hear the newest, so the speech stage skips it (requesting it again requeues it).
SUPERSEDED = "superseded"


class Audio(Base):
    """A script spoken by its characters; ``id`` is the content address of that rendering.

    The id hashes the script and the engines and voices that speak it, so the same text in
    the same voice is one row and one set of files, synthesized once. Opus and MP3 are
    encoded from the same PCM; ``*_sha256`` (of the bytes) is the HTTP ETag.
    """

    __tablename__ = "audio"
    __table_args__ = (Index("ix_audio_script", "script_id"), Index("ix_audio_status", "status", "created_at"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    script_id: Mapped[int] = mapped_column(BigId, ForeignKey("scripts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    lang: Mapped[str] = mapped_column(String(16))
    speakers: Mapped[list[str]] = mapped_column(JSON, default=list)
    engine_version: Mapped[str] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    opus_key: Mapped[str | None] = mapped_column(String(80))
    opus_size: Mapped[int | None] = mapped_column(BigInteger)
    opus_sha256: Mapped[str | None] = mapped_column(String(64))
    mp3_key: Mapped[str | None] = mapped_column(String(80))
    mp3_size: Mapped[int | None] = mapped_column(BigInteger)
    mp3_sha256: Mapped[str | None] = mapped_column(String(64))
    chapters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    vtt: Mapped[str | None] = mapped_column(Text)
    synth_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
