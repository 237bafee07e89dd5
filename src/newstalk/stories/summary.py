"""Story summary and title: pick the most central sentences and title of a story's articles.

Centrality is cosine similarity to the story centroid, over the given sentence embeddings or, without
them, over TF-IDF vectors of ``text.words`` (Kiwi content morphemes for Korean). Leads get a bonus
because wire copy front-loads the news. Sentences are picked by maximal marginal relevance
(centrality minus 0.7 x the highest similarity to a chosen one), a near-repeat of a chosen sentence
(word Jaccard >= 0.4 or cosine >= 0.85) is never picked, and the result is returned in reading order
(earlier positions first, then article order).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from newstalk.stories.text import words

LEAD_BONUS = (0.12, 0.06, 0.03)
NEAR_DUP_JACCARD = 0.4
NEAR_DUP_COSINE = 0.85
REDUNDANCY = 0.7
MIN_CHARS = {"ko": 12, "en": 30}
MAX_CHARS = 400

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_BYLINE_PREFIX = re.compile(
    r"^[(\[]?\s*[가-힣]{1,8}\s*=?\s*(연합뉴스|뉴스1|뉴시스)\s*[)\]]?\s*([가-힣]{2,4}\s*(기자|특파원)\s*=?\s*)?"
)
_BYLINE = re.compile(r"^(By|BY) [A-Z][\w.-]+( [A-Z][\w.-]+)*$|^[가-힣]{2,4}\s*(기자|특파원)\s*=?$")
_CLICKBAIT = re.compile(
    r"[?!]|\.\.\.|…|\b(shocking|you won't believe|here's why|what you need to know|watch|breaking)\b"
    r"|충격|경악|헉|결국|알고 보니|\[속보\]|\[단독\]|\[포토\]|\[영상\]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Candidate:
    article: int
    position: int
    text: str
    tokens: frozenset[str]


def _lang_key(lang: str) -> str:
    return "ko" if lang.lower().startswith("ko") else "en"


def _tfidf(token_lists: Sequence[Sequence[str]]) -> np.ndarray:
    vocab: dict[str, int] = {}
    for tokens in token_lists:
        for t in tokens:
            vocab.setdefault(t, len(vocab))
    matrix = np.zeros((len(token_lists), max(len(vocab), 1)), dtype=np.float32)
    df: Counter[str] = Counter(t for tokens in token_lists for t in set(tokens))
    n = len(token_lists)
    for row, tokens in enumerate(token_lists):
        for t, count in Counter(tokens).items():
            matrix[row, vocab[t]] = (1.0 + math.log(count)) * math.log(1.0 + n / df[t])
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalized: np.ndarray = matrix / np.where(norms == 0, 1.0, norms)
    return normalized


def _centrality(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centroid = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    if norm > 0:
        centroid = centroid / norm
    sims: np.ndarray = vectors @ centroid
    return sims, vectors


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def extractive_summary(
    sentences_by_article: Sequence[Sequence[str]],
    lang: str,
    *,
    n: int = 3,
    embeddings: np.ndarray | None = None,
) -> list[str]:
    """About ``n`` central, non-redundant sentences of a story, leads preferred, in reading order.

    ``embeddings``, when given, has one L2-normalized row per sentence in the flattened input order.
    """
    key = _lang_key(lang)
    flat: list[tuple[int, int, str]] = [
        (a, p, _BYLINE_PREFIX.sub("", " ".join(s.split())))
        for a, article in enumerate(sentences_by_article)
        for p, s in enumerate(article)
    ]
    if embeddings is not None and len(embeddings) != len(flat):
        raise ValueError(
            f"summary: got {len(embeddings)} embeddings for {len(flat)} sentences; pass one row per sentence"
        )
    keep = [
        i
        for i, (_, _, text) in enumerate(flat)
        if MIN_CHARS[key] <= len(text) <= MAX_CHARS and not _BYLINE.search(text)
    ]
    if not keep:
        keep = [i for i, (_, _, text) in enumerate(flat) if text]
    if not keep or n <= 0:
        return []
    token_lists = [words(flat[i][2], lang) for i in keep]
    candidates = [
        _Candidate(flat[i][0], flat[i][1], flat[i][2], frozenset(tokens))
        for i, tokens in zip(keep, token_lists, strict=True)
    ]
    vectors = (
        np.asarray(embeddings, dtype=np.float32)[keep] if embeddings is not None else _tfidf(token_lists)
    )
    sims, vectors = _centrality(vectors)
    scores = [
        float(sims[i]) + (LEAD_BONUS[c.position] if c.position < len(LEAD_BONUS) else 0.0)
        for i, c in enumerate(candidates)
    ]
    chosen: list[int] = []
    remaining = set(range(len(candidates)))
    while remaining and len(chosen) < n:
        # Maximal marginal relevance: centrality minus similarity to what is already chosen.
        def gain(i: int) -> tuple[float, int, int]:
            overlap = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            return (scores[i] - REDUNDANCY * overlap, -candidates[i].article, -candidates[i].position)

        best = max(remaining, key=gain)
        remaining.discard(best)
        if any(
            _jaccard(candidates[best].tokens, candidates[j].tokens) >= NEAR_DUP_JACCARD
            or float(vectors[best] @ vectors[j]) >= NEAR_DUP_COSINE
            or candidates[best].text == candidates[j].text
            for j in chosen
        ):
            continue
        chosen.append(best)
    chosen.sort(key=lambda i: (candidates[i].position, candidates[i].article))
    return [candidates[i].text for i in chosen]


def representative_title(
    titles: Sequence[str], *, lang: str | None = None, embeddings: np.ndarray | None = None
) -> str:
    """The most central title of a story, passing over clickbait-styled ones (?, !, [속보]) when possible."""
    cleaned = [" ".join(t.split()) for t in titles]
    indices = [i for i, t in enumerate(cleaned) if t]
    if not indices:
        return ""
    if embeddings is not None:
        vectors = np.asarray(embeddings, dtype=np.float32)[indices]
    else:
        token_lists = [
            words(cleaned[i], lang or ("ko" if _HANGUL.search(cleaned[i]) else "en")) for i in indices
        ]
        vectors = _tfidf(token_lists)
    sims, _ = _centrality(vectors)

    def score(k: int) -> float:
        title = cleaned[indices[k]]
        penalty = 0.3 if _CLICKBAIT.search(title) else 0.0
        # Very short or very long titles read badly aloud and in lists.
        length = len(title)
        penalty += 0.1 if length < 15 or length > 110 else 0.0
        penalty += 0.1 if sum(w.isupper() and len(w) > 3 for w in title.split()) >= 2 else 0.0
        return float(sims[k]) - penalty

    best = max(range(len(indices)), key=lambda k: (score(k), -k))
    return cleaned[indices[best]]
