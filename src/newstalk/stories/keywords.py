"""Story keywords: YAKE term scoring over English words or Korean Kiwi nouns.

``yake`` 0.7.3 needs 16-40 ms for a 2 KB article on the production box, too slow for the per-article
step, so this module scores candidates with the same YAKE features (casing, position, frequency,
context relatedness, sentence spread; Campos et al. 2020) in a single pass, about 1-2 ms per 2 KB of
English. Overlapping phrases are deduplicated: once "Umbro profits" is taken, "Umbro" and "profits"
are not.

Korean ranks Kiwi nouns (NNG/NNP/SL/SH, minus wire boilerplate and the byline) by term frequency,
ties broken by first position; a recurring adjacent noun pair is kept as one compound (Kiwi splits
기준금리 into 기준 + 금리). Measured on the 269 soynlp articles longer than 600 characters (share of
top-5 keywords taken from the first half that occur verbatim in the second half): unigram frequency
0.68, frequency with compounds 0.61 (compounds are rarer verbatim, but read as the subject), the YAKE
scorer over the noun sequence 0.54 -- with no punctuation in Korean wire text YAKE's position and
sentence features mostly reward the dateline. ``keywords(..., method="yake")`` keeps the alternative.
"""

from __future__ import annotations

import functools
import math
import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from newstalk.stories.text import STOPWORDS, kiwi

MAX_NGRAM = 2
WINDOW = 1

# Nouns that appear in nearly every Korean wire story and never name its subject.
KO_STOP_NOUNS: frozenset[str] = frozenset(
    [
        "기자",
        "뉴스",
        "연합뉴스",
        "뉴스1",
        "뉴시스",
        "특파원",
        "무단",
        "전재",
        "재배포",
        "금지",
        "저작권",
        "사진",
        "제공",
        "오전",
        "오후",
        "이날",
        "지난",
        "당시",
        "이번",
        "관계자",
        "이후",
        "이상",
        "이하",
        "가운데",
        "관련",
        "대해",
        "위해",
        "통해",
        "경우",
        "정도",
        "가능",
        "진행",
        "예정",
        "상황",
        "부분",
        "내용",
        "최근",
        "현재",
        "오늘",
        "내일",
        "어제",
        "올해",
        "지난해",
        "때문",
        "대한",
        "동안",
        "등",
        "것",
        "수",
        "때",
        "중",
        "곳",
        "측",
        "간",
        "전",
        "후",
        "년",
        "월",
        "일",
    ]
)
_EN_EXTRA_STOP: frozenset[str] = frozenset(
    [
        "told",
        "also",
        "could",
        "would",
        "one",
        "two",
        "new",
        "year",
        "years",
        "last",
        "first",
        "like",
        "get",
        "got",
        "week",
        "month",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "according",
        "people",
        "however",
        "bn",
        "m",
        "per",
        "cent",
        "percent",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "hundred",
        "thousand",
        "million",
        "billion",
    ]
)

_EN_TOKEN = re.compile(
    r"[A-Za-z][A-Za-z0-9'\u2019&.-]*[A-Za-z0-9]|[A-Za-z]|\d[\d.,%]*|[.!?;:,()\"\u201c\u201d]"
)
_SENT_PUNCT = frozenset(".!?")
_BREAK_PUNCT = frozenset(';:,()"\u201c\u201d')
_KO_NOUN_TAGS = frozenset({"NNG", "NNP", "SL", "SH"})
_KO_BYLINE = frozenset({"기자", "특파원", "통신원"})
_BYLINE_SPAN = 8


@dataclass
class _Term:
    tf: int = 0
    tf_upper: int = 0
    tf_acronym: int = 0
    sentences: list[int] = field(default_factory=list)
    left: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Token:
    key: str
    surface: str
    sentence: int
    upper: bool
    acronym: bool
    stop: bool
    # A candidate phrase may not span a break (punctuation, a verb or particle in Korean).
    break_before: bool


