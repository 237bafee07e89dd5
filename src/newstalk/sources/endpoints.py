"""HTTP for sources: /api/v1/sources and OPML."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from newstalk.deps import AdminDep, DbDep, ServicesDep
from newstalk.kit.api import decode_cursor, encode_cursor
from newstalk.sources import repository, service
from newstalk.sources.opml import parse_opml, render_opml
from newstalk.sources.schemas import (
    OpmlImportResult,
    SourceCreate,
    SourceHealth,
    SourceOut,
    SourcePage,
    SourceUpdate,
)

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


@router.get("", response_model=SourcePage)
async def list_sources(
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SourcePage:
    """Subscribed sources in id order."""
    after = int(decode_cursor(cursor, 1)[0]) if cursor else None
    async with db.reading() as session:
        rows = await repository.list_page(session, after_id=after, limit=limit + 1)
    items = [SourceOut.model_validate(r) for r in rows[:limit]]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit and items else None
    return SourcePage(items=items, next_cursor=next_cursor)


@router.post("", response_model=SourceOut, status_code=status.HTTP_201_CREATED)
async def create_source(body: SourceCreate, services: ServicesDep, db: DbDep, _: AdminDep) -> SourceOut:
    """Subscribe to a feed URL or a page that links to its feed; the first poll starts at once."""
    async with db.unit() as uow:
        source = await service.add_source(
            uow,
            services.settings,
            services.fetcher,
            url=str(body.url),
            title=body.title,
            category=body.category,
            language=body.language,
            full_text=body.full_text,
            poll_interval_s=body.poll_interval_s,
        )
    return SourceOut.model_validate(source)


@router.get("/opml", response_class=Response, responses={200: {"content": {"text/x-opml": {}}}})
async def export_opml(db: DbDep) -> Response:
    """Every source as an OPML 2.0 document."""
    async with db.reading() as session:
        outlines = await service.export_outlines(session)
    return Response(render_opml(outlines, title="NewsTalk sources"), media_type="text/x-opml; charset=utf-8")


@router.post("/opml", response_model=OpmlImportResult)
async def import_opml(
    services: ServicesDep,
    db: DbDep,
    _: AdminDep,
    document: Annotated[bytes, Body(media_type="text/x-opml", max_length=5_000_000)],
) -> OpmlImportResult:
    """Subscribe to every feed in an OPML document (already subscribed ones are skipped)."""
    outlines = parse_opml(document)
    async with db.unit() as uow:
        added, skipped, errors = await service.import_outlines(uow, services.settings, outlines)
    return OpmlImportResult(added=added, skipped=skipped, errors=errors)


@router.get("/{source_id}", response_model=SourceOut)
async def get_source(source_id: int, db: DbDep) -> SourceOut:
    async with db.reading() as session:
        return SourceOut.model_validate(await service.get_source(session, source_id))


@router.get("/{source_id}/health", response_model=SourceHealth)
async def source_health(source_id: int, db: DbDep) -> SourceHealth:
    """Fetch state: last outcome and error, failures in a row, pause reason, WebSub, and the poll
    interval with its reason ("freshness target", "busy feed", "dormant: last item 4 days ago",
    "error backoff: 3 failures in a row", "set by source", "websub push + safety poll")."""
    async with db.reading() as session:
        return SourceHealth.model_validate(await service.get_source(session, source_id))


@router.patch("/{source_id}", response_model=SourceOut)
async def update_source(
    source_id: int, body: SourceUpdate, db: DbDep, services: ServicesDep, _: AdminDep
) -> SourceOut:
    """Change a source; status 'active' resumes a paused one and polls it now."""
    async with db.unit() as uow:
        source = await service.update_source(
            uow, services.settings, source_id, body.model_dump(exclude_unset=True)
        )
    return SourceOut.model_validate(source)


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_source(source_id: int, db: DbDep, _: AdminDep) -> Response:
    """Unsubscribe and delete the source's articles."""
    async with db.unit() as uow:
        await service.delete_source(uow, source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
