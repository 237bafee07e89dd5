"""Features of a claim–evidence pair for the local verifier.

Evidence is split into sentences (at most :data:`MAX_SENTENCES`, each cut to
:data:`SENTENCE_CHARS`); the claim and every sentence are embedded with multilingual-e5
(passage embeddings, L2-normalized). The sentences closest to the claim stand in for the
evidence, which is what makes a long FNC-1 body and a one-sentence NLI premise look alike:

- the claim embedding ``u`` itself (how a claim is worded says something about it, e.g.
  an NLI hypothesis with a negation is more often a contradiction);
- embedding interaction of ``u`` and the best sentence ``v``: ``u*v`` and ``|u-v|``, and
  ``u*vk`` for the normalized mean ``vk`` of the top-k sentences;
- similarity: best, mean of top-k and mean of all sentence cosines, cosine to the lead;
- lexical overlap between the claim and the top-k sentences: content-word and character
  3-gram coverage and Jaccard, numbers of the claim missing from the evidence;
- cue words (English and Korean) for negation, refutation (hoax, denied, 사실무근) and
  hedging (reportedly, allegedly, 알려졌다) in the claim, the top-k sentences and the whole text;
- the structured consistency check's vector (numbers with units, dates, entities, polarity)
  when ``newstalk.factcheck.consistency`` is available.

The layout is fixed by :data:`FEATURE_VERSION` and the names in :func:`feature_names`; a
trained artifact records both and refuses features of another layout.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from newstalk.stories.text import normalize_text, sentences, words

FEATURE_VERSION = 2
MAX_SENTENCES = 30
SENTENCE_CHARS = 500
TOP_K = 3
EMBED_DIM = 384


class Encoder(Protocol):
    """Turns texts into L2-normalized float32 rows (an ``EmbeddingProvider`` is one)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of L2-normalized rows."""
        ...


class LruEncoder:
    """Wraps an encoder with a bounded in-memory text -> vector LRU cache (thread-safe)."""

    def __init__(self, inner: Encoder, maxsize: int = 20_000) -> None:
        self.inner = inner
        self.maxsize = max(1, maxsize)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, computing only those not cached, all of them in one batch."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh = self.inner.encode(missing) if missing else np.zeros((0, EMBED_DIM), np.float32)
        with self._lock:
            found = dict(zip(missing, fresh, strict=True))
            rows = []
            for t in texts:
                vec = found.get(t)
                if vec is None:
                    vec = self._cache[t]
                    self._cache.move_to_end(t)
                rows.append(vec)
            for t, vec in found.items():
                self._cache[t] = vec
                self._cache.move_to_end(t)
            while len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        if not rows:
            return np.zeros((0, EMBED_DIM), np.float32)
        return np.asarray(np.stack(rows), dtype=np.float32)


class DiskCachedEncoder:
    """Embeddings cached on disk by sha256 of (model, text), in shards written as they are computed.

    Used by training only: an interrupted run resumes from the shards already written.
    """

    def __init__(self, inner: Encoder, folder: Path, model: str = "e5-small", shard: int = 512) -> None:
        self.inner = inner
        self.folder = folder / model
        self.model = model
        self.shard = shard
        self._vecs: dict[bytes, np.ndarray] = {}
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.folder.glob("shard-*.npz")):
            with np.load(path, allow_pickle=False) as data:
                for key, vec in zip(data["keys"], data["vecs"], strict=True):
                    self._vecs[bytes(key)] = vec

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.model}\x00{text}".encode()).digest()[:16]

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed texts, computing and persisting only those not yet on disk."""
        keys = [self._key(t) for t in texts]
        todo = list(dict.fromkeys((k, t) for k, t in zip(keys, texts, strict=True) if k not in self._vecs))
        for start in range(0, len(todo), self.shard):
            chunk = todo[start : start + self.shard]
            vecs = self.inner.encode([t for _, t in chunk])
            n = len(list(self.folder.glob("shard-*.npz")))
            np.savez(
                self.folder / f"shard-{n:05d}.npz",
                keys=np.array([k for k, _ in chunk], dtype="S16"),
                vecs=vecs.astype(np.float32),
            )
            for (k, _), vec in zip(chunk, vecs, strict=True):
                self._vecs[k] = vec
            if progress:
                print(f"embedded {min(start + self.shard, len(todo))}/{len(todo)}", flush=True)
        if not keys:
            return np.zeros((0, EMBED_DIM), np.float32)
        return np.stack([self._vecs[k] for k in keys]).astype(np.float32)


def split_evidence(evidence: str, lang: str) -> list[str]:
    """The evidence's first sentences, each cut to SENTENCE_CHARS; never empty."""
    parts = sentences(evidence, lang or "en") if len(evidence) > SENTENCE_CHARS // 2 else [evidence]
    out = [s[:SENTENCE_CHARS].strip() for s in parts[:MAX_SENTENCES] if s.strip()]
    return out or [evidence[:SENTENCE_CHARS].strip() or "."]


