"""HTTP for articles: /api/v1/news."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from newstalk.articles import repository, service
from newstalk.articles.schemas import ArticleOut, ArticlePage
from newstalk.deps import AdminDep, DbDep
from newstalk.errors import InvalidInput
from newstalk.kit.api import cached_json, decode_cursor, encode_cursor, invalidate_pages

router = APIRouter(prefix="/api/v1/news", tags=["news"])


@router.get("", response_model=ArticlePage)
async def list_news(
    request: Request,
    db: DbDep,
    source_id: Annotated[int | None, Query(ge=1)] = None,
    language: Annotated[str | None, Query(min_length=2, max_length=16, pattern="^[a-zA-Z-]+$")] = None,
    since: Annotated[datetime | None, Query(description="Published at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Published before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Articles newest first, filtered by source, language and publication time; stable cursor pages.

    Pages are the same for every caller and cached for a few seconds (ETag, Cache-Control).
    """
    since, until = _aware(since, "since"), _aware(until, "until")
    after = None
    if cursor:
        published, last_id = decode_cursor(cursor, 2)
        try:
            after = (datetime.fromisoformat(published), int(last_id))
        except (TypeError, ValueError):
            raise InvalidInput("news: cursor is not valid; pass the next_cursor of a previous page") from None

    async def render() -> bytes:
        async with db.reading() as session:
            rows = await repository.list_page(
                session,
                source_id=source_id,
                language=language.lower() if language else None,
                since=since,
                until=until,
                after=after,
                limit=limit + 1,
            )
        page = ArticlePage.model_validate({"items": [r._asdict() for r in rows[:limit]], "next_cursor": None})
        if len(rows) > limit and page.items:
            page.next_cursor = encode_cursor(page.items[-1].published_at.isoformat(), page.items[-1].id)
        return page.model_dump_json().encode()

    return await cached_json(request, render)


@router.get("/{article_id}", response_model=ArticleOut)
async def get_news(article_id: int, db: DbDep) -> ArticleOut:
    async with db.reading() as session:
        return ArticleOut.model_validate(await service.get_article(session, article_id))


@router.delete("/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_news(
    request: Request,
    article_id: int,
    db: DbDep,
    _: AdminDep,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Delete an article; a tombstone keeps it from being ingested again."""
    async with db.unit() as uow:
        await service.delete_article(uow, article_id, reason=reason)
    invalidate_pages(request, router.prefix)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"news: {name} needs a timezone, e.g. 2026-11-26T09:00:00Z")
    return value
