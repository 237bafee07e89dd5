"""Real stories for the ask tests: rows as the stories stage leaves them, text from ../shared/data/news.

The bilingual story is the first ten aligned lines of ko-en-news-parallel (a news article
about a supercomputer): the Korean lines as one outlet's article, their English
translations as another's. The English story is a BBC business article with another BBC
article as a second outlet's coverage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.kit.db import Database, utcnow
from newstalk.sources.models import Source
from newstalk.stories.models import ArticleFeatures, Story, StoryArticle

NEWS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "news"


@dataclass(frozen=True)
class Piece:
    outlet: str
    language: str
    title: str
    text: str


@cache
def parallel() -> tuple[list[str], list[str]]:
    folder = NEWS / "ko-en-news-parallel"
    ko_file, en_file = folder / "korean-english-park.dev.ko", folder / "korean-english-park.dev.en"
    if not (ko_file.exists() and en_file.exists()):
        pytest.skip("../shared/data/news/ko-en-news-parallel is not here")
    return ko_file.read_text(encoding="utf-8").splitlines(), en_file.read_text(encoding="utf-8").splitlines()


@cache
def bbc(article_id: str) -> tuple[str, str]:
    path = NEWS / "bbc_news.jsonl"
    if not path.exists():
        pytest.skip("../shared/data/news/bbc_news.jsonl is not here")
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["id"] == article_id:
                return str(row["title"]), str(row["body"])
    raise LookupError(article_id)


def supercomputer() -> list[Piece]:
    """Korean and English coverage of one event, two outlets."""
    ko, en = parallel()
    return [
        Piece("연합뉴스", "ko", "세계 최강 수퍼컴퓨터 공개", " ".join(ko[:10])),
        Piece("Wire", "en", "World's most powerful supercomputer unveiled", " ".join(en[:10])),
    ]


def time_warner() -> list[Piece]:
    """An English story: the BBC's Time Warner results article and a second outlet's markets piece."""
    title, body = bbc("business/001.txt")
    other_title, other_body = bbc("business/002.txt")
    return [Piece("BBC", "en", title, body), Piece("Markets Daily", "en", other_title, other_body)]


async def build_story(settings: Settings, pieces: list[Piece]) -> tuple[int, dict[str, int]]:
    """A story with one article per piece (each from its own outlet); its id and article ids by outlet."""
    db = Database.open(settings.async_database_url)
    try:
        async with db.unit() as uow:
            now = utcnow()
            story = Story(
                title=pieces[0].title,
                languages=sorted({p.language for p in pieces}),
                article_count=len(pieces),
                outlet_count=len(pieces),
                first_seen_at=now,
                last_seen_at=now,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(story)
            await uow.session.flush()
            ids: dict[str, int] = {}
            for i, p in enumerate(pieces):
                digest = hashlib.sha256(f"{story.id}:{p.outlet}:{p.text}".encode()).hexdigest()
                source = await _source(uow.session, p, now)
                article = Article(
                    source_id=source.id,
                    url=f"https://{source.id}.example.org/{digest[:12]}",
                    content_hash=digest,
                    title=p.title,
                    content_text=p.text,
                    language=p.language,
                    published_at=now - timedelta(minutes=10 * i),
                    first_seen_at=now - timedelta(minutes=10 * i),
                    stored_at=now,
                )
                uow.session.add(article)
                await uow.session.flush()
                uow.session.add(StoryArticle(article_id=article.id, story_id=story.id, added_at=now))
                uow.session.add(
                    ArticleFeatures(article_id=article.id, minhash=b"", embedding=b"", computed_at=now)
                )
                ids[p.outlet] = article.id
            return story.id, ids
    finally:
        await db.dispose()


async def _source(session: AsyncSession, piece: Piece, now: datetime) -> Source:
    feed_url = f"https://example.org/{hashlib.sha1(piece.outlet.encode()).hexdigest()[:8]}.xml"
    found = await session.scalar(select(Source).where(Source.feed_url == feed_url))
    if found is not None:
        return found
    source = Source(
        feed_url=feed_url,
        title=piece.outlet,
        language=piece.language,
        fetch_interval_s=900,
        next_fetch_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(source)
    await session.flush()
    return source


async def article_text(settings: Settings, article_id: int) -> str:
    """The article's text as stored: what citation offsets index."""
    db = Database.open(settings.async_database_url)
    try:
        async with db.read() as session:
            article = await session.get(Article, article_id)
            assert article is not None
            return article.content_text
    finally:
        await db.dispose()
