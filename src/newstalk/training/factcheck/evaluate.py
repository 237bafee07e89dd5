"""Scores of the local verifier on a labelled data set, honest about what it trained on.

Every pair is hashed; a pair the shipped model trained on is scored by the fold model that
never saw it (its cross-validation fold), any other pair by the full model. So on the
shared training files the numbers are grouped 5-fold cross-validation scores, and on any
other file they are held-out scores; the result says how many pairs went each way.

Decision rules, per format:

- ``fnc1``: unrelated when ``related`` < the threshold tuned in cross-validation (stored in
  the artifact), else agree / disagree / discuss from the stance. FNC-1 score: +0.25 for
  each pair whose related/unrelated call is right, +0.75 more when a related pair also
  gets its exact stance; ``fnc_score`` is that total over the score of a perfect answer.
- ``fever``, ``nli-tsv``, ``klue-json``: the most probable stance; when the file has no
  neutral / NOT ENOUGH INFO rows (FEVER-Symmetric) the task is two-way and neutral is
  not a choice.
- ``climate-fever``: pairs as above; each claim's label comes from :func:`claim_verdict`.

Korean pairs also go through the cross-encoder (``crossenc.py``, run in numpy by ``crossnp.py``),
blended with the feature model as ``LocalVerifier`` does, with the same rule: a pair the
cross-encoder trained on is scored by its fold model that never saw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from newstalk.factcheck.features import Encoder, PairInput, pair_features
from newstalk.factcheck.verifiers.local import (
    STANCE_ORDER,
    VerifierModel,
    blend_cross,
    cross_encoder_enabled,
    cross_handles,
    load_cross_encoder,
    pair_hash,
)
from newstalk.factcheck.verify import Pair
from newstalk.training.factcheck.datasets import Dataset, LabelledPair, load

if TYPE_CHECKING:
    from newstalk.factcheck.verifiers.crossnp import NumpyCrossEncoder as CrossEncoder
from newstalk.stories.category import classification_scores

# Claim-level aggregation: a pair counts as strong evidence when its stance is the most
# probable one with at least this probability.
STRONG = 0.5

_NLI_NAMES = {"supports": "entailment", "refutes": "contradiction", "neutral": "neutral"}
_FEVER_NAMES = {"supports": "SUPPORTS", "refutes": "REFUTES", "neutral": "NOT ENOUGH INFO"}
_FNC_NAMES = {"supports": "agree", "refutes": "disagree", "neutral": "discuss"}


def fnc_score(gold: Sequence[str], predicted: Sequence[str]) -> tuple[float, float]:
    """FNC-1 weighted score and the best possible score for ``gold`` (labels agree/disagree/discuss/unrelated)."""

    def score(truth: Sequence[str], guess: Sequence[str]) -> float:
        total = 0.0
        for g, p in zip(truth, guess, strict=True):
            if g == p:
                total += 0.25
                if g != "unrelated":
                    total += 0.50
            if g != "unrelated" and p != "unrelated":
                total += 0.25
        return total

    return score(gold, predicted), score(gold, gold)


def claim_verdict(probs: np.ndarray, strong: float = STRONG) -> str:
    """Climate-FEVER claim label from its pairs' stance probabilities (rows in STANCE_ORDER order).

    Strong support and strong refutation among the pairs -> DISPUTED; only one of them ->
    SUPPORTS or REFUTES; neither -> NOT_ENOUGH_INFO.
    """
    best = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    sup = bool(np.any((best == STANCE_ORDER.index("supports")) & (conf >= strong)))
    ref = bool(np.any((best == STANCE_ORDER.index("refutes")) & (conf >= strong)))
    if sup and ref:
        return "DISPUTED"
    if sup:
        return "SUPPORTS"
    if ref:
        return "REFUTES"
    return "NOT_ENOUGH_INFO"


def score_pairs(
    pairs: Sequence[LabelledPair],
    model: VerifierModel,
    encoder: Encoder,
    cross: CrossEncoder | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Stance probabilities (n, 3) and related (n,) for each pair, each by models that never saw it
    (the feature model's and, for Korean pairs with ``cross``, the cross-encoder's fold models)."""
    inputs = [PairInput(p.claim, p.evidence, p.lang, p.lang) for p in pairs]
    x, _ = pair_features(inputs, encoder, with_consistency=model.with_consistency)
    folds = np.array([model.fold_of(pair_hash(p.claim, p.evidence)) for p in pairs], dtype=np.int64)
    stance = np.zeros((len(pairs), len(STANCE_ORDER)), np.float32)
    related = np.zeros(len(pairs), np.float32)
    for fold in sorted(set(folds.tolist())):
        rows = folds == fold
        stance[rows], related[rows] = model.predict(x[rows], fold)
    counts = {
        "scored_by_fold_model": int((folds >= 0).sum()),
        "scored_by_full_model": int((folds < 0).sum()),
    }
    if cross is not None:
        as_pairs = [Pair(p.claim, p.evidence, p.lang, p.lang) for p in pairs]
        cross_folds = [cross.fold_of(pair_hash(p.claim, p.evidence)) for p in pairs]
        counts["cross_encoder_pairs"] = blend_cross(stance, as_pairs, cross, cross_folds)
        counts["cross_encoder_by_fold_model"] = sum(
            1 for f, p in zip(cross_folds, pairs, strict=True) if f >= 0 and _korean(p)
        )
    return stance, related, counts


