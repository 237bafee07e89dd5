"""Claim detection: the check-worthy sentences of an article, with offsets into the original text.

``sentence_spans`` splits without normalizing, so every span slices the caller's text
exactly: Kiwi's sentence splitter for Korean (its offsets are into the string it was
given), and for other languages the abbreviation-aware regex of ``stories.text`` ("Mr.",
"U.S.", initials do not end a sentence) applied to the raw text. Paragraph breaks always
end a sentence.

``detect_claims`` reads each sentence with ``factcheck.facts`` and records which kinds of
checkable content it carries: ``number``, ``date``, ``entity``, ``attribution``, ``quote``,
``comparison``, ``causal``.

The score is a rule-based ranking, not a learned probability: no check-worthiness
dataset (such as CheckThat! or ClaimBuster) is available offline, so nothing here was
fitted or measured against human judgements. It is

    score = (1 - prod(1 - KIND_WEIGHTS[k] for k in kinds)) * penalty

a noisy-OR of the kinds present, so it is 0 with no kinds, grows with every kind added
(monotone in the set of kinds) and stays below 1, times a sentence penalty in (0, 1]
that multiplies these factors: very short sentences (SHORT_PENALTY), very long ones
(LONG_PENALTY), questions (QUESTION_PENALTY) and first-person opinion ("I think", "in my
view", "생각한다", "것 같다"; OPINION_PENALTY). The penalty depends only on the sentence,
never on its kinds, so monotonicity holds sentence by sentence. Numbers weigh most
because they are what a consistency check can verify.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from newstalk.factcheck.facts import Facts, extract, extract_with_tokens, resolve_lang
from newstalk.stories.text import _PARAGRAPH, _SENT_END, _ends_with_abbreviation, kiwi

KINDS: tuple[str, ...] = ("number", "date", "entity", "attribution", "quote", "comparison", "causal")
KIND_WEIGHTS: dict[str, float] = {
    "number": 0.45,
    "date": 0.2,
    "entity": 0.25,
    "attribution": 0.25,
    "quote": 0.2,
    "comparison": 0.3,
    "causal": 0.3,
}
SHORT_PENALTY = 0.6
LONG_PENALTY = 0.8
QUESTION_PENALTY = 0.3
OPINION_PENALTY = 0.5
# Sentence length bounds: words for space-delimited text, characters without spaces for Korean.
MIN_WORDS, MAX_WORDS = 6, 60
MIN_KO_CHARS, MAX_KO_CHARS = 12, 200
DEFAULT_MIN_SCORE = 0.3

_OPINION_EN = re.compile(
    r"\b(?:I|we)\s+(?:really\s+)?(?:think|believe|feel|guess|suppose|reckon|doubt|hope)\b"
    r"|\bin my (?:view|opinion)\b|\bI(?:'m| am) (?:sure|convinced|afraid)\b|\bpersonally\b",
    re.IGNORECASE,
)
_OPINION_KO = re.compile(
    r"(?:제|내|저의|나의)\s?(?:생각|의견|판단|견해)|생각한다|생각합니다|생각해요|것\s?같다|것\s?같습니다|"
    r"것\s?같아요|싶다|싶습니다|바란다|바랍니다"
)
_QUESTION_END = re.compile(r"\?[\"'\u201d\u2019)\]]*\s*$")
_LEADING_SPACE = re.compile(r"\s*")


@dataclass(frozen=True, slots=True)
class Claim:
    """One check-worthy sentence: ``text == article[start:end]``; ``kinds`` in ``KINDS`` order."""

    text: str
    start: int
    end: int
    score: float
    kinds: tuple[str, ...]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _english_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    begin = start
    for m in _SENT_END.finditer(text, start, end):
        chunk = text[begin : m.start()]
        if chunk.strip() and _ends_with_abbreviation(chunk):
            continue
        span = _trimmed(text, begin, m.start())
        if span:
            out.append(span)
        begin = m.end()
    span = _trimmed(text, begin, end)
    if span:
        out.append(span)
    return out


def _korean_sentences(text: str, start: int, end: int) -> list[tuple[int, int, Facts]]:
    """Kiwi's sentences of one paragraph, each with facts read from the tokens Kiwi produced."""
    out: list[tuple[int, int, Facts]] = []
    for sent in kiwi().split_into_sents(text[start:end], return_tokens=True):
        span = _trimmed(text, start + sent.start, start + sent.end)
        if span:
            s, e = span
            out.append((s, e, extract_with_tokens(text[s:e], sent.tokens or (), s - start)))
    return out


