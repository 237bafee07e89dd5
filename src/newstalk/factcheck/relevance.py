"""Is an evidence sentence about the same event as the claim? The gate before any verdict.

A verifier trained on stance data says how a sentence relates to a claim *given* that both
are about the same thing; it is not reliable at telling that they are ("Rail strike ends."
against "The code and data are public." reads as a contradiction to it). And a shared figure
says little by itself: "1.2 percent" and "5 percent" are both percentages in a wheat story
and a lunch-price story. So before a sentence is judged, the checker asks:

- same script (English with English, Korean with Korean): the sentence repeats at least
  ``MIN_TOPIC_COVERAGE`` of the claim's *topic words* (content words that are not numbers
  or units of measure, lightly stemmed so "ends" meets "ended") and its e5 cosine with the
  claim is at least ``MIN_COSINE_SAME_SCRIPT``;
- another script (a Korean claim, English evidence): the cosine is at least
  ``MIN_COSINE_CROSS_SCRIPT`` and the structured comparison finds a shared date or name, or
  two shared figures (one shared figure and its unit are not enough).

A sentence that fails is not evidence: it is neither judged nor listed, and a claim with no
sentence left is ``unverified`` ("not enough evidence"). Numeric, date and name conflicts
are only ever computed between a claim and a sentence that passed.

The thresholds were set by hand on the symptom sentences of issue 12 and a few written
pairs (``tests/factcheck/test_relevance.py``), not tuned on the shared data; ``newstalk eval
verdicts`` measures what they give on Climate-FEVER and FNC-1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from newstalk.factcheck.consistency import Consistency

MIN_TOPIC_COVERAGE = 0.34
MIN_COSINE_SAME_SCRIPT = 0.80
MIN_COSINE_CROSS_SCRIPT = 0.82

# Words that name a unit or a counter, not a topic: sharing only these is sharing a number's unit.
UNIT_WORDS = frozenset(
    {
        "percent",
        "per",
        "cent",
        "pct",
        "point",
        "points",
        "million",
        "billion",
        "trillion",
        "thousand",
        "hundred",
        "dollar",
        "dollars",
        "won",
        "yen",
        "euro",
        "euros",
        "people",
        "person",
        "year",
        "years",
        "month",
        "months",
        "day",
        "days",
        "week",
        "weeks",
        "hour",
        "hours",
        "times",
        "%",
        "명",
        "개",
        "건",
        "원",
        "달러",
        "억",
        "만",
        "천",
        "조",
        "년",
        "월",
        "일",
        "시",
        "분",
        "퍼센트",
        "포인트",
        "배",
        "곳",
        "대",
        "채",
    }
)
_NUMBERISH = re.compile(r"^[\d.,%]+[a-z%]*$")
_SUFFIXES = ("ing", "ed", "es", "s")


def stem(token: str) -> str:
    """A light English stem ("ends", "ended", "ending" -> "end"); other scripts unchanged."""
    if not token.isascii():
        return token
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)]
    return token


def topic_words(tokens: Iterable[str]) -> frozenset[str]:
    """Content tokens without numbers and units, stemmed."""
    return frozenset(
        stem(t) for t in tokens if t and not _NUMBERISH.match(t) and t not in UNIT_WORDS and len(t) > 1
    )


def topic_coverage(claim_topic: frozenset[str], evidence_topic: frozenset[str]) -> float:
    """Share of the claim's topic words the evidence repeats (0 when the claim has none)."""
    if not claim_topic:
        return 0.0
    return len(claim_topic & evidence_topic) / len(claim_topic)


def min_shared(claim_topic: frozenset[str]) -> int:
    """How many topic words a same-script sentence must share with the claim."""
    return max(1, math.ceil(MIN_TOPIC_COVERAGE * len(claim_topic)))


@dataclass(frozen=True)
class Relevance:
    same_event: bool
    coverage: float
    cosine: float
    reason: str


def anchors(report: Consistency) -> tuple[int, int]:
    """(shared figures, shared dates or names) in a consistency report."""
    numbers = sum(a.startswith("number") for a in report.agreements)
    names_dates = sum(a.startswith(("date", "entities")) for a in report.agreements)
    return numbers, names_dates


def judge_relevance(
    claim_topic: frozenset[str],
    evidence_topic: frozenset[str],
    cosine: float,
    same_script: bool,
    report: Consistency | None,
) -> Relevance:
    """The gate of the module docstring for one claim and one sentence."""
    coverage = topic_coverage(claim_topic, evidence_topic)
    if same_script:
        shared = len(claim_topic & evidence_topic)
        if shared < min_shared(claim_topic):
            return Relevance(False, coverage, cosine, f"shares {shared} of {len(claim_topic)} topic words")
        if cosine < MIN_COSINE_SAME_SCRIPT:
            return Relevance(False, coverage, cosine, f"meaning too far apart (cosine {cosine:.2f})")
        return Relevance(True, coverage, cosine, "same topic words and meaning")
    if cosine < MIN_COSINE_CROSS_SCRIPT:
        return Relevance(False, coverage, cosine, f"meaning too far apart (cosine {cosine:.2f})")
    numbers, names_dates = anchors(report) if report is not None else (0, 0)
    if names_dates or numbers >= 2:
        return Relevance(True, coverage, cosine, "same meaning and a shared date, name or figures")
    return Relevance(False, coverage, cosine, "no shared date, name or second figure")
