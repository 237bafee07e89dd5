"""Search the recent corpus for articles related to a claim: title embeddings plus keywords.

The stories stage already stores, for every article, an e5 embedding of its title and
lead and its keywords and named entities (``article_features``). This index keeps those of
the last ``story_window_h`` hours in memory (384 floats per article: 10,000 articles take
15 MB), refreshed incrementally, and ranks by reciprocal-rank fusion of cosine similarity
and keyword overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.factcheck.checker import PreparedClaim, rrf, tied_ranks
from newstalk.kit.db import utcnow
from newstalk.stories.models import ArticleFeatures, StoryArticle
from newstalk.stories.text import nouns

COSINE_SHORTLIST = 50
MIN_COSINE = 0.80  # e5 cosines of unrelated news titles sit around 0.7-0.78


class CorpusIndex:
    def __init__(self, window_h: int) -> None:
        self.window = timedelta(hours=window_h)
        self.ids = np.zeros(0, dtype=np.int64)
        self.sources = np.zeros(0, dtype=np.int64)
        self.stories = np.zeros(0, dtype=np.int64)
        self.seen = np.zeros(0, dtype="datetime64[s]")
        self.vectors = np.zeros((0, 384), dtype=np.float32)
        self.terms: list[frozenset[str]] = []
        self.last_id = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    async def refresh(self, session: AsyncSession, now: datetime | None = None) -> int:
        """Add articles stored since the last refresh and drop those older than the window."""
        now = now or utcnow()
        since = now - self.window
        rows = (
            await session.execute(
                select(
                    Article.id,
                    Article.source_id,
                    Article.first_seen_at,
                    ArticleFeatures.embedding,
                    ArticleFeatures.keywords,
                    ArticleFeatures.entities,
                    StoryArticle.story_id,
                )
                .join(ArticleFeatures, ArticleFeatures.article_id == Article.id)
                .outerjoin(StoryArticle, StoryArticle.article_id == Article.id)
                .where(Article.id > self.last_id, Article.first_seen_at >= since)
                .where(ArticleFeatures.duplicate_of_id.is_(None))
                .order_by(Article.id)
            )
        ).all()
        with self._lock:
            keep = self.seen >= np.datetime64(since.replace(tzinfo=None), "s")
            if rows:
                vectors = np.stack([np.frombuffer(r.embedding, dtype=np.float32) for r in rows])
                if self.vectors.shape[1] != vectors.shape[1]:
                    self.vectors = np.zeros((0, vectors.shape[1]), dtype=np.float32)
                    keep = np.zeros(0, dtype=bool)
                    self.ids, self.sources, self.stories = (np.zeros(0, dtype=np.int64) for _ in range(3))
                    self.seen, self.terms = np.zeros(0, dtype="datetime64[s]"), []
                self.ids = np.concatenate([self.ids[keep], [r.id for r in rows]])
                self.sources = np.concatenate([self.sources[keep], [r.source_id for r in rows]])
                self.stories = np.concatenate([self.stories[keep], [r.story_id or 0 for r in rows]])
                self.seen = np.concatenate(
                    [
                        self.seen[keep],
                        [np.datetime64(r.first_seen_at.replace(tzinfo=None), "s") for r in rows],
                    ]
                )
                self.vectors = np.concatenate([self.vectors[keep], vectors])
                old_terms = [t for t, k in zip(self.terms, keep, strict=True) if k]
                self.terms = old_terms + [
                    _terms(list(r.keywords or []) + list(r.entities or [])) for r in rows
                ]
                self.last_id = max(self.last_id, int(rows[-1].id))
            elif not keep.all():
                self.ids, self.sources, self.stories = self.ids[keep], self.sources[keep], self.stories[keep]
                self.seen, self.vectors = self.seen[keep], self.vectors[keep]
                self.terms = [t for t, k in zip(self.terms, keep, strict=True) if k]
        return len(rows)

    def add(
        self,
        ids: Sequence[int],
        sources: Sequence[int],
        vectors: np.ndarray,
        terms: Sequence[Iterable[str]],
        seen: datetime,
        stories: Sequence[int] | None = None,
    ) -> None:
        """Add articles held outside a database (evaluation corpora); ``refresh`` adds stored ones."""
        with self._lock:
            if self.vectors.shape[1] != vectors.shape[1]:
                self.vectors = np.zeros((0, vectors.shape[1]), dtype=np.float32)
            self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
            self.sources = np.concatenate([self.sources, np.asarray(sources, dtype=np.int64)])
            self.stories = np.concatenate(
                [self.stories, np.asarray(stories if stories is not None else [0] * len(ids), dtype=np.int64)]
            )
            stamp = np.datetime64(seen.replace(tzinfo=None), "s")
            self.seen = np.concatenate([self.seen, np.full(len(ids), stamp, dtype="datetime64[s]")])
            self.vectors = np.concatenate([self.vectors, vectors.astype(np.float32)])
            self.terms = self.terms + [_terms(t) for t in terms]

    def search(
        self,
        vector: np.ndarray,
        terms: Iterable[str],
        *,
        exclude_story: int | None = None,
        exclude_source: int | None = None,
        limit: int = 2,
    ) -> list[int]:
        """Article ids related to a claim, best first, at most one per outlet."""
        with self._lock:
            if not len(self.ids) or vector.shape[0] != self.vectors.shape[1]:
                return []
            cosine = self.vectors @ vector
            ok = cosine >= MIN_COSINE
            if exclude_story:
                ok &= self.stories != exclude_story
            if exclude_source is not None:
                ok &= self.sources != exclude_source
            idx = np.flatnonzero(ok)
            if not len(idx):
                return []
            idx = idx[np.argsort(-cosine[idx])][:COSINE_SHORTLIST]
            wanted = _terms(terms)
            overlap = {int(i): len(wanted & self.terms[int(i)]) for i in idx}
            # Ties share a rank (no keyword in common: meaning alone decides).
            cos_rank = {int(i): r for r, i in enumerate(idx)}
            scores = rrf(tied_ranks(overlap), cos_rank)
            fused = sorted(cos_rank, key=lambda i: -scores[i])
            out: list[int] = []
            outlets: set[int] = set()
            for i in fused:
                if int(self.sources[i]) in outlets:
                    continue
                outlets.add(int(self.sources[i]))
                out.append(int(self.ids[i]))
                if len(out) >= limit:
                    break
            return out


def related_articles(
    index: CorpusIndex,
    prepared: Sequence[PreparedClaim],
    story_id: int | None,
    exclude: set[int],
    per_claim: int,
) -> dict[int, list[int]]:
    """Per claim (its index in ``prepared``), up to ``per_claim`` related article ids from the corpus.

    The claim's own story and outlet are left out, and so are the ids in ``exclude``.
    """
    wanted: dict[int, list[int]] = {}
    for i, p in enumerate(prepared):
        ids = index.search(
            p.vector,
            nouns(p.claim.text, p.language),
            exclude_story=story_id,
            exclude_source=p.doc.source_id if p.doc else None,
            limit=per_claim + 2,
        )
        wanted[i] = [a for a in ids if a not in exclude][:per_claim]
    return wanted


def _terms(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values if v)