def _paragraphs(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    begin = 0
    for m in _PARAGRAPH.finditer(text):
        if _trimmed(text, begin, m.start()):
            out.append((begin, m.start()))
        begin = m.end()
    if _trimmed(text, begin, len(text)):
        out.append((begin, len(text)))
    return out


def sentence_spans(text: str, lang: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``, trimmed of surrounding whitespace, in order."""
    korean = resolve_lang(text, lang) == "ko"
    out: list[tuple[int, int]] = []
    for begin, end in _paragraphs(text):
        if korean:
            out.extend((s, e) for s, e, _ in _korean_sentences(text, begin, end))
        else:
            out.extend(_english_spans(text, begin, end))
    return out


def _sentences_with_facts(text: str, rules: str) -> list[tuple[int, int, Facts]]:
    if rules != "ko":
        return [(s, e, extract(text[s:e], rules)) for s, e in sentence_spans(text, rules)]
    out: list[tuple[int, int, Facts]] = []
    for begin, end in _paragraphs(text):
        out.extend(_korean_sentences(text, begin, end))
    return out


def kinds_of(facts: Facts) -> tuple[str, ...]:
    """The claim kinds a sentence's facts carry, in ``KINDS`` order."""
    present = {
        "number": bool(facts.quantities),
        "date": bool(facts.dates),
        "entity": bool(facts.entities),
        "attribution": bool(facts.attributions),
        "quote": bool(facts.quotes),
        "comparison": bool(facts.comparisons),
        "causal": bool(facts.causals),
    }
    return tuple(k for k in KINDS if present[k])


def kind_score(kinds: tuple[str, ...] | list[str] | set[str]) -> float:
    """Noisy-OR of the kinds' weights: 0 for none, increasing with every kind added, below 1."""
    return 1.0 - math.prod(1.0 - KIND_WEIGHTS[k] for k in set(kinds))


def sentence_penalty(sentence: str, lang: str) -> float:
    """Product of the length, question and first-person-opinion factors for one sentence."""
    penalty = 1.0
    if resolve_lang(sentence, lang) == "ko":
        size = len(sentence) - sentence.count(" ")
        short, long = size < MIN_KO_CHARS, size > MAX_KO_CHARS
        opinion = bool(_OPINION_KO.search(sentence)) or bool(_OPINION_EN.search(sentence))
    else:
        size = len(sentence.split())
        short, long = size < MIN_WORDS, size > MAX_WORDS
        opinion = bool(_OPINION_EN.search(sentence))
    if short:
        penalty *= SHORT_PENALTY
    if long:
        penalty *= LONG_PENALTY
    if _QUESTION_END.search(sentence):
        penalty *= QUESTION_PENALTY
    if opinion:
        penalty *= OPINION_PENALTY
    return penalty


def detect_claims(
    text: str, lang: str, *, min_score: float = DEFAULT_MIN_SCORE, limit: int | None = None
) -> list[Claim]:
    """Check-worthy sentences of an article scoring at least ``min_score``, in text order.

    ``limit`` keeps the highest-scoring ones (earlier sentences win ties) and returns them in
    text order. ``min_score=0`` returns every sentence.
    """
    rules = resolve_lang(text, lang)
    claims: list[Claim] = []
    for start, end, facts in _sentences_with_facts(text, rules):
        sentence = text[start:end]
        kinds = kinds_of(facts)
        score = round(kind_score(kinds) * sentence_penalty(sentence, rules), 6)
        if score >= min_score:
            claims.append(Claim(text=sentence, start=start, end=end, score=score, kinds=kinds))
    if limit is not None and len(claims) > limit:
        keep = sorted(range(len(claims)), key=lambda i: (-claims[i].score, i))[: max(0, limit)]
        claims = [claims[i] for i in sorted(keep)]
    return claims
