"""The stories stage's in-memory state: near-duplicate index, open-story clusterer, models.

One engine lives in the process that runs the ``stories`` stage (run one replica: the
clustering is global). It is rebuilt from the database at start-up and after any
failed unit or editor decision, so the database stays the source of truth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.config import Settings
from newstalk.kit.db import utcnow
from newstalk.providers.embeddings import EmbeddingProvider, build_embeddings
from newstalk.stories import neardup
from newstalk.stories.aggregate import Member, StoryAggregate
from newstalk.stories.category import CategoryClassifier
from newstalk.stories.cluster import ArticleFeatures, StoryClusterer, features_from_title
from newstalk.stories.keywords import keywords
from newstalk.stories.models import OPEN, Story, StoryArticle, StoryBlock
from newstalk.stories.models import ArticleEmbedding as EmbeddingRow
from newstalk.stories.models import ArticleFeatures as FeaturesRow
from newstalk.stories.sentiment import sentiment
from newstalk.stories.text import sentences, words

log = logging.getLogger(__name__)

LEAD_SENTENCES = 4
EMBED_CHARS = 300
TEXT_CHARS = 4000


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """What the stage reads of an article."""

    article_id: int
    source_id: int
    language: str
    title: str
    text: str
    published_at: datetime
    first_seen_at: datetime


def article_input(row: Any) -> ArticleInput:
    """An ``ArticleInput`` from a row with the ``articles`` columns of that name (``id`` first)."""
    return ArticleInput(
        article_id=row.id,
        source_id=row.source_id,
        language=row.language,
        title=row.title,
        text=(row.content_text or "")[:TEXT_CHARS],
        published_at=row.published_at,
        first_seen_at=row.first_seen_at,
    )


@dataclass(frozen=True, slots=True)
class Computed:
    """Everything derived from one article, before it meets the current state."""

    article: ArticleInput
    features: ArticleFeatures
    keywords: list[str]
    minhash: np.ndarray
    lead: list[str]
    sentiment: float


def embedding_text(title: str, lead: Sequence[str]) -> str:
    """What the stage embeds: the headline, or the lead's first sentence when there is none.

    Embedding cost grows with length (e5-small here: ~95 titles/s against ~9 title+lead/s),
    and the clusterer's thresholds were chosen on headlines.
    """
    return (title or (lead[0] if lead else ""))[:EMBED_CHARS]


def compute(embeddings: EmbeddingProvider, articles: Sequence[ArticleInput]) -> list[Computed]:
    """Everything derived from each article alone (run in a thread): leads, keywords, entities, MinHash, embeddings.

    Stateless, so the ``embed`` stage runs it on as many replicas as there are cores; the
    stories stage reads the stored result (:func:`from_stored`).
    """
    leads = [sentences(a.text, a.language, LEAD_SENTENCES) for a in articles]
    vectors = embeddings.encode(
        [embedding_text(a.title, lead) for a, lead in zip(articles, leads, strict=True)]
    )
    out = []
    for a, lead, vector in zip(articles, leads, vectors, strict=True):
        body = f"{a.title}\n{a.text}"
        out.append(
            Computed(
                article=a,
                # The clusterer compares headlines (what its thresholds were chosen on).
                features=features_from_title(
                    a.article_id, a.source_id, a.language, a.published_at, a.title, vector
                ),
                keywords=keywords(body, a.language),
                minhash=neardup.signature(body, a.language),
                lead=lead,
                sentiment=sentiment(" ".join([a.title, *lead]), a.language),
            )
        )
    return out


def from_stored(article: ArticleInput, row: EmbeddingRow) -> Computed:
    """The ``Computed`` of an article from the embed stage's row: no model runs, no Kiwi call."""
    return Computed(
        article=article,
        features=ArticleFeatures(
            article_id=article.article_id,
            source_id=article.source_id,
            language=article.language,
            published_at=article.published_at,
            title=article.title,
            embedding=np.frombuffer(row.embedding, dtype=np.float32),
            keywords=frozenset(words(article.title, article.language)),
            entities=frozenset(row.entities),
        ),
        keywords=list(row.keywords),
        minhash=neardup.signature_from_bytes(row.minhash),
        lead=list(row.lead),
        sentiment=row.sentiment if row.sentiment is not None else 0.0,
    )