# Cue lexicons. English entries are matched as whole words on normalized text; Korean entries
# as substrings, since particles and endings attach to them.
NEGATION_EN = frozenset(
    [
        "not",
        "no",
        "never",
        "none",
        "nobody",
        "nothing",
        "neither",
        "nor",
        "without",
        "cannot",
        "cant",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "wont",
        "wouldnt",
        "shouldnt",
        "couldnt",
        "hasnt",
        "havent",
        "hadnt",
    ]
)
NEGATION_KO = ("않", "안 ", "못", "없", "아니", "아닌", "말라", "금지", "불가")
REFUTE_EN = frozenset(
    [
        "fake",
        "hoax",
        "false",
        "falsely",
        "deny",
        "denies",
        "denied",
        "denial",
        "debunk",
        "debunked",
        "debunks",
        "untrue",
        "myth",
        "rumor",
        "rumour",
        "rumors",
        "fabricated",
        "fabrication",
        "refute",
        "refuted",
        "refutes",
        "dismiss",
        "dismissed",
        "dismisses",
        "incorrect",
        "wrong",
        "misleading",
        "bogus",
        "baseless",
        "satire",
        "satirical",
        "disputes",
        "disputed",
        "reject",
        "rejected",
        "rejects",
        "contrary",
        "however",
        "but",
        "despite",
    ]
)
REFUTE_KO = (
    "사실무근",
    "사실이 아니",
    "거짓",
    "허위",
    "가짜",
    "부인",
    "반박",
    "해명",
    "오보",
    "루머",
    "근거 없",
    "부정",
)
HEDGE_EN = frozenset(
    [
        "reportedly",
        "allegedly",
        "alleged",
        "claims",
        "claimed",
        "claim",
        "according",
        "report",
        "reports",
        "reported",
        "rumored",
        "may",
        "might",
        "could",
        "possibly",
        "apparently",
        "purportedly",
        "supposedly",
        "unconfirmed",
        "unverified",
        "suggests",
        "believed",
        "appears",
        "seems",
    ]
)
HEDGE_KO = ("알려졌", "전해졌", "주장", "의혹", "추정", "것으로 보", "가능성", "카더라", "따르면", "소문")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


def _tokens_en(text: str) -> list[str]:
    return normalize_text(text).split()


def _cue_rates(text: str, lang: str) -> tuple[float, float, float]:
    """Fraction of words that are negation, refuting and hedging cues (Korean: hits per 20 chars)."""
    if lang.startswith("ko"):
        t = unicodedata.normalize("NFKC", text)
        scale = max(1.0, len(t) / 20.0)
        return (
            sum(t.count(c) for c in NEGATION_KO) / scale,
            sum(t.count(c) for c in REFUTE_KO) / scale,
            sum(t.count(c) for c in HEDGE_KO) / scale,
        )
    toks = _tokens_en(text)
    n = max(1, len(toks))
    return (
        sum(w in NEGATION_EN for w in toks) / n,
        sum(w in REFUTE_EN for w in toks) / n,
        sum(w in HEDGE_EN for w in toks) / n,
    )


def _char_ngrams(text: str, n: int = 3) -> set[str]:
    s = normalize_text(text).replace(" ", "_")
    return {s[i : i + n] for i in range(max(0, len(s) - n + 1))} if len(s) >= n else ({s} if s else set())


def _overlap(a: set[str], b: set[str]) -> tuple[float, float, float]:
    """(coverage of a by b, coverage of b by a, Jaccard)."""
    if not a or not b:
        return 0.0, 0.0, 0.0
    inter = len(a & b)
    return inter / len(a), inter / len(b), inter / len(a | b)


def _numbers(text: str) -> set[str]:
    return {m.group(0).replace(",", "") for m in _NUMBER_RE.finditer(unicodedata.normalize("NFKC", text))}


LEXICAL_NAMES: tuple[str, ...] = (
    "word_cov_claim",
    "word_cov_evid",
    "word_jaccard",
    "char3_cov_claim",
    "char3_cov_evid",
    "char3_jaccard",
    "word_cov_claim_body",
    "num_claim",
    "num_missing",
    "num_missing_frac",
    "neg_claim",
    "refute_claim",
    "hedge_claim",
    "neg_top",
    "refute_top",
    "hedge_top",
    "neg_body",
    "refute_body",
    "hedge_body",
    "neg_diff",
    "log_len_claim",
    "log_len_top",
    "is_korean",
)
NLI_NAMES: tuple[str, ...] = (
    "pred_in_evid",
    "unmatched_in_claim",
    "unmatched_in_evid",
    "neg_morph_claim",
    "neg_morph_top",
    "neg_morph_mismatch",
    "quant_claim",
    "quant_top",
    "compare_claim",
    "compare_top",
    "char2_cov_claim",
    "char2_jaccard",
)
SIM_NAMES: tuple[str, ...] = ("cos_best", "cos_topk", "cos_mean", "cos_lead", "cos_gap", "log_sentences")


