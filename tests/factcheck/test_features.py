"""Pair features over real multilingual-e5 embeddings: layout, evidence selection, caches, cues."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from newstalk.factcheck.features import (
    LEXICAL_NAMES,
    MAX_SENTENCES,
    SENTENCE_CHARS,
    DiskCachedEncoder,
    LruEncoder,
    PairInput,
    feature_names,
    lexical_features,
    pair_features,
    split_evidence,
)
from newstalk.providers.embeddings import E5SmallEmbeddings


@pytest.fixture(scope="module")
def e5() -> E5SmallEmbeddings:
    return E5SmallEmbeddings()


def test_long_evidence_is_split_and_capped() -> None:
    body = " ".join(f"Sentence number {i} says something about the bridge." for i in range(80))
    parts = split_evidence(body, "en")
    assert len(parts) == MAX_SENTENCES
    assert parts[0] == "Sentence number 0 says something about the bridge."
    assert split_evidence("x" * 2000, "en") == ["x" * SENTENCE_CHARS]
    assert split_evidence("   ", "en") == ["."]


def test_lexical_cues_and_numbers() -> None:
    values = dict(
        zip(
            LEXICAL_NAMES,
            lexical_features("12 people died in the flood", "The flood killed 15 people.", "x", "en"),
            strict=True,
        )
    )
    assert values["num_claim"] == 1.0
    assert values["num_missing"] == 1.0
    denied = dict(
        zip(
            LEXICAL_NAMES,
            lexical_features("He resigned", "He denied the report, calling it a hoax.", "", "en"),
            strict=True,
        )
    )
    assert denied["refute_top"] > 0
    ko = dict(
        zip(
            LEXICAL_NAMES,
            lexical_features("비가 왔다", "비는 오지 않았다. 사실무근이다.", "", "ko"),
            strict=True,
        )
    )
    assert ko["neg_top"] > 0
    assert ko["refute_top"] > 0
    assert ko["is_korean"] == 1.0


def test_pair_features_layout_and_best_sentence(e5: E5SmallEmbeddings) -> None:
    body = (
        "The city council met on Monday to discuss the budget. "
        "Officials said the new bridge over the Han river will open in March. "
        "Weather was mild across the region."
    )
    pairs = [
        PairInput("New bridge over the Han river opens in March", body, "en", "en"),
        PairInput(
            "한강 다리가 3월에 개통한다", "새 다리가 3월에 한강 위에 개통된다고 관계자가 말했다.", "ko", "ko"
        ),
    ]
    x, tops = pair_features(pairs, e5, with_consistency=False)
    names = feature_names(with_consistency=False)
    assert x.shape == (2, len(names))
    assert x.dtype == np.float32
    assert np.isfinite(x).all()
    assert "bridge over the Han river" in tops[0]
    # The first block is the claim embedding, L2-normalized.
    claim = x[:, [i for i, n in enumerate(names) if n.startswith("claim_")]]
    np.testing.assert_allclose(np.linalg.norm(claim, axis=1), 1.0, atol=1e-4)
    cos_best = x[:, names.index("cos_best")]
    assert (cos_best > 0.8).all()
    assert x[1, names.index("is_korean")] == 1.0


def test_lru_encoder_is_bounded_and_exact(e5: E5SmallEmbeddings) -> None:
    lru = LruEncoder(e5, maxsize=3)
    texts = ["one claim", "two claims", "three", "four", "one claim"]
    got = lru.encode(texts)
    direct = e5.encode(texts)
    np.testing.assert_allclose(got, direct, atol=1e-5)
    assert len(lru._cache) == 3
    assert lru.encode([]).shape == (0, 384)


def test_disk_cache_persists_by_text(e5: E5SmallEmbeddings, tmp_path: Path) -> None:
    first = DiskCachedEncoder(e5, tmp_path, shard=2)
    a = first.encode(["alpha", "beta", "gamma", "alpha"])
    shards = sorted((tmp_path / "e5-small").glob("shard-*.npz"))
    assert len(shards) == 2
    second = DiskCachedEncoder(e5, tmp_path)
    b = second.encode(["gamma", "alpha"])
    assert sorted((tmp_path / "e5-small").glob("shard-*.npz")) == shards
    np.testing.assert_allclose(b, a[[2, 0]])