def to_stored(c: Computed, content_hash: str, model: str) -> dict[str, object]:
    """The ``article_embeddings`` row of one computed article."""
    return {
        "article_id": c.article.article_id,
        "content_hash": content_hash,
        "model": model,
        "embedding": np.asarray(c.features.embedding, dtype=np.float32).tobytes(),
        "minhash": neardup.signature_bytes(c.minhash),
        "keywords": c.keywords,
        "entities": sorted(c.features.entities),
        "lead": c.lead,
        "sentiment": c.sentiment,
        "computed_at": utcnow(),
    }


class StoryEngine:
    """Holds the models and the incremental state of the stories stage."""

    def __init__(self, settings: Settings, embeddings: EmbeddingProvider | None = None) -> None:
        self.settings = settings
        self.window = timedelta(hours=settings.story_window_h)
        self.embeddings = embeddings or build_embeddings(settings)
        self.classifier = CategoryClassifier.load()
        self.lock = asyncio.Lock()
        self.clusterer = StoryClusterer(window=self.window)
        self.neardup = neardup.NearDupIndex()
        self.story_of: dict[int, int] = {}
        # Per open story: running aggregates for an incremental refresh, and the members
        # placed in the current unit that the refresh has not folded in yet.
        self.aggregates: dict[int, StoryAggregate] = {}
        self.pending: dict[int, list[Member]] = {}
        self.loaded = False

    def compute(self, articles: Sequence[ArticleInput]) -> list[Computed]:
        """CPU work for a batch (run in a thread); the fallback for articles the embed stage has not done."""
        return compute(self.embeddings, articles)

    def rename_stories(self, ids: dict[int, int], article_ids: Sequence[int]) -> None:
        """Give stories opened under placeholder ids their database ids (``article_ids``: their new members)."""
        for old, new in ids.items():
            self.clusterer.rename(old, new)
            if old in self.aggregates:
                self.aggregates[new] = self.aggregates.pop(old)
            if old in self.pending:
                self.pending[new] = self.pending.pop(old)
        for article_id in article_ids:
            sid = self.story_of.get(article_id)
            if sid in ids:
                self.story_of[article_id] = ids[sid]

    async def load(self, session: AsyncSession) -> None:
        """Rebuild the in-memory state from the database: open stories and recent articles in the window."""
        since = utcnow() - self.window
        self.clusterer = StoryClusterer(window=self.window)
        self.neardup = neardup.NearDupIndex()
        self.story_of = {}
        self.aggregates = {}
        self.pending = {}
        from newstalk.articles.models import Article

        rows = await session.execute(
            select(
                StoryArticle.story_id,
                FeaturesRow,
                Article.source_id,
                Article.language,
                Article.published_at,
                Article.title,
            )
            .join(FeaturesRow, FeaturesRow.article_id == StoryArticle.article_id)
            .join(Article, Article.id == StoryArticle.article_id)
            .join(Story, Story.id == StoryArticle.story_id)
            .where(Story.status == OPEN, Story.last_seen_at >= since)
            .order_by(StoryArticle.added_at, StoryArticle.article_id)
        )
        started: set[int] = set()
        for story_id, feat, source_id, language, published_at, title in rows.all():
            f = features_from_title(
                feat.article_id,
                source_id,
                language,
                published_at,
                title,
                np.frombuffer(feat.embedding, dtype=np.float32),
            )
            if story_id in started:
                self.clusterer.add(story_id, f)
            else:
                self.clusterer.new_story(story_id, f)
                started.add(story_id)
            self.story_of[feat.article_id] = story_id
            if feat.duplicate_of_id is None:
                self.neardup.add(feat.article_id, neardup.signature_from_bytes(feat.minhash))
        for block in (await session.scalars(select(StoryBlock))).all():
            self.clusterer.forbid(block.article_id, block.story_id)
        self.loaded = True
        log.info("stories: state loaded: %d open stories, %d articles", len(started), len(self.story_of))