QUANTIFIER_EN = frozenset(
    ("all", "every", "always", "never", "only", "none", "any", "nobody", "everyone", "entire")
)
QUANTIFIER_KO = (
    "모든",
    "모두",
    "항상",
    "전혀",
    "어떤",
    "유일",
    "오직",
    "절대",
    "반드시",
    "누구도",
    "아무",
    "전부",
    "늘",
)
COMPARE_EN = frozenset(
    (
        "most",
        "least",
        "more",
        "less",
        "fewer",
        "first",
        "last",
        "best",
        "worst",
        "largest",
        "smallest",
        "than",
    )
)
COMPARE_KO = ("가장", "더 ", "덜", "최고", "최초", "최대", "최소", "보다", "제일", "처음", "마지막")
_KO_CONTENT = frozenset(("NNG", "NNP", "VV", "VA", "XR", "SL", "SN", "VCN", "MAG"))
_KO_NEG = frozenset(
    (
        ("않", "VX"),
        ("안", "MAG"),
        ("못", "MAG"),
        ("없", "VA"),
        ("아니", "VCN"),
        ("금지", "NNG"),
        ("불가", "NNG"),
    )
)


@functools.lru_cache(maxsize=65536)
def _morphs(text: str, lang: str) -> tuple[tuple[str, ...], int]:
    """Content morphemes (Korean, via Kiwi) or content words (other languages), and the negation count."""
    if lang.startswith("ko"):
        from newstalk.stories.text import kiwi

        tokens = [
            (t.form, t.tag.split("-", 1)[0]) for t in kiwi().tokenize(unicodedata.normalize("NFKC", text))
        ]
        content = tuple(f for f, tag in tokens if tag in _KO_CONTENT and (f, tag) not in _KO_NEG)
        return content, sum((f, tag) in _KO_NEG for f, tag in tokens)
    toks = _tokens_en(text)
    return tuple(w for w in words(text, lang)), sum(w in NEGATION_EN for w in toks)


def _cue_count(text: str, lang: str, en: frozenset[str], ko: tuple[str, ...]) -> float:
    if lang.startswith("ko"):
        return float(sum(text.count(c) for c in ko))
    return float(sum(w in en for w in _tokens_en(text)))


def nli_features(claim: str, top_text: str, lang: str) -> list[float]:
    """Alignment cues NLI needs: is the claim's last predicate in the evidence, what is left
    unmatched, negation morphemes, quantifiers and comparisons on each side, character bigrams."""
    cm, cneg = _morphs(claim, lang)
    tm, tneg = _morphs(top_text, lang)
    tset = set(tm)
    pred = 1.0 if cm and cm[-1] in tset else 0.0
    unmatched = sum(m not in tset for m in set(cm))
    evid_unmatched = len(tset - set(cm))
    c2, t2 = _char_ngrams(claim, 2), _char_ngrams(top_text, 2)
    cov2 = _overlap(c2, t2)
    return [
        pred,
        float(unmatched),
        math.log1p(evid_unmatched),
        float(cneg),
        float(tneg),
        float((cneg > 0) != (tneg > 0)),
        _cue_count(claim, lang, QUANTIFIER_EN, QUANTIFIER_KO),
        _cue_count(top_text, lang, QUANTIFIER_EN, QUANTIFIER_KO),
        _cue_count(claim, lang, COMPARE_EN, COMPARE_KO),
        _cue_count(top_text, lang, COMPARE_EN, COMPARE_KO),
        cov2[0],
        cov2[2],
    ]


@functools.lru_cache(maxsize=4096)
def _body_stats(body: str, lang: str) -> tuple[frozenset[str], frozenset[str], tuple[float, float, float]]:
    """Content words, numbers and cue rates of a whole evidence text (FNC-1 bodies repeat)."""
    return frozenset(words(body, lang)), frozenset(_numbers(body)), _cue_rates(body, lang)


