"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from newstalk.deps import ServicesDep
from newstalk.factcheck.service import update_agreement_gauge
from newstalk.kit import metrics, migrate
from newstalk.listeners.service import update_listener_gauges
from newstalk.sources.tasks import refresh_queue_depth

router = APIRouter(tags=["ops"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(services: ServicesDep) -> JSONResponse:
    """The database answers and its schema is at the code's migration head."""
    try:
        async with services.db.engine.execution_options(newstalk_readonly=True).connect() as conn:
            await conn.execute(text("SELECT 1"))
            current = await conn.run_sync(migrate.revision_of)
    except Exception as exc:  # any failure means not ready; say which
        return JSONResponse(
            {"status": "unavailable", "detail": f"database: {type(exc).__name__}"}, status_code=503
        )
    head = migrate.head_revision()
    if current != head:
        detail = f"migrations: database at {current}, code at {head}; run 'newstalk db upgrade'"
        return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
    return JSONResponse({"status": "ready", "revision": current})


@router.get("/metrics", include_in_schema=False)
async def prometheus(services: ServicesDep) -> Response:
    try:
        await refresh_queue_depth(services)
        async with services.db.read() as session:
            await update_agreement_gauge(session)
            await update_listener_gauges(session)
    except Exception:  # metrics still render when the database is away
        metrics.QUEUE_DEPTH.clear()
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
