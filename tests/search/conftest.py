"""A two-article corpus indexed by the real service (no embeddings: text search only)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from newstalk.articles.models import Article
from newstalk.kit.db import utcnow
from newstalk.runtime import Services
from newstalk.search import service
from newstalk.sources.models import Source


@pytest.fixture
async def corpus(services: Services) -> None:
    """Two articles indexed by the real service (no embeddings: text search only)."""
    now = utcnow()
    async with services.db.unit() as uow:
        source = Source(
            feed_url="http://127.0.0.1/feed.xml",
            title="Wire",
            fetch_interval_s=900,
            next_fetch_at=now,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(source)
        await uow.session.flush()
        for n, (title, lang) in enumerate(
            [("Samsung chips profit hits a record", "en"), ("삼성전자가 반도체 최대 실적", "ko")]
        ):
            uow.session.add(
                Article(
                    source_id=source.id,
                    url=f"http://127.0.0.1/{n}",
                    content_hash=f"{n:064d}",
                    title=title,
                    language=lang,
                    published_at=now,
                    first_seen_at=now,
                    stored_at=now,
                )
            )
    async with services.db.read() as session:
        ids = list((await session.scalars(select(Article.id))).all())
    prepared = await service.prepare(services.db, article_ids=ids)
    async with services.db.unit() as uow:
        await service.apply(uow, prepared)
