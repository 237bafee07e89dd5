"""HTTP for the personal feed: GET /api/v1/feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from newstalk.deps import CurrentAccount, ServicesDep, SessionDep
from newstalk.feed import service
from newstalk.feed.schemas import FeedItemOut, FeedPageOut
from newstalk.kit.api import cached_json, page_cache
from newstalk.pipeline.context import StageServices
from newstalk.providers.embeddings import EmbeddingProvider, shared_embeddings

router = APIRouter(prefix="/api/v1", tags=["feed"])


def _embeddings(services: StageServices) -> EmbeddingProvider:
    # The process's shared provider; it loads its model on first use only.
    return shared_embeddings(services.resources, services.settings)


@router.get("/feed", response_model=FeedPageOut)
async def get_feed(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentAccount,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Your stories, ranked for you, each with why it is there; pages stay put while news arrives."""
    engine = service.engine_for(session, _embeddings(services))
    owner = principal.account_id
    cache = page_cache(request)

    def writes() -> int:
        # Moves when this listener writes through this process: their profile is re-read at once.
        return cache.owner_version(owner)

    current: list[Callable[[], bool]] = []

    async def make() -> bytes:
        body = await engine.page_json(
            session, owner, limit=limit, cursor=cursor, render=_render, writes=writes()
        )
        current.append(engine.still_current(owner, first_page=not cursor, writes=writes))
        return body

    # Cached for this listener alone, and answered again only while the feed engine says a
    # fresh request would give the same page (docs/feed.md, "Caching and invalidation").
    return await cached_json(request, make, owner=owner, valid=lambda: bool(current) and current[0]())


def _render(page: service.FeedPage) -> bytes:
    out = FeedPageOut(
        items=[
            FeedItemOut(
                story_id=i.story_id,
                rank=i.rank,
                score=i.score,
                reason=i.reason,
                why=i.why,
                title=i.title,
                category=i.category,
                languages=list(i.languages),
                keywords=list(i.keywords),
                outlets=list(i.outlets),
                article_count=i.article_count,
                outlet_count=i.outlet_count,
                trending_score=i.trending_score,
                first_seen_at=i.first_seen_at,
                last_seen_at=i.last_seen_at,
            )
            for i in page.items
        ],
        next_cursor=page.next_cursor,
        as_of=page.as_of,
        exploration_rate=service.EXPLORATION_RATE,
    )
    return out.model_dump_json().encode()
