"""Queries of the search index: full text on either database, vectors, hydration, writes.

SQLite matches through the FTS5 table ``search_fts`` and ranks with ``bm25``; PostgreSQL
matches the generated ``tsv`` column through its GIN index and ranks with
``ts_rank_cd``. Both index the same pre-tokenized terms, and a query is built only from
``\\w+`` terms passed as quoted strings or bound parameters, never from the user's text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    column,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.search.models import ARTICLE, STORY, SearchDoc
from newstalk.sources.models import Source
from newstalk.stories.models import OPEN, ArticleEmbedding, ArticleFeatures, Story, StoryArticle

_FTS = table("search_fts", column("rowid"))
_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
SNIPPET_SOURCE_CHARS = 1500


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search may be narrowed to; None means no restriction."""

    kind: str | None = None
    language: str | None = None
    category: str | None = None
    source_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _story_ids_from(source_id: int) -> Any:
    return (
        select(StoryArticle.story_id)
        .join(Article, Article.id == StoryArticle.article_id)
        .where(Article.source_id == source_id)
    )


def filter_clauses(flt: Filters) -> list[ColumnElement[bool]]:
    """The WHERE clauses of ``flt`` over ``search_docs``."""
    out: list[ColumnElement[bool]] = []
    if flt.kind is not None:
        out.append(SearchDoc.kind == flt.kind)
    if flt.language is not None:
        padded = literal(" ") + SearchDoc.languages + literal(" ")
        out.append(padded.like(f"% {flt.language} %"))
    if flt.category is not None:
        out.append(SearchDoc.category == flt.category)
    if flt.source_id is not None:
        out.append(
            or_(
                and_(SearchDoc.kind == ARTICLE, SearchDoc.source_id == flt.source_id),
                and_(SearchDoc.kind == STORY, SearchDoc.story_id.in_(_story_ids_from(flt.source_id))),
            )
        )
    if flt.since is not None:
        out.append(SearchDoc.published_at >= flt.since)
    if flt.until is not None:
        out.append(SearchDoc.published_at < flt.until)
    return out


