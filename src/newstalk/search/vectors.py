"""Semantic search in memory: every document's e5 vector in one float32 matrix.

A query is one matrix-vector product over all rows (100,000 × 384 in a few ms with
numpy's BLAS), with the filters applied as boolean masks before the top-k. Memory is
``rows × dim × 4`` bytes: 147 MB for 100,000 articles at 384 dimensions, growing
linearly; past a few million rows an int8 matrix or an ANN index would be the next step.
The database stays the truth: the service reads changed rows into this matrix and
re-checks every hit against the database, so a deleted document never comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_OTHER_LANGUAGE_BIT = 62


@dataclass(frozen=True, slots=True)
class Entry:
    """One document as the vector index holds it."""

    doc_id: int
    is_story: bool
    languages: Sequence[str]
    category: str | None
    source_ids: Sequence[int]
    timestamp: float
    vector: np.ndarray


@dataclass(frozen=True, slots=True)
class VectorFilter:
    """The same filters the text search applies in SQL (times as epoch seconds)."""

    stories: bool | None = None
    language: str | None = None
    category: str | None = None
    source_id: int | None = None
    since: float | None = None
    until: float | None = None


class VectorIndex:
    """Append-or-overwrite rows keyed by search document id; removed rows are masked out."""

    _vec: np.ndarray
    _ids: np.ndarray
    _story: np.ndarray
    _langs: np.ndarray
    _cats: np.ndarray
    _ts: np.ndarray
    _alive: np.ndarray

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self._n = 0
        self._rows: dict[int, int] = {}
        self._languages: dict[str, int] = {}
        self._categories: dict[str, int] = {}
        self._sources: dict[int, set[int]] = {}
        self._row_sources: dict[int, tuple[int, ...]] = {}
        self._allocate(max(16, capacity))

    def _allocate(self, capacity: int) -> None:
        old = self._n
        vec = np.zeros((capacity, self.dim), dtype=np.float32)
        ids = np.zeros(capacity, dtype=np.int64)
        story = np.zeros(capacity, dtype=bool)
        langs = np.zeros(capacity, dtype=np.int64)
        cats = np.full(capacity, -1, dtype=np.int32)
        ts = np.zeros(capacity, dtype=np.float64)
        alive = np.zeros(capacity, dtype=bool)
        if old:
            vec[:old] = self._vec[:old]
            ids[:old] = self._ids[:old]
            story[:old] = self._story[:old]
            langs[:old] = self._langs[:old]
            cats[:old] = self._cats[:old]
            ts[:old] = self._ts[:old]
            alive[:old] = self._alive[:old]
        self._vec, self._ids, self._story, self._langs = vec, ids, story, langs
        self._cats, self._ts, self._alive = cats, ts, alive

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        """Bytes held by the matrix and the filter columns."""
        arrays = (self._vec, self._ids, self._story, self._langs, self._cats, self._ts, self._alive)
        return int(sum(a.nbytes for a in arrays))

    def doc_ids(self) -> set[int]:
        """Ids of the documents held."""
        return set(self._rows)

    def _language_bit(self, language: str, *, add: bool) -> int | None:
        bit = self._languages.get(language)
        if bit is None:
            if not add:
                return None
            bit = len(self._languages) if len(self._languages) < _OTHER_LANGUAGE_BIT else _OTHER_LANGUAGE_BIT
            self._languages[language] = bit
        return bit

    def upsert(self, entries: Iterable[Entry]) -> None:
        """Add documents or overwrite the ones already held."""
        for entry in entries:
            row = self._rows.get(entry.doc_id)
            if row is None:
                if self._n == len(self._ids):
                    self._allocate(len(self._ids) * 2)
                row = self._n
                self._n += 1
                self._rows[entry.doc_id] = row
            self._vec[row] = entry.vector
            self._ids[row] = entry.doc_id
            self._story[row] = entry.is_story
            mask = 0
            for language in entry.languages:
                bit = self._language_bit(language, add=True)
                mask |= 1 << (bit or 0)
            self._langs[row] = mask
            if entry.category is None:
                self._cats[row] = -1
            else:
                self._cats[row] = self._categories.setdefault(entry.category, len(self._categories))
            self._ts[row] = entry.timestamp
            self._alive[row] = True
            self._set_sources(row, tuple(entry.source_ids))

    def _set_sources(self, row: int, sources: tuple[int, ...]) -> None:
        for source in self._row_sources.pop(row, ()):
            self._sources.get(source, set()).discard(row)
        if sources:
            self._row_sources[row] = sources
            for source in sources:
                self._sources.setdefault(source, set()).add(row)

    def remove(self, doc_ids: Iterable[int]) -> None:
        """Forget documents (their rows stay allocated but never match)."""
        for doc_id in doc_ids:
            row = self._rows.pop(doc_id, None)
            if row is not None:
                self._alive[row] = False
                self._set_sources(row, ())

    def _mask(self, n: int, flt: VectorFilter) -> np.ndarray:
        mask = self._alive[:n].copy()
        if flt.stories is not None:
            mask &= self._story[:n] == flt.stories
        if flt.language is not None:
            bit = self._language_bit(flt.language, add=False)
            if bit is None:
                return np.zeros(n, dtype=bool)
            mask &= (self._langs[:n] & (1 << bit)) != 0
        if flt.category is not None:
            code = self._categories.get(flt.category)
            if code is None:
                return np.zeros(n, dtype=bool)
            mask &= self._cats[:n] == code
        if flt.source_id is not None:
            rows = self._sources.get(flt.source_id)
            keep = np.zeros(n, dtype=bool)
            if rows:
                keep[np.fromiter(rows, dtype=np.int64, count=len(rows))] = True
            mask &= keep
        if flt.since is not None:
            mask &= self._ts[:n] >= flt.since
        if flt.until is not None:
            mask &= self._ts[:n] < flt.until
        return mask

    def candidates(self, flt: VectorFilter | None = None) -> Candidates | None:
        """The rows a query may return: the matrix view, their ids and the filter mask.

        Taken on the thread that writes the index (the event loop). The product with the
        query may then run in a worker thread: the view keeps its rows alive even if the
        matrix is reallocated, and a row overwritten meanwhile may score once with half its
        old values, which the database re-check of every hit makes harmless.
        """
        n = self._n
        if n == 0:
            return None
        mask = self._mask(n, flt or VectorFilter())
        if not mask.any():
            return None
        return Candidates(self._vec[:n], self._ids[:n].copy(), mask)

    def search(self, query: np.ndarray, k: int, flt: VectorFilter | None = None) -> list[tuple[int, float]]:
        """The ``k`` documents most similar to ``query`` (cosine) that pass the filter, best first."""
        found = self.candidates(flt)
        return [] if found is None else found.top(found.scores(query), k)


@dataclass(frozen=True, slots=True)
class Candidates:
    """A query's view of the index: score it anywhere, rank it with :meth:`top`."""

    matrix: np.ndarray
    ids: np.ndarray
    mask: np.ndarray

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine of every row with ``query`` (one matrix-vector product; releases the GIL)."""
        out: np.ndarray = self.matrix @ np.asarray(query, dtype=np.float32)
        return out

    def top(self, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` best rows that pass the filter, best first."""
        count = int(self.mask.sum())
        if k <= 0 or count == 0:
            return []
        masked = np.where(self.mask, scores, -np.inf)
        k = min(k, count)
        top = np.argpartition(-masked, k - 1)[:k]
        top = top[np.argsort(-masked[top], kind="stable")]
        return [(int(self.ids[i]), float(masked[i])) for i in top]
