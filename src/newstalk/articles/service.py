"""Decisions about articles: exact dedup on store, tombstones on delete."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles import repository
from newstalk.articles.models import Article, Tombstone
from newstalk.articles.types import NormalizedArticle
from newstalk.errors import NotFound
from newstalk.kit.bus import Event
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.pipeline import topics


@dataclass(frozen=True, slots=True)
class StoreResult:
    """(id, content_hash) of each stored article, and how many new ones a limit held back."""

    stored: list[tuple[int, str]]
    held_back: int


async def store_articles(
    uow: UnitOfWork,
    *,
    source_id: int,
    full_text: bool,
    items: Sequence[NormalizedArticle],
    first_seen_at: datetime,
    limit: int | None = None,
) -> StoreResult:
    """Store the articles not seen before (by canonical URL or content hash, tombstones included).

    Emits ``article.ingested`` for each stored article, and ``article.extract`` when the
    source gives summaries only. At most ``limit`` new articles are stored, in feed order;
    the rest are counted in ``held_back`` and wait for a later poll (issue 13: one feed must
    not flood the pipeline).
    """
    if not items:
        return StoreResult([], 0)
    seen_urls, seen_hashes = await repository.known_keys(
        uow.session, [a.url for a in items], [a.content_hash for a in items]
    )
    now = utcnow()
    rows = []
    for a in items:
        if a.url in seen_urls or a.content_hash in seen_hashes:
            continue
        seen_urls.add(a.url)
        seen_hashes.add(a.content_hash)
        rows.append(
            {
                "source_id": source_id,
                "url": a.url,
                "content_hash": a.content_hash,
                "guid": a.guid[:2048] if a.guid else None,
                "title": a.title,
                "author": a.author[:512] if a.author else None,
                "summary": a.summary,
                "content_html": a.content_html,
                "content_text": a.content_text,
                "language": a.language,
                "image_url": a.image_url if a.image_url and len(a.image_url) <= 2048 else None,
                "full_text_extracted": False,
                "published_at": a.published_at,
                "first_seen_at": first_seen_at,
                "stored_at": now,
            }
        )
    held_back = 0
    if limit is not None and len(rows) > limit:
        rows, held_back = rows[: max(limit, 0)], len(rows) - max(limit, 0)
    stored = await repository.insert_new(uow.session, rows) if rows else []
    language_by_hash = {str(r["content_hash"]): str(r["language"]) for r in rows}
    for article_id, content_hash in stored:
        payload = topics.ArticleIngested(
            article_id=article_id,
            source_id=source_id,
            content_hash=content_hash,
            language=language_by_hash[content_hash],
        )
        uow.emit(Event(topics.ARTICLE_INGESTED, content_hash, payload, first_seen_at))
        if full_text:
            uow.emit(Event(topics.ARTICLE_EXTRACT, f"extract:{content_hash}", payload, first_seen_at))
    return StoreResult(stored, held_back)


async def stored_since(session: AsyncSession, source_id: int, since: datetime) -> int:
    """How many articles of a source were stored at or after ``since``."""
    query = (
        select(func.count())
        .select_from(Article)
        .where(Article.source_id == source_id, Article.stored_at >= since)
    )
    return int(await session.scalar(query) or 0)


async def get_article(session: AsyncSession, article_id: int) -> Article:
    """An article by id, or NotFound."""
    article = await repository.get(session, article_id)
    if article is None:
        raise NotFound(f"news: no article with id {article_id}")
    return article


async def delete_article(uow: UnitOfWork, article_id: int, *, reason: str | None) -> None:
    """Delete an article and leave a tombstone so the next poll doesn't bring it back."""
    article = await get_article(uow.session, article_id)
    if not await repository.tombstone_exists(uow.session, article.url):
        uow.session.add(
            Tombstone(
                url=article.url,
                content_hash=article.content_hash,
                reason=reason,
                deleted_at=utcnow(),
            )
        )
    await uow.session.delete(article)
