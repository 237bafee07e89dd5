"""Queries on articles and tombstones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from newstalk.articles.models import Article, Tombstone

CHUNK = 400


async def known_keys(
    session: AsyncSession, urls: Sequence[str], hashes: Sequence[str]
) -> tuple[set[str], set[str]]:
    """URLs and content hashes among these that are stored or tombstoned."""
    seen_urls: set[str] = set()
    seen_hashes: set[str] = set()
    for table in (Article, Tombstone):
        for i in range(0, max(len(urls), len(hashes)), CHUNK):
            u, h = urls[i : i + CHUNK], hashes[i : i + CHUNK]
            rows = await session.execute(
                select(table.url, table.content_hash).where(or_(table.url.in_(u), table.content_hash.in_(h)))
            )
            for url, content_hash in rows.all():
                seen_urls.add(url)
                seen_hashes.add(content_hash)
    return seen_urls, seen_hashes


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert rows, skipping any that collide on URL or content hash; returns (id, content_hash) stored."""
    if not rows:
        return []
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Article)
    stmt = ins.on_conflict_do_nothing().returning(Article.id, Article.content_hash)
    # Rows skipped by DO NOTHING return nothing; the content hash says which input was stored.
    result = await session.execute(stmt, list(rows))
    return [(row[0], row[1]) for row in result.all()]


async def get(session: AsyncSession, article_id: int) -> Article | None:
    return await session.get(Article, article_id)


# What a list page shows (ArticleSummary): the page never loads bodies or HTML.
SUMMARY_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    Article.id,
    Article.source_id,
    Article.url,
    Article.title,
    Article.summary,
    Article.language,
    Article.author,
    Article.image_url,
    Article.published_at,
    Article.first_seen_at,
)


async def list_page(
    session: AsyncSession,
    *,
    source_id: int | None,
    language: str | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Summary columns, newest first by (published_at, id), continuing after a cursor."""
    stmt = select(*SUMMARY_COLUMNS)
    if source_id is not None:
        stmt = stmt.where(Article.source_id == source_id)
    if language is not None:
        stmt = stmt.where(Article.language == language)
    if since is not None:
        stmt = stmt.where(Article.published_at >= since)
    if until is not None:
        stmt = stmt.where(Article.published_at < until)
    if after is not None:
        published, last_id = after
        stmt = stmt.where(
            or_(
                Article.published_at < published,
                and_(Article.published_at == published, Article.id < last_id),
            )
        )
    stmt = stmt.order_by(Article.published_at.desc(), Article.id.desc()).limit(limit)
    return (await session.execute(stmt)).all()


async def tombstone_exists(session: AsyncSession, url: str) -> bool:
    return await session.scalar(select(Tombstone.id).where(Tombstone.url == url)) is not None
