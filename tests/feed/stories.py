"""Stories for feed tests: real rows (sources, articles, story links) with real e5 centroids."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.kit.db import Database, utcnow
from newstalk.providers.embeddings import E5SmallEmbeddings
from newstalk.sources.models import Source
from newstalk.stories.models import Story, StoryArticle


@functools.cache
def _encoder() -> E5SmallEmbeddings:
    return E5SmallEmbeddings()


@functools.cache
def embed(title: str) -> bytes:
    return np.asarray(_encoder().encode([title])[0], dtype=np.float32).tobytes()


@dataclass(frozen=True)
class Spec:
    title: str
    category: str
    outlets: tuple[str, ...]
    language: str = "en"
    keywords: tuple[str, ...] = ()
    trending: float = 0.1
    minutes_ago: int = 60


# A small, mixed news day: Korean and English, eight categories, a few outlets.
NEWS_DAY = [
    Spec("한국은행 기준금리 동결 결정", "economy", ("yonhap",), "ko", ("기준금리", "경제"), 0.3, 30),
    Spec("코스피 외국인 매도에 하락 마감", "economy", ("hankyoreh",), "ko", ("코스피", "증시"), 0.2, 50),
    Spec(
        "Central bank raises interest rates to fight inflation",
        "economy",
        ("reuters",),
        "en",
        ("interest rates",),
        0.2,
        40,
    ),
    Spec("Samsung unveils new AI chip for smartphones", "tech", ("reuters",), "en", ("chip", "ai"), 0.4, 20),
    Spec("삼성전자 차세대 반도체 공개", "tech", ("yonhap",), "ko", ("반도체", "삼성전자"), 0.25, 35),
    Spec("Manchester United win the league title", "sports", ("bbc",), "en", ("football",), 0.5, 25),
    Spec("손흥민 시즌 10호골 폭발", "sports", ("yonhap",), "ko", ("손흥민", "축구"), 0.35, 45),
    Spec("Tennis star wins the Australian Open final", "sports", ("ap",), "en", ("tennis",), 0.15, 70),
    Spec(
        "Parliament passes the new budget bill", "politics", ("bbc",), "en", ("budget", "parliament"), 0.3, 55
    ),
    Spec("국회 예산안 본회의 통과", "politics", ("hankyoreh",), "ko", ("국회", "예산안"), 0.2, 65),
    Spec("Film festival opens with a record crowd", "culture", ("ap",), "en", ("film",), 0.05, 90),
    Spec("아이돌 그룹 새 앨범 발매", "entertainment", ("tabloid",), "ko", ("아이돌", "연예"), 0.45, 15),
    Spec(
        "Celebrity couple announce their divorce",
        "entertainment",
        ("tabloid",),
        "en",
        ("celebrity",),
        0.6,
        10,
    ),
    Spec(
        "UN summit agrees on climate funding", "world", ("reuters", "bbc"), "en", ("climate", "un"), 0.3, 80
    ),
    Spec("Earthquake hits the coast of Japan", "world", ("ap", "reuters"), "en", ("earthquake",), 0.55, 12),
    Spec("서울 지하철 파업 예고", "society", ("hankyoreh",), "ko", ("파업", "지하철"), 0.1, 100),
]


async def seed(
    settings: Settings, specs: list[Spec], *, sources: dict[str, int] | None = None
) -> tuple[list[int], dict[str, int]]:
    """Write the stories (and any outlets not yet there); returns story ids and outlet ids by name."""
    sources = dict(sources or {})
    db = Database.open(settings.async_database_url)
    try:
        async with db.unit() as uow:
            now = utcnow()
            for name in sorted({o for s in specs for o in s.outlets} - set(sources)):
                src = Source(
                    feed_url=f"https://{name}.example/feed.xml",
                    title=name.title(),
                    fetch_interval_s=900,
                    next_fetch_at=now,
                    created_at=now,
                    updated_at=now,
                )
                uow.session.add(src)
                await uow.session.flush()
                sources[name] = src.id
            ids = []
            for spec in specs:
                seen = now - timedelta(minutes=spec.minutes_ago)
                story = Story(
                    status="open",
                    title=spec.title,
                    summary=[spec.title],
                    keywords=list(spec.keywords),
                    languages=[spec.language],
                    category=spec.category,
                    article_count=len(spec.outlets),
                    outlet_count=len(spec.outlets),
                    trending_score=spec.trending,
                    centroid=embed(spec.title),
                    first_seen_at=seen,
                    last_seen_at=seen,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                uow.session.add(story)
                await uow.session.flush()
                for k, outlet in enumerate(spec.outlets):
                    article = Article(
                        source_id=sources[outlet],
                        url=f"https://{outlet}.example/{story.id}/{k}",
                        content_hash=f"{story.id:032x}{k:032x}",
                        title=spec.title,
                        language=spec.language,
                        published_at=seen,
                        first_seen_at=seen + timedelta(seconds=k),
                        stored_at=seen,
                    )
                    uow.session.add(article)
                    await uow.session.flush()
                    uow.session.add(
                        StoryArticle(article_id=article.id, story_id=story.id, score=1.0, added_at=seen)
                    )
                ids.append(story.id)
        return ids, sources
    finally:
        await db.dispose()