def lexical_features(claim: str, top_text: str, body: str, lang: str) -> list[float]:
    """Overlap, number and cue features of the claim against the top sentences and the whole evidence."""
    cw, tw = set(words(claim, lang)), set(words(top_text, lang))
    bw, en, (neg_b, ref_b, hed_b) = _body_stats(body, lang)
    wc = _overlap(cw, tw)
    cc = _overlap(_char_ngrams(claim), _char_ngrams(top_text))
    body_cov = _overlap(cw, set(bw))[0]
    cn = _numbers(claim)
    missing = len(cn - en)
    neg_c, ref_c, hed_c = _cue_rates(claim, lang)
    neg_t, ref_t, hed_t = _cue_rates(top_text, lang)
    return [
        *wc,
        *cc,
        body_cov,
        float(len(cn)),
        float(missing),
        missing / len(cn) if cn else 0.0,
        neg_c,
        ref_c,
        hed_c,
        neg_t,
        ref_t,
        hed_t,
        neg_b,
        ref_b,
        hed_b,
        neg_c - neg_t,
        math.log1p(len(claim)),
        math.log1p(len(top_text)),
        1.0 if lang.startswith("ko") else 0.0,
    ]


@dataclass(frozen=True)
class PairInput:
    """What the features need of one pair."""

    claim: str
    evidence: str
    claim_lang: str = ""
    evidence_lang: str = ""


def consistency_module() -> Any:
    """``newstalk.factcheck.consistency``, or None when it is not available."""
    try:
        return importlib.import_module("newstalk.factcheck.consistency")
    except ImportError:
        return None


def consistency_names() -> tuple[str, ...]:
    """Names of the structured consistency features, or () when that module is not available."""
    module = consistency_module()
    return () if module is None else tuple(f"consistency_{n}" for n in module.FEATURE_NAMES)


def consistency_vector(claim: str, evidence: str, claim_lang: str, evidence_lang: str) -> np.ndarray:
    """The consistency check's feature vector, or an empty vector without that module."""
    module = consistency_module()
    if module is None:
        return np.zeros(0, np.float32)
    return np.asarray(module.compare(claim, evidence, claim_lang, evidence_lang).vector(), np.float32)


def feature_names(with_consistency: bool = True) -> list[str]:
    """Column names of :func:`pair_features` output, in order."""
    emb = [f"{kind}_{i}" for kind in ("claim", "prod", "absdiff", "prodk") for i in range(EMBED_DIM)]
    cons = list(consistency_names()) if with_consistency else []
    return [*emb, *SIM_NAMES, *LEXICAL_NAMES, *NLI_NAMES, *cons]


def _lang(lang: str, text: str) -> str:
    if lang:
        return lang
    return "ko" if re.search(r"[\uac00-\ud7a3]", text) else "en"


def pair_features(
    pairs: Sequence[PairInput], encoder: Encoder, *, with_consistency: bool = True
) -> tuple[np.ndarray, list[str]]:
    """Feature matrix (n, len(feature_names())) float32, and the top evidence text of each pair.

    All claims and evidence sentences are embedded in one call to ``encoder``.
    """
    split: dict[tuple[str, str], list[str]] = {}
    langs: list[tuple[str, str]] = []
    for p in pairs:
        cl, el = _lang(p.claim_lang, p.claim), _lang(p.evidence_lang, p.evidence)
        langs.append((cl, el))
        if (p.evidence, el) not in split:
            split[(p.evidence, el)] = split_evidence(p.evidence, el)
    texts = list(
        dict.fromkeys([p.claim.strip() or "." for p in pairs] + [s for v in split.values() for s in v])
    )
    index = {t: i for i, t in enumerate(texts)}
    vecs = encoder.encode(texts) if texts else np.zeros((0, EMBED_DIM), np.float32)
    rows: list[np.ndarray] = []
    tops: list[str] = []
    for p, (cl, el) in zip(pairs, langs, strict=True):
        u = vecs[index[p.claim.strip() or "."]]
        sents = split[(p.evidence, el)]
        s = vecs[[index[x] for x in sents]]
        sims = s @ u
        order = np.argsort(-sims)
        top = order[:TOP_K]
        v = s[order[0]]
        vk = s[top].mean(axis=0)
        vk = vk / max(float(np.linalg.norm(vk)), 1e-6)
        sorted_sims = sims[order]
        sim = [
            float(sorted_sims[0]),
            float(sorted_sims[:TOP_K].mean()),
            float(sims.mean()),
            float(sims[0]),
            float(sorted_sims[0] - (sorted_sims[1] if len(sorted_sims) > 1 else sorted_sims[0])),
            math.log(len(sents)),
        ]
        # Top sentences in reading order, so quotes and negations keep their context.
        top_text = " ".join(sents[i] for i in sorted(top.tolist()))
        tops.append(top_text)
        lang = cl if cl == el else el
        lex = lexical_features(p.claim, top_text, p.evidence, lang) + nli_features(p.claim, top_text, lang)
        parts = [u, u * v, np.abs(u - v), u * vk, np.asarray(sim + lex, np.float32)]
        if with_consistency:
            parts.append(consistency_vector(p.claim, top_text, cl, el))
        rows.append(np.concatenate(parts).astype(np.float32))
    width = len(feature_names(with_consistency))
    if not rows:
        return np.zeros((0, width), np.float32), []
    return np.stack(rows), tops