def _score_terms(tokens: list[_Token]) -> dict[str, float]:
    terms: dict[str, _Term] = defaultdict(_Term)
    window: list[str] = []
    for tok in tokens:
        if tok.break_before:
            window = []
        if tok.stop:
            window.append("")
            continue
        term = terms[tok.key]
        term.tf += 1
        term.tf_upper += tok.upper
        term.tf_acronym += tok.acronym
        term.sentences.append(tok.sentence)
        for left in window[-WINDOW:]:
            if left:
                term.left[left] += 1
                terms[left].right[tok.key] += 1
        window.append(tok.key)
    if not terms:
        return {}
    tfs = [t.tf for t in terms.values()]
    mean_tf = statistics.fmean(tfs)
    std_tf = statistics.pstdev(tfs)
    max_tf = max(tfs)
    n_sent = max(tok.sentence for tok in tokens) + 1
    scores: dict[str, float] = {}
    for key, t in terms.items():
        t_case = max(t.tf_upper, t.tf_acronym) / (1.0 + math.log(t.tf))
        t_pos = math.log(math.log(3.0 + statistics.median(t.sentences)))
        t_freq = t.tf / (mean_tf + std_tf)
        dl = len(t.left) / sum(t.left.values()) if t.left else 0.0
        dr = len(t.right) / sum(t.right.values()) if t.right else 0.0
        t_rel = 1.0 + (dl + dr) * t.tf / max_tf
        t_sent = len(set(t.sentences)) / n_sent
        scores[key] = (t_rel * t_pos) / (t_case + t_freq / t_rel + t_sent / t_rel)
    return scores


def _rank(tokens: list[_Token], top: int, joiner: str) -> list[str]:
    term_scores = _score_terms(tokens)
    phrase_tf: Counter[tuple[str, ...]] = Counter()
    surface: dict[tuple[str, ...], str] = {}
    for i, tok in enumerate(tokens):
        if tok.stop:
            continue
        for n in range(1, MAX_NGRAM + 1):
            span = tokens[i : i + n]
            if len(span) < n or any(t.stop for t in span) or any(t.break_before for t in span[1:]):
                break
            key = tuple(t.key for t in span)
            phrase_tf[key] += 1
            surface.setdefault(key, joiner.join(t.surface for t in span))
    scored: list[tuple[float, tuple[str, ...]]] = []
    for key, tf in phrase_tf.items():
        parts = [term_scores[k] for k in key]
        if len(key) > 1 and tf < 2:
            continue
        score = math.prod(parts) / (tf * (1.0 + sum(parts)))
        scored.append((score, key))
    scored.sort(key=lambda item: (item[0], item[1]))
    chosen: list[str] = []
    used: set[str] = set()
    for _, key in scored:
        if used.intersection(key):
            continue
        chosen.append(surface[key])
        used.update(key)
        if len(chosen) == top:
            break
    return chosen


def _en_key(word: str) -> str:
    key = word.casefold().replace("\u2019", "'")
    if key.endswith("'s"):
        key = key[:-2]
    if len(key) > 4 and key.endswith("ies"):
        return key[:-3] + "y"
    if len(key) > 3 and key.endswith("s") and not key.endswith(("ss", "us", "is")):
        return key[:-1]
    return key


def _english_tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    sentence = 0
    sentence_start = True
    pending_break = False
    for match in _EN_TOKEN.finditer(text):
        word = match.group(0).rstrip(".")
        if not word or word in _SENT_PUNCT or match.group(0) in _SENT_PUNCT:
            if tokens and match.group(0) in _SENT_PUNCT:
                sentence += 1
                sentence_start = True
            pending_break = True
            continue
        if word in _BREAK_PUNCT:
            pending_break = True
            continue
        key = _en_key(word)
        stop = key in STOPWORDS or key in _EN_EXTRA_STOP or len(key) < 2 or not any(c.isalpha() for c in key)
        acronym = word.isupper() and len(word) > 1
        upper = word[0].isupper() and not sentence_start
        tokens.append(_Token(key, word, sentence, upper, acronym, stop, pending_break))
        pending_break = False
        sentence_start = False
        if match.group(0).endswith(".") and len(word) > 3:
            sentence += 1
            sentence_start = True
            pending_break = True
    return tokens


@functools.lru_cache(maxsize=256)
def ko_morphemes(text: str) -> tuple[tuple[str, str], ...]:
    """Kiwi (form, base tag) pairs of ``text``, memoised so keywords and sentiment tokenize an article once."""
    return tuple((tok.form, tok.tag.split("-", 1)[0]) for tok in kiwi().tokenize(text))


