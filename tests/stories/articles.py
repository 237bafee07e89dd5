"""Articles written straight into the tables, with their ``article.ingested`` events, for stage tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select

from newstalk.articles.models import Article
from newstalk.kit.bus import Event
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.kit.db import utcnow
from newstalk.pipeline import topics
from newstalk.runtime import Services
from newstalk.sources.models import Source

HEADLINES = (
    "Strong earthquake hits northern Japan, tsunami warning issued",
    "Central bank raises interest rates to 3.5% to curb inflation",
    "Late penalty sends City into the cup final",
    "한국은행, 기준금리 3.5%로 인상…물가 잡기 총력",
)


def ingested(article: Article) -> Event:
    """The ``article.ingested`` event collect emits for an article."""
    return Event(
        topics.ARTICLE_INGESTED,
        article.content_hash,
        topics.ArticleIngested(
            article_id=article.id,
            source_id=article.source_id,
            content_hash=article.content_hash,
            language=article.language,
        ),
        article.first_seen_at,
    )


async def add_articles(services: Services, titles: Sequence[str], *, start: int = 1) -> list[int]:
    """Store one source (first call) and an article per title, each with its ``article.ingested`` event."""
    now = utcnow()
    ids = []
    async with services.db.unit() as uow:
        session = uow.session
        source = await session.scalar(select(Source).limit(1))
        if source is None:
            source = Source(
                feed_url="https://wire.example/feed.xml",
                site_url="https://wire.example/",
                title="Wire",
                language="en",
                fetch_interval_s=900,
                next_fetch_at=now + timedelta(days=1),
                created_at=now,
                updated_at=now,
            )
            session.add(source)
            await session.flush()
        for n, title in enumerate(titles, start):
            language = "ko" if any("가" <= ch <= "힣" for ch in title) else "en"
            digest = hashlib.sha256(f"{n}:{title}".encode()).hexdigest()
            article = Article(
                source_id=source.id,
                url=f"https://wire.example/{n}",
                content_hash=digest,
                guid=str(n),
                title=title,
                summary=title,
                content_html="",
                content_text=f"{title}. More on this as it develops.",
                language=language,
                full_text_extracted=False,
                published_at=now - timedelta(minutes=5),
                first_seen_at=now,
                stored_at=now,
            )
            session.add(article)
            await session.flush()
            ids.append(article.id)
            uow.emit(ingested(article))
    return ids


async def pending(services: Services, stage: str) -> int:
    """Jobs of a stage not yet done (ready or running)."""
    async with services.db.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(QueueJob)
                .where(QueueJob.stage == stage, QueueJob.status != "dead")
            )
            or 0
        )
