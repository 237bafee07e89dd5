"""Story clustering quality on the UCI News Aggregator format: B-cubed over STORY ids.

Rows (ID, TITLE, URL, PUBLISHER, CATEGORY, STORY, HOSTNAME, TIMESTAMP in ms) are streamed
in TIMESTAMP order through ``StoryClusterer`` exactly as the stories stage would: each
title is embedded, assigned to an open story or opens one. Publishers are the sources.

The clusterer's member gain was picked on half A of this head file's STORY ids
(``split_stories``, seed 0: 6 of 12 stories); half B (``half="B"``) is the held-out number,
and a number on the full file should say so. Threshold and keyword/entity weights come from
FNC-1 headline clusters (headlines related to the same body form one story; 890 headlines).
``kfold_uci`` additionally reports a k-fold number where the threshold is picked on the
other folds (folds split by STORY id) as a cross-check.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from newstalk.errors import InvalidInput
from newstalk.kit.rows import SkippedRows
from newstalk.providers.embeddings import E5SmallEmbeddings, EmbeddingProvider
from newstalk.stories.cluster import DEFAULT_THRESHOLD, ArticleFeatures, StoryClusterer, features_from_title

REQUIRED = ("TITLE", "PUBLISHER", "STORY", "TIMESTAMP")
WINDOW = timedelta(hours=72)


@dataclass(frozen=True)
class Row:
    """One UCI row as clustering sees it."""

    title: str
    publisher: str
    story: str
    published_at: datetime


def bcubed(gold: Sequence[Hashable], found: Sequence[Hashable]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a clustering against gold labels (same item order)."""
    if len(gold) != len(found):
        raise ValueError("bcubed: gold and found must label the same items")
    n = len(gold)
    if n == 0:
        return 0.0, 0.0, 0.0
    pair = Counter(zip(gold, found, strict=True))
    g = Counter(gold)
    f = Counter(found)
    # Each item in cell (gi, fi) has precision |cell|/|fi| and recall |cell|/|gi|.
    p = sum(c * c / f[fi] for (_, fi), c in pair.items()) / n
    r = sum(c * c / g[gi] for (gi, _), c in pair.items()) / n
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1


def read_uci(path: Path, skipped: SkippedRows | None = None) -> list[Row]:
    """Read a UCI News Aggregator CSV, sorted by TIMESTAMP.

    A row with a missing field, an empty title or story, or a TIMESTAMP that is not
    milliseconds is skipped and counted in ``skipped``; a file without the UCI columns fails.
    """
    skipped = skipped if skipped is not None else SkippedRows()
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput(f"eval stories: {path} lacks UCI columns {', '.join(missing)}")
        for rec in reader:
            where = f"{path} line {reader.line_num}"
            values = {c: rec.get(c) for c in REQUIRED}
            short = [c for c, v in values.items() if not isinstance(v, str) or not v.strip()]
            if short:
                skipped.skip(where, f"no {', '.join(short)}")
                continue
            try:
                ts = datetime.fromtimestamp(int(rec["TIMESTAMP"]) / 1000, tz=UTC)
            except (ValueError, OverflowError, OSError):
                skipped.skip(where, f"TIMESTAMP {rec['TIMESTAMP']!r} is not milliseconds")
                continue
            rows.append(Row(rec["TITLE"].strip(), rec["PUBLISHER"].strip(), rec["STORY"].strip(), ts))
    if not rows:
        raise InvalidInput(f"eval stories: {path} has no usable UCI rows")
    rows.sort(key=lambda r: r.published_at)
    return rows


def cluster_stream(
    features: Sequence[ArticleFeatures], *, threshold: float, window: timedelta = WINDOW
) -> list[int]:
    """Run the clusterer over features in the given order; returns the story id of each."""
    clusterer = StoryClusterer(window=window, threshold=threshold)
    out: list[int] = []
    next_id = 1
    for f in features:
        clusterer.evict(f.published_at)
        a = clusterer.assign(f)
        if a.story_id is None:
            clusterer.new_story(next_id, f)
            out.append(next_id)
            next_id += 1
        else:
            clusterer.add(a.story_id, f)
            out.append(a.story_id)
    return out


