"""HTTP for the pipeline: queue depth, dead letters and their retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from newstalk.deps import AdminDep, ServicesDep
from newstalk.errors import NotFound
from newstalk.kit.api import decode_cursor, encode_cursor
from newstalk.pipeline.schemas import DeadJobOut, DeadJobPage, QueueDepthOut

router = APIRouter(prefix="/api/v1/pipeline", tags=["pipeline"])


@router.get("/queue", response_model=list[QueueDepthOut])
async def queue_depth(services: ServicesDep) -> list[QueueDepthOut]:
    """Jobs per stage and status (ready, running, dead)."""
    return [
        QueueDepthOut(stage=d.stage, status=d.status, count=d.count) for d in await services.transport.depth()
    ]


@router.get("/dead", response_model=DeadJobPage)
async def dead_jobs(
    services: ServicesDep,
    _: AdminDep,
    stage: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeadJobPage:
    """Dead-lettered jobs with the error that killed them."""
    after = int(decode_cursor(cursor, 1)[0]) if cursor else None
    rows = await services.transport.dead_jobs(stage=stage, limit=limit + 1, after_id=after)
    items = [DeadJobOut.model_validate(r) for r in rows[:limit]]
    return DeadJobPage(
        items=items,
        next_cursor=encode_cursor(items[-1].id) if len(rows) > limit and items else None,
    )


@router.post("/dead/{job_id}/retry", status_code=status.HTTP_204_NO_CONTENT)
async def retry_dead(job_id: int, services: ServicesDep, _: AdminDep) -> Response:
    """Put a dead job back in line with its attempts reset."""
    if not await services.transport.retry_dead(job_id):
        raise NotFound(f"pipeline: no dead job with id {job_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
