"""The shipped local verifier end to end: artifact, manifest, judgements on real pairs, conflicts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from newstalk.factcheck.verifiers.local import ARTIFACT_PATH, FOLDS, LocalVerifier, VerifierModel, pair_hash
from newstalk.factcheck.verify import Pair, Stance, Verifier
from newstalk.providers.embeddings import E5SmallEmbeddings
from newstalk.training.factcheck.datasets import load

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "factcheck"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/factcheck is not present")


@pytest.fixture(scope="module")
def verifier() -> LocalVerifier:
    return LocalVerifier(E5SmallEmbeddings(), cache_size=64)


def test_artifact_and_manifest_agree() -> None:
    manifest = json.loads(ARTIFACT_PATH.with_suffix(".json").read_text())
    assert manifest["artifact_sha256"] == hashlib.sha256(ARTIFACT_PATH.read_bytes()).hexdigest()
    assert ARTIFACT_PATH.stat().st_size <= 25_000_000
    assert set(manifest["datasets"]) == {"fnc1", "fever-symmetric", "climate-fever", "klue-nli", "kornli"}
    assert all(len(sha) == 64 for ds in manifest["datasets"].values() for sha in ds["files"].values())
    model = VerifierModel.load()
    assert len(model.models) == FOLDS + 1
    assert (np.diff(model.hashes.astype(np.float64)) > 0).all()
    assert set(np.unique(model.folds).tolist()) == set(range(FOLDS))
    assert len(model.hashes) == manifest["distinct_pairs"]
    assert 0 < model.related_threshold < 1
    assert manifest["cv_scores"]["fnc1"]["n"] == 13305


@needs_data
def test_training_pairs_map_to_their_fold() -> None:
    model = VerifierModel.load()
    pair = load(DATA / "fever-symmetric-dev/fever_symmetric_dev.jsonl", "fever").pairs[0]
    assert 0 <= model.fold_of(pair_hash(pair.claim, pair.evidence)) < FOLDS
    assert model.fold_of(pair_hash(pair.claim + " Really.", pair.evidence)) == -1


@needs_data
def test_judges_real_pairs(verifier: LocalVerifier) -> None:
    assert isinstance(verifier, Verifier)
    assert verifier.name == "local"
    fever = load(DATA / "fever-symmetric-dev/fever_symmetric_dev.jsonl", "fever").pairs[:4]
    klue = load(DATA / "klue-nli-dev/klue-nli-v1.1_dev.json", "klue-json").pairs[:3]
    fnc = load(DATA / "fnc-1-dev", "fnc1").pairs[:2]
    pairs = [Pair(p.claim, p.evidence, p.lang, p.lang) for p in fever + klue + fnc]
    judgements = verifier.judge(pairs)
    assert len(judgements) == len(pairs)
    for j in judgements:
        assert set(j.probs) == set(Stance)
        assert sum(j.probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert j.stance == max(j.probs, key=lambda s: j.probs[s])
        assert 0.0 <= j.related <= 1.0
    # An FNC-1 headline against its own long body is judged like a single sentence: same API.
    assert verifier.judge([]) == []


def test_number_conflict_is_reported(verifier: LocalVerifier) -> None:
    claim = "Floods in Gangwon province killed 12 people on Monday."
    pairs = [
        Pair(claim, "Floods in Gangwon province killed 15 people on Monday, officials said.", "en", "en"),
        Pair(claim, "Floods in Gangwon province killed 12 people on Monday, officials said.", "en", "en"),
        Pair("강원도 홍수로 12명이 숨졌다.", "강원도 홍수로 15명이 숨졌다고 당국이 밝혔다.", "ko", "ko"),
    ]
    conflicting, agreeing, korean = verifier.judge(pairs)
    assert any("12" in c and "15" in c for c in conflicting.conflicts)
    assert agreeing.conflicts == ()
    assert any("12" in c and "15" in c for c in korean.conflicts)
    assert agreeing.probs[Stance.SUPPORTS] > conflicting.probs[Stance.SUPPORTS]
    assert agreeing.related > 0.5


def test_repeated_evidence_is_embedded_once(verifier: LocalVerifier) -> None:
    evidence = "The central bank raised its key rate by a quarter point to 3.5 percent."
    claims = ["The central bank cut rates.", "The central bank raised rates.", "Rates rose to 3.5 percent."]
    verifier.judge([Pair(c, evidence, "en", "en") for c in claims])
    cache = verifier.encoder._cache
    assert evidence in cache
    assert sum(1 for key in cache if key == evidence) == 1
    assert len(cache) <= 64


def test_exported_trees_match_sklearn() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from newstalk.training.factcheck.train import forest_arrays

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] ** 2 > 1).astype(int) + (x[:, 2] > 1)
    clf = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(x, y)
    forest = forest_arrays(
        clf, np.arange(5, dtype=np.int32), np.zeros((0, 5), np.float32), np.zeros(5, np.float32)
    )
    np.testing.assert_allclose(forest(x, x), clf.predict_proba(x), atol=1e-6)