def uci_features(rows: Sequence[Row], embeddings: EmbeddingProvider) -> list[ArticleFeatures]:
    """Embed the titles and build clustering features (publishers become source ids)."""
    vectors = embeddings.encode([r.title for r in rows])
    sources: dict[str, int] = {}
    return [
        features_from_title(
            i, sources.setdefault(r.publisher, len(sources)), "en", r.published_at, r.title, v
        )
        for i, (r, v) in enumerate(zip(rows, vectors, strict=True))
    ]


def split_stories(rows: Sequence[Row], seed: int = 0) -> tuple[frozenset[str], frozenset[str]]:
    """Split the STORY ids in two halves ("A", "B") at random with a fixed seed.

    The clusterer's threshold was chosen on half A of the head file; half B is held out.
    """
    stories = sorted({r.story for r in rows})
    perm = np.random.default_rng(seed).permutation(len(stories))
    half = len(stories) // 2
    return frozenset(stories[i] for i in perm[:half]), frozenset(stories[i] for i in perm[half:])


def evaluate_uci(
    path: Path,
    *,
    embeddings: EmbeddingProvider | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    half: str | None = None,
) -> dict[str, float | int]:
    """B-cubed precision/recall/F1 of incremental story clustering over a UCI-format CSV.

    ``half`` ("A" or "B") keeps only the rows of that half of the STORY ids (``split_stories``).
    """
    skipped = SkippedRows()
    rows = read_uci(path, skipped)
    if half is not None:
        if half not in ("A", "B"):
            raise InvalidInput(f"eval stories: half must be 'A' or 'B', not {half!r}")
        a, b = split_stories(rows)
        keep = a if half == "A" else b
        rows = [r for r in rows if r.story in keep]
    feats = uci_features(rows, embeddings or E5SmallEmbeddings())
    found = cluster_stream(feats, threshold=threshold)
    gold = [r.story for r in rows]
    p, r, f1 = bcubed(gold, found)
    return {
        "bcubed_precision": round(p, 4),
        "bcubed_recall": round(r, 4),
        "bcubed_f1": round(f1, 4),
        "n": len(rows),
        "clusters_gold": len(set(gold)),
        "clusters_found": len(set(found)),
        "threshold": threshold,
        **skipped.report(),
    }


def kfold_uci(
    path: Path,
    *,
    embeddings: EmbeddingProvider | None = None,
    folds: int = 5,
    grid: Sequence[float] = tuple(np.round(np.arange(0.50, 0.951, 0.025), 3)),
) -> dict[str, float | int]:
    """Held-out B-cubed F1: folds split by STORY id, threshold picked on the other folds each time."""
    skipped = SkippedRows()
    rows = read_uci(path, skipped)
    feats = uci_features(rows, embeddings or E5SmallEmbeddings())
    stories = sorted({r.story for r in rows})
    rng = np.random.default_rng(0)
    fold_of = dict(zip(stories, rng.permutation(len(stories)) % folds, strict=True))
    by_fold: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_fold[int(fold_of[r.story])].append(i)

    def f1_on(idx: list[int], t: float) -> float:
        found = cluster_stream([feats[i] for i in idx], threshold=t)
        return bcubed([rows[i].story for i in idx], found)[2]

    scores, picked = [], []
    for k in range(folds):
        train = [i for i in range(len(rows)) if fold_of[rows[i].story] != k]
        best = max(grid, key=lambda t: f1_on(train, float(t)))
        picked.append(float(best))
        scores.append(f1_on(by_fold[k], float(best)))
    return {
        "kfold_bcubed_f1": round(float(np.mean(scores)), 4),
        "folds": folds,
        "thresholds_min": min(picked),
        "thresholds_max": max(picked),
        **skipped.report(),
    }
