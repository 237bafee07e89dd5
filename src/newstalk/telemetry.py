"""Client telemetry: the web and mobile apps report start time, crashes and playback errors.

``POST /api/v1/telemetry`` turns a batch of events into Prometheus counters and a histogram
and stores nothing else: no account, no address, no device id, no app version in a label
(the version is checked for shape and dropped, so label sets stay bounded). Unknown keys
are refused, so nothing personal can ride along; unknown event types are counted as
rejected and ignored, so an older server accepts a newer app's batch. The route is
rate-limited per client address (``POST /api/v1/telemetry`` in the route limits).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from newstalk.kit import metrics

router = APIRouter(tags=["telemetry"])

MAX_EVENTS = 50
# A start that takes longer than ten minutes is a clock error, not a start time.
MAX_START_MS = 600_000
EVENT_TYPES = frozenset({"start", "crash", "playback_error"})


class ClientEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Annotated[str, Field(min_length=1, max_length=32, description="start, crash or playback_error")]
    duration_ms: Annotated[
        int | None, Field(None, ge=0, description="For start: launch to first usable screen, in ms")
    ] = None


class TelemetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Literal["web", "ios", "android"]
    app_version: Annotated[str, Field(pattern=r"^\d{1,4}(\.\d{1,4}){0,3}([-+][0-9A-Za-z.-]{1,32})?$")]
    events: Annotated[list[ClientEvent], Field(min_length=1, max_length=MAX_EVENTS)]


class TelemetryOut(BaseModel):
    accepted: int
    ignored: int


def record(body: TelemetryIn) -> TelemetryOut:
    """Count each event into its metric; return how many were taken and how many ignored."""
    accepted = ignored = 0
    for event in body.events:
        if event.type not in EVENT_TYPES:
            metrics.CLIENT_EVENTS_REJECTED.labels("unknown_type").inc()
            ignored += 1
            continue
        if event.type == "start":
            if event.duration_ms is not None and event.duration_ms > MAX_START_MS:
                metrics.CLIENT_EVENTS_REJECTED.labels("out_of_range").inc()
                ignored += 1
                continue
            metrics.CLIENT_STARTS.labels(body.platform).inc()
            if event.duration_ms is not None:
                metrics.CLIENT_START_SECONDS.labels(body.platform).observe(event.duration_ms / 1000)
        elif event.type == "crash":
            metrics.CLIENT_CRASHES.labels(body.platform).inc()
        else:
            metrics.CLIENT_PLAYBACK_ERRORS.labels(body.platform).inc()
        accepted += 1
    return TelemetryOut(accepted=accepted, ignored=ignored)


@router.post("/api/v1/telemetry", status_code=status.HTTP_202_ACCEPTED, response_model=TelemetryOut)
async def post_telemetry(body: TelemetryIn) -> TelemetryOut:
    """Report app starts, crashes and playback errors (no sign-in; nothing personal is kept)."""
    return record(body)