def _korean(p: LabelledPair) -> bool:
    return cross_handles(p.claim, p.evidence, p.lang, p.lang)


def _scores(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    base = classification_scores(truth, predicted)
    out: dict[str, Any] = {"n": base["n"], "accuracy": round(base["accuracy"], 4)}
    out["macro_f1"] = round(base["macro_f1"], 4)
    for label, f1 in base["per_class_f1"].items():
        out[f"f1_{label.lower().replace(' ', '_')}"] = round(f1, 4)
    return out


def predict_labels(ds: Dataset, stance: np.ndarray, related: np.ndarray, threshold: float) -> list[str]:
    """Each pair's predicted label in the data set's own vocabulary."""
    gold_stances = {p.stance for p in ds.pairs}
    allowed = np.ones(len(STANCE_ORDER), bool)
    if ds.fmt != "fnc1" and "neutral" not in gold_stances:
        allowed[STANCE_ORDER.index("neutral")] = False
    best = np.where(allowed, stance, -1.0).argmax(axis=1)
    names = {"fnc1": _FNC_NAMES, "nli-tsv": _NLI_NAMES, "klue-json": _NLI_NAMES}.get(ds.fmt, _FEVER_NAMES)
    if ds.fmt == "climate-fever":
        names = {k: v.replace(" ", "_") for k, v in _FEVER_NAMES.items()}
    out = [names[STANCE_ORDER[i]] for i in best.tolist()]
    if ds.fmt == "fnc1":
        out = ["unrelated" if r < threshold else o for o, r in zip(out, related.tolist(), strict=True)]
    return out


def score_dataset(ds: Dataset, stance: np.ndarray, related: np.ndarray, threshold: float) -> dict[str, Any]:
    """Metrics of predicted stance probabilities and related scores against the data set's labels."""
    predicted = predict_labels(ds, stance, related, threshold)
    gold = [p.label for p in ds.pairs]
    result: dict[str, Any] = {}
    if ds.fmt == "climate-fever":
        pair_scores = _scores(gold, predicted)
        by_claim: dict[str, list[int]] = {}
        for i, p in enumerate(ds.pairs):
            by_claim.setdefault(p.claim_id, []).append(i)
        claim_ids = [c for c in by_claim if c in ds.claims]
        claim_scores = _scores(
            [ds.claims[c] for c in claim_ids], [claim_verdict(stance[by_claim[c]]) for c in claim_ids]
        )
        result["n"] = pair_scores["n"]
        result["accuracy"] = pair_scores["accuracy"]
        result["macro_f1"] = pair_scores["macro_f1"]
        result["pair_accuracy"] = pair_scores["accuracy"]
        result["claims"] = claim_scores["n"]
        result["claim_accuracy"] = claim_scores["accuracy"]
        result["claim_macro_f1"] = claim_scores["macro_f1"]
        result.update({f"pair_{k}": v for k, v in pair_scores.items() if k.startswith("f1_")})
        result.update({f"claim_{k}": v for k, v in claim_scores.items() if k.startswith("f1_")})
        return result
    result.update(_scores(gold, predicted))
    if ds.fmt == "fnc1":
        got, best = fnc_score(gold, predicted)
        result["fnc_score"] = round(got / best, 4) if best else 0.0
        result["related_threshold"] = round(threshold, 4)
    return result


def evaluate(
    path: Path, fmt: str, model: VerifierModel, encoder: Encoder, *, cross_encoder: bool | None = None
) -> dict[str, Any]:
    """Score the verifier on a data file in ``fmt``; returns the metrics as a flat dict.

    With ``cross_encoder`` (default: ``NEWSTALK_VERIFIER_CROSS_ENCODER``) and torch installed,
    Korean pairs are scored as ``LocalVerifier`` scores them: the feature model blended with
    the cross-encoder.
    """
    ds = load(path, fmt)
    use = cross_encoder_enabled() if cross_encoder is None else cross_encoder
    cross = load_cross_encoder() if use and any(_korean(p) for p in ds.pairs) else None
    stance, related, counts = score_pairs(ds.pairs, model, encoder, cross)
    result = score_dataset(ds, stance, related, model.related_threshold)
    result.update(counts)
    result["model"] = model.describe() + (f"; Korean pairs: {cross.describe()}" if cross else "")
    result.update(ds.skipped.report())
    return result