async def text_search(
    session: AsyncSession, terms: Sequence[str], flt: Filters, *, any_term: bool, limit: int
) -> list[tuple[int, float]]:
    """(doc id, score) of documents holding all (or any) of ``terms``, best first; higher is better."""
    if not terms:
        return []
    where = filter_clauses(flt)
    if session.get_bind().dialect.name == "sqlite":
        # Terms are \w+ only; quoting makes each a plain string to FTS5 whatever it spells.
        match = (" OR " if any_term else " ").join('"' + t.replace('"', '""') + '"' for t in terms)
        rank = func.bm25(literal_column("search_fts"))
        stmt = (
            select(SearchDoc.id, rank.label("rank"))
            .select_from(_FTS.join(SearchDoc, SearchDoc.id == _FTS.c.rowid))
            .where(literal_column("search_fts").op("MATCH")(match), *where)
            .order_by(rank, SearchDoc.id)
            .limit(limit)
        )
        rows = (await session.execute(stmt)).all()
        return [(int(r[0]), -float(r[1])) for r in rows]
    parts = [func.plainto_tsquery(_SIMPLE, t) for t in terms]
    query: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        query = query.op("||" if any_term else "&&")(part)
    tsv: ColumnElement[Any] = literal_column("search_docs.tsv")
    pg_rank = func.ts_rank_cd(tsv, query)
    stmt = (
        select(SearchDoc.id, pg_rank.label("rank"))
        .where(tsv.op("@@")(query), *where)
        .order_by(pg_rank.desc(), SearchDoc.id)
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    return [(int(r[0]), float(r[1])) for r in rows]


async def vector_rows(session: AsyncSession, *, changed_since: datetime | None) -> Sequence[Any]:
    """Documents with an embedding (changed since a time, or all), with what the filters need."""
    # The embed stage's vector; articles embedded before it existed have theirs in article_features.
    vector = func.coalesce(ArticleEmbedding.embedding, ArticleFeatures.embedding, Story.centroid)
    stmt = (
        select(
            SearchDoc.id,
            SearchDoc.kind,
            SearchDoc.story_id,
            SearchDoc.source_id,
            SearchDoc.languages,
            SearchDoc.category,
            SearchDoc.published_at,
            SearchDoc.indexed_at,
            vector.label("vector"),
        )
        .outerjoin(ArticleEmbedding, ArticleEmbedding.article_id == SearchDoc.article_id)
        .outerjoin(ArticleFeatures, ArticleFeatures.article_id == SearchDoc.article_id)
        .outerjoin(Story, Story.id == SearchDoc.story_id)
        .where(SearchDoc.has_vector.is_(True))
    )
    if changed_since is not None:
        stmt = stmt.where(SearchDoc.indexed_at >= changed_since)
    return (await session.execute(stmt)).all()


async def story_sources(session: AsyncSession, story_ids: Sequence[int]) -> dict[int, set[int]]:
    """Outlets covering each story."""
    out: dict[int, set[int]] = defaultdict(set)
    for start in range(0, len(story_ids), 500):
        chunk = story_ids[start : start + 500]
        rows = await session.execute(
            select(StoryArticle.story_id, Article.source_id)
            .join(Article, Article.id == StoryArticle.article_id)
            .where(StoryArticle.story_id.in_(chunk))
            .distinct()
        )
        for story_id, source_id in rows.all():
            out[story_id].add(source_id)
    return out


async def doc_ids(session: AsyncSession) -> set[int]:
    """Every indexed document id."""
    return set((await session.scalars(select(SearchDoc.id))).all())


async def count_with_vectors(session: AsyncSession) -> int:
    """How many documents have an embedding (the vector index should hold as many)."""
    return int(await session.scalar(select(func.count()).where(SearchDoc.has_vector.is_(True))) or 0)


async def hydrate_articles(session: AsyncSession, doc_ids: Sequence[int], flt: Filters) -> Sequence[Any]:
    """Article hits that still exist and still pass the filters."""
    if not doc_ids:
        return []
    body = func.substr(
        func.coalesce(func.nullif(Article.summary, ""), Article.content_text), 1, SNIPPET_SOURCE_CHARS
    )
    stmt = (
        select(
            SearchDoc.id.label("doc_id"),
            Article.id,
            Article.title,
            body.label("body"),
            Article.url,
            Article.language,
            Article.source_id,
            Source.title.label("outlet"),
            Article.published_at,
            StoryArticle.story_id,
        )
        .join(Article, Article.id == SearchDoc.article_id)
        .join(Source, Source.id == Article.source_id)
        .outerjoin(StoryArticle, StoryArticle.article_id == Article.id)
        .where(SearchDoc.id.in_(doc_ids), *filter_clauses(flt))
    )
    return (await session.execute(stmt)).all()


async def hydrate_stories(
    session: AsyncSession, doc_ids: Sequence[int], flt: Filters
) -> list[tuple[int, Story]]:
    """(doc id, story) of story hits that are still open and still pass the filters."""
    if not doc_ids:
        return []
    # Two primary-key lookups rather than one join: joined, SQLite's planner starts from the
    # ``stories.status`` index and walks every open story (~70 ms at 12,000 stories) instead of
    # looking up the page's twenty ids; open/non-empty is then checked on the few rows read.
    refs = (
        await session.execute(
            select(SearchDoc.id, SearchDoc.story_id).where(
                SearchDoc.id.in_(doc_ids), SearchDoc.kind == STORY, *filter_clauses(flt)
            )
        )
    ).all()
    if not refs:
        return []
    stories = {s.id: s for s in await stories_by_id(session, [int(r.story_id) for r in refs])}
    out = []
    for doc_id, story_id in refs:
        story = stories.get(int(story_id or 0))
        if story is not None and story.status == OPEN and story.article_count > 0:
            out.append((int(doc_id), story))
    return out


async def articles_to_index(session: AsyncSession, article_ids: Sequence[int]) -> Sequence[Any]:
    """What indexing needs of each article: text, metadata, its story's category, a vector or not."""
    body = func.substr(Article.content_text, 1, 4000)
    stmt = (
        select(
            Article.id,
            Article.source_id,
            Article.language,
            Article.title,
            Article.summary,
            body.label("body"),
            Article.published_at,
            Story.category,
            or_(ArticleEmbedding.article_id.is_not(None), ArticleFeatures.article_id.is_not(None)).label(
                "has_vector"
            ),
        )
        .outerjoin(ArticleEmbedding, ArticleEmbedding.article_id == Article.id)
        .outerjoin(ArticleFeatures, ArticleFeatures.article_id == Article.id)
        .outerjoin(StoryArticle, StoryArticle.article_id == Article.id)
        .outerjoin(Story, Story.id == StoryArticle.story_id)
        .where(Article.id.in_(article_ids))
    )
    return (await session.execute(stmt)).all()


async def stories_by_id(session: AsyncSession, story_ids: Sequence[int]) -> list[Story]:
    """Stories by id (missing ones are left out)."""
    return list((await session.scalars(select(Story).where(Story.id.in_(story_ids)))).all())


async def member_article_ids(session: AsyncSession, story_ids: Sequence[int]) -> list[int]:
    """Articles of these stories."""
    rows = await session.scalars(select(StoryArticle.article_id).where(StoryArticle.story_id.in_(story_ids)))
    return list(rows.all())


async def docs_for(session: AsyncSession, *, kind: str, ref_ids: Sequence[int]) -> dict[int, SearchDoc]:
    """Existing documents of these articles or stories, by article or story id."""
    if not ref_ids:
        return {}
    ref = SearchDoc.article_id if kind == ARTICLE else SearchDoc.story_id
    docs = (await session.scalars(select(SearchDoc).where(ref.in_(ref_ids)))).all()
    return {int((d.article_id if kind == ARTICLE else d.story_id) or 0): d for d in docs}


async def existing_ids(session: AsyncSession, *, kind: str, ref_ids: Sequence[int]) -> set[int]:
    """Which of these articles or stories still exist."""
    model = Article if kind == ARTICLE else Story
    return set((await session.scalars(select(model.id).where(model.id.in_(ref_ids)))).all())


async def delete_story_docs(session: AsyncSession, story_ids: Sequence[int]) -> None:
    """Drop stories from the index."""
    if story_ids:
        await session.execute(delete(SearchDoc).where(SearchDoc.story_id.in_(story_ids)))


async def delete_all(session: AsyncSession) -> None:
    """Empty the index (a rebuild starts here)."""
    await session.execute(delete(SearchDoc))


async def touch(session: AsyncSession, doc_ids: Sequence[int], now: datetime) -> None:
    """Mark documents changed so vector indexes reread them."""
    if doc_ids:
        await session.execute(update(SearchDoc).where(SearchDoc.id.in_(doc_ids)).values(indexed_at=now))


async def all_article_ids(session: AsyncSession, *, after: int, limit: int) -> list[int]:
    """Article ids in order, a page at a time (for a rebuild)."""
    rows = await session.scalars(
        select(Article.id).where(Article.id > after).order_by(Article.id).limit(limit)
    )
    return list(rows.all())


async def open_story_ids(session: AsyncSession) -> list[int]:
    """Ids of open stories with articles."""
    rows = await session.scalars(
        select(Story.id).where(Story.status == OPEN, Story.article_count > 0).order_by(Story.id)
    )
    return list(rows.all())


async def count_articles(session: AsyncSession) -> int:
    """How many articles exist."""
    return int(await session.scalar(select(func.count()).select_from(Article)) or 0)
