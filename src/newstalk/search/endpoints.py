"""HTTP for search: GET /api/v1/search (anonymous allowed; rate limited like every route)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from newstalk.deps import ServicesDep
from newstalk.errors import InvalidInput
from newstalk.kit.api import decode_cursor, encode_cursor
from newstalk.search import service
from newstalk.search.models import ARTICLE, STORY
from newstalk.search.repository import Filters
from newstalk.search.schemas import SearchPage
from newstalk.stories.endpoints import Category

router = APIRouter(prefix="/api/v1", tags=["search"])

MAX_QUERY_CHARS = 500


@router.get("/search", response_model=SearchPage)
async def search(
    services: ServicesDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description="Plain words in any language (at most 500 characters); operators and quotes are just text",
        ),
    ],
    mode: Annotated[
        Literal["hybrid", "text", "semantic"],
        Query(
            description="text: words (Kiwi/stemmed); semantic: meaning, across languages; hybrid: both fused"
        ),
    ] = "hybrid",
    type: Annotated[
        Literal["stories", "articles"] | None, Query(description="Only stories or only articles")
    ] = None,
    language: Annotated[str | None, Query(min_length=2, max_length=16, pattern="^[a-zA-Z-]+$")] = None,
    category: Category | None = None,
    source_id: Annotated[
        int | None, Query(ge=1, le=2**53, description="Articles from this outlet, stories it covers")
    ] = None,
    since: Annotated[
        datetime | None,
        Query(description="Articles published / stories last seen at or after (ISO 8601 with timezone)"),
    ] = None,
    until: Annotated[datetime | None, Query(description="... before (ISO 8601 with timezone)")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SearchPage:
    """Search stories and articles by words and by meaning, with filters; pages of at most 50."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"search: {name} needs a timezone, e.g. 2026-11-26T09:00:00Z")
    offset = 0
    if cursor:
        (raw,) = decode_cursor(cursor, 1)
        if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw < service.MAX_RESULTS:
            raise InvalidInput("search: cursor is not valid; pass the next_cursor of a previous page")
        offset = raw
    filters = Filters(
        kind=None if type is None else STORY if type == "stories" else ARTICLE,
        language=language.lower() if language else None,
        category=category,
        source_id=source_id,
        since=since,
        until=until,
    )
    request = service.SearchRequest(q=q, mode=mode, filters=filters, limit=limit, offset=offset)
    page, more = await service.search(services, request)
    if more:
        page.next_cursor = encode_cursor(offset + limit)
    return page
