"""Running aggregates of a story's members, so a refresh costs the new members, not the whole story.

``service.refresh`` used to re-read every member of a story (with its features) on each new
article: 6.7 ms per article on the 10,000-article benchmark, growing with the story. A
``StoryAggregate`` holds what the refresh derives from members — outlets, languages, keyword
counts, the embedding sum of originals (non-duplicates), sentiment sums, first/last seen, the
arrival list for trending, and the last ``SUMMARY_MEMBERS`` originals for title and summary —
and ``add`` folds in one member. The result equals a full recompute over the same members in
the same order ((added_at, article_id), as the full read sorts them).

The aggregates live in the stage's engine memory only; the database stays the source of
truth. They are dropped with the engine state (start-up, a failed unit, an editor's split or
merge) and the next refresh of such a story reads all its members once to rebuild them.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

SUMMARY_MEMBERS = 30


@dataclass(frozen=True, slots=True)
class Member:
    """What a refresh needs of one member article."""

    article_id: int
    source_id: int
    title: str
    language: str
    first_seen_at: datetime
    keywords: Sequence[str]
    embedding: np.ndarray
    sentiment: float | None
    lead: Sequence[str]
    original: bool


@dataclass(slots=True)
class _Side:
    """Sums over one member set (originals, or all members for a story with no original)."""

    vector_sum: np.ndarray | None = None
    count: int = 0
    sentiment_sum: float = 0.0
    sentiment_n: int = 0
    recent: deque[Member] = field(default_factory=lambda: deque(maxlen=SUMMARY_MEMBERS))

    def add(self, m: Member) -> None:
        v = np.asarray(m.embedding, dtype=np.float64)
        self.vector_sum = v.copy() if self.vector_sum is None else self.vector_sum + v
        self.count += 1
        if m.sentiment is not None:
            self.sentiment_sum += float(m.sentiment)
            self.sentiment_n += 1
        self.recent.append(m)


@dataclass(slots=True)
class StoryAggregate:
    """Everything ``service.refresh`` writes on a story, kept up to date member by member."""

    member_ids: set[int] = field(default_factory=set)
    source_ids: set[int] = field(default_factory=set)
    languages: Counter[str] = field(default_factory=Counter)
    keyword_counts: Counter[str] = field(default_factory=Counter)
    arrivals: list[tuple[datetime, int]] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    originals: _Side = field(default_factory=_Side)
    everyone: _Side = field(default_factory=_Side)

    @classmethod
    def build(cls, members: Iterable[Member]) -> StoryAggregate:
        """Aggregate members given in story order."""
        agg = cls()
        for m in members:
            agg.add(m)
        return agg

    def add(self, m: Member) -> bool:
        """Fold in one member (in story order); False when it was already counted."""
        if m.article_id in self.member_ids:
            return False
        self.member_ids.add(m.article_id)
        self.source_ids.add(m.source_id)
        self.languages[m.language] += 1
        self.keyword_counts.update(m.keywords)
        self.arrivals.append((m.first_seen_at, m.source_id))
        self.first_seen = (
            m.first_seen_at if self.first_seen is None else min(self.first_seen, m.first_seen_at)
        )
        self.last_seen = m.first_seen_at if self.last_seen is None else max(self.last_seen, m.first_seen_at)
        if m.original:
            self.originals.add(m)
        self.everyone.add(m)
        return True

    @property
    def size(self) -> int:
        """Members counted."""
        return len(self.member_ids)

    def _side(self) -> _Side:
        # A story whose members are all duplicates (possible after an editor's split) is
        # described by all of them, as the full recompute did.
        return self.originals if self.originals.count else self.everyone

    def centroid(self) -> np.ndarray:
        """Normalized mean embedding of the originals (float32)."""
        side = self._side()
        if side.vector_sum is None:
            raise ValueError("stories: an empty story has no centroid")
        c = side.vector_sum / max(side.count, 1)
        norm = float(np.linalg.norm(c))
        out: np.ndarray = (c / norm if norm > 0 else c).astype(np.float32)
        return out

    def sentiment(self) -> float | None:
        """Mean sentiment of the originals that have one."""
        side = self._side()
        return side.sentiment_sum / side.sentiment_n if side.sentiment_n else None

    def recent(self) -> list[Member]:
        """The last ``SUMMARY_MEMBERS`` originals, oldest first."""
        return list(self._side().recent)

    def main_language(self) -> str:
        """The most common member language (ties: the one seen first)."""
        return self.languages.most_common(1)[0][0]