def _korean_tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    sentence = 0
    pending_break = False
    for form, tag in ko_morphemes(text):
        if form in _KO_BYLINE and len(tokens) < _BYLINE_SPAN:
            # "(서울=연합뉴스) 홍길동 기자 =": dateline, agency and reporter name are not topics.
            tokens = [_Token(t.key, t.surface, t.sentence, t.upper, False, True, True) for t in tokens]
        if tag in _KO_NOUN_TAGS:
            key = form.casefold() if tag == "SL" else form
            stop = key in KO_STOP_NOUNS or (len(key) < 2 and tag != "SH")
            tokens.append(_Token(key, form, sentence, tag == "NNP", False, stop, pending_break))
            pending_break = False
            continue
        if tag in ("EF", "SF"):
            sentence += 1
        # Compound nouns are adjacent noun morphemes; anything else between them breaks a phrase.
        if tag != "XSN":
            pending_break = True
    return tokens


def _is_korean(lang: str) -> bool:
    return lang.lower().startswith("ko")


def keywords(text: str, lang: str, *, top: int = 8, method: str | None = None) -> list[str]:
    """Up to ``top`` keywords, best first: Korean nouns by frequency, English YAKE-scored phrases (n<=2)."""
    text = unicodedata.normalize("NFKC", text)
    if not text.strip() or top <= 0:
        return []
    korean = _is_korean(lang)
    method = method or ("frequency" if korean else "yake")
    tokens = _korean_tokens(text) if korean else _english_tokens(text)
    if method == "frequency":
        return _rank_by_frequency(tokens, top)
    if method == "yake":
        return _rank(tokens, top, joiner="" if korean else " ")
    raise ValueError(f"keywords: unknown method {method!r}; use 'frequency' or 'yake'")


def _rank_by_frequency(tokens: list[_Token], top: int) -> list[str]:
    # Keys are joined forms so that Kiwi's two readings of a compound (가계부채/NNP and 가계 + 부채)
    # count together; ``parts`` lets one chosen keyword block its components.
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    surface: dict[str, str] = {}
    parts: dict[str, frozenset[str]] = {}
    pairs: dict[str, tuple[str, str]] = {}
    for i, tok in enumerate(tokens):
        if tok.stop:
            continue
        spans: list[tuple[_Token, ...]] = [(tok,)]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and not nxt.stop and not nxt.break_before:
            spans.append((tok, nxt))
        for span in spans:
            key = "".join(t.key for t in span)
            counts[key] += 1
            first.setdefault(key, i)
            surface.setdefault(key, "".join(t.surface for t in span))
            parts[key] = parts.get(key, frozenset()) | {key, *(t.key for t in span)}
            if len(span) == 2:
                pairs[key] = (span[0].key, span[1].key)
    # Kiwi often splits compounds (기준금리 -> 기준 + 금리); a pair that recurs and accounts for most
    # uses of its parts is kept as one keyword and takes its parts' counts.
    for key, (a, b) in pairs.items():
        tf = counts[key]
        if tf >= 2 and tf >= 0.6 * min(counts[a], counts[b]):
            counts[a] -= tf
            counts[b] -= tf
        else:
            counts[key] -= tf
    ranked = sorted((k for k in counts if counts[k] > 0), key=lambda k: (-counts[k], first[k], -len(k)))
    chosen: list[str] = []
    used: set[str] = set()
    for key in ranked:
        if used.intersection(parts[key]):
            continue
        chosen.append(surface[key])
        used.update(parts[key])
        if len(chosen) == top:
            break
    return chosen


def merge_keywords(lists: Iterable[list[str]], *, top: int = 8) -> list[str]:
    """Combine per-article keyword lists into story keywords by reciprocal-rank votes."""
    votes: dict[str, float] = defaultdict(float)
    first_seen: dict[str, int] = {}
    for keyword_list in lists:
        for rank, kw in enumerate(keyword_list):
            votes[kw] += 1.0 / (rank + 1)
            first_seen.setdefault(kw, len(first_seen))
    ranked = sorted(votes, key=lambda kw: (-votes[kw], first_seen[kw]))
    return ranked[:top]
