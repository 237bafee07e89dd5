"""HTTP for stories: /api/v1/stories, /api/v1/trending and the editor's split and merge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.deps import DbDep, EditorDep
from newstalk.errors import InvalidInput, NotFound
from newstalk.kit.api import cached_json, decode_cursor, encode_cursor, invalidate_pages
from newstalk.sources.models import Source
from newstalk.stories import repository, service
from newstalk.stories.models import ArticleFeatures, Story, StoryArticle
from newstalk.stories.schemas import (
    MergeRequest,
    OutletCoverage,
    SplitRequest,
    StoryDetail,
    StoryPage,
    StorySummary,
    TimelineEntry,
    summary_of,
)

router = APIRouter(prefix="/api/v1", tags=["stories"])

Category = Literal["politics", "economy", "society", "world", "tech", "culture", "sports", "entertainment"]
# Pages list stories and trending show; an editor's split or merge clears them at once.
LIST_PATHS = ("/api/v1/stories", "/api/v1/trending")
_SUMMARIES = TypeAdapter(list[StorySummary])


@router.get("/stories", response_model=StoryPage)
async def list_stories(
    request: Request,
    db: DbDep,
    category: Category | None = None,
    language: Annotated[str | None, Query(min_length=2, max_length=16, pattern="^[a-zA-Z-]+$")] = None,
    since: Annotated[
        datetime | None, Query(description="Last seen at or after (ISO 8601, with timezone)")
    ] = None,
    until: Annotated[datetime | None, Query(description="Last seen before (ISO 8601, with timezone)")] = None,
    sort: Literal["trending", "recent"] = "recent",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Stories, newest or most trending first; filter by category, language and time.

    Pages are the same for every caller and cached for a few seconds (ETag, Cache-Control).
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"stories: {name} needs a timezone, e.g. 2026-11-26T09:00:00Z")
    after: tuple[float | datetime, int] | None = None
    if cursor:
        value, last_id = decode_cursor(cursor, 2)
        try:
            after = (float(value) if sort == "trending" else datetime.fromisoformat(value), int(last_id))
        except (TypeError, ValueError):
            raise InvalidInput(
                "stories: cursor is not valid for this sort; pass the next_cursor of a previous page"
            ) from None

    async def render() -> bytes:
        async with db.reading() as session:
            rows = await repository.list_page(
                session,
                category=category,
                language=language.lower() if language else None,
                since=since,
                until=until,
                sort=sort,
                after=after,
                limit=limit + 1,
            )
        next_cursor = None
        if len(rows) > limit:
            tail = rows[limit - 1]
            next_cursor = encode_cursor(
                tail.trending_score if sort == "trending" else tail.last_seen_at.isoformat(), tail.id
            )
        page = StoryPage(items=[summary_of(s) for s in rows[:limit]], next_cursor=next_cursor)
        return page.model_dump_json().encode()

    return await cached_json(request, render)


@router.get("/trending", response_model=list[StorySummary])
async def trending_stories(
    request: Request,
    db: DbDep,
    category: Category | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    """The most trending open stories, each with why it trends."""

    async def render() -> bytes:
        async with db.reading() as session:
            rows = await repository.trending(session, category=category, limit=limit)
        return _SUMMARIES.dump_json([summary_of(s) for s in rows])

    return await cached_json(request, render)


@router.get("/stories/{story_id}", response_model=StoryDetail)
async def get_story(story_id: int, db: DbDep) -> StoryDetail:
    """A story with its coverage by outlet, timeline, keywords, summary and why it trends."""
    async with db.reading() as session:
        story = await session.get(Story, story_id)
        if story is None:
            raise NotFound(f"stories: no story with id {story_id}")
        return await _detail(session, story)


async def _detail(session: AsyncSession, story: Story) -> StoryDetail:
    rows = (
        await session.execute(
            select(Article, Source.title, StoryArticle.reason, ArticleFeatures.duplicate_of_id)
            .join(StoryArticle, StoryArticle.article_id == Article.id)
            .join(Source, Source.id == Article.source_id)
            .outerjoin(ArticleFeatures, ArticleFeatures.article_id == Article.id)
            .where(StoryArticle.story_id == story.id)
            .order_by(Article.first_seen_at, Article.id)
        )
    ).all()
    timeline = [
        TimelineEntry(
            article_id=a.id,
            source_id=a.source_id,
            outlet=outlet,
            title=a.title,
            url=a.url,
            language=a.language,
            published_at=a.published_at,
            first_seen_at=a.first_seen_at,
            duplicate_of=dup,
            reason=reason,
        )
        for a, outlet, reason, dup in rows
    ]
    coverage: dict[int, OutletCoverage] = {}
    for entry in timeline:
        seen = coverage.get(entry.source_id)
        if seen is None:
            coverage[entry.source_id] = OutletCoverage(
                source_id=entry.source_id,
                outlet=entry.outlet,
                articles=1,
                headline=entry.title,
                url=entry.url,
                language=entry.language,
                first_seen_at=entry.first_seen_at,
            )
        else:
            seen.articles += 1
    base = summary_of(story)
    return StoryDetail(
        **base.model_dump(),
        coverage=list(coverage.values()),
        timeline=timeline,
        merged_into=story.merged_into_id,
    )


@router.post("/stories/{story_id}/split", response_model=StorySummary, status_code=201)
async def split_story(
    request: Request, story_id: int, body: SplitRequest, db: DbDep, _: EditorDep
) -> StorySummary:
    """Move articles out of a wrong merge into a new story; they won't be put back."""
    async with db.unit() as uow:
        new = await service.split(uow, story_id, body.article_ids)
    invalidate_pages(request, *LIST_PATHS)
    return summary_of(new)


@router.post("/stories/{story_id}/merge", response_model=StorySummary)
async def merge_story(
    request: Request, story_id: int, body: MergeRequest, db: DbDep, _: EditorDep
) -> StorySummary:
    """Fold another story into this one; later coverage of either joins this one."""
    async with db.unit() as uow:
        keep = await service.merge(uow, story_id, body.story_id)
    invalidate_pages(request, *LIST_PATHS)
    return summary_of(keep)
