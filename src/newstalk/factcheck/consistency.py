"""Structured consistency between a claim and one evidence text: numbers, dates, names, polarity.

``compare(claim, evidence)`` extracts facts from both sides (``factcheck.facts``, cached per
text) and lines them up:

- quantities: a claim quantity *matches* an evidence quantity when the units are
  compatible (equal, or one side has no unit / a generic counter) and the values agree
  up to the rounding of the less precise mention ("$113 million" ~ "1억1천만 달러"), or
  within 15% when either side is approximate ("about", "more than", "약", "여"). It
  *conflicts* when nothing matches and the evidence has the same unit with another value
  ("12 person vs 15 person"); otherwise it is *unmatched*.
- dates: compared on the fields both mention (year, month, day, weekday, time, relative
  markers of the same granularity such as "last month"/"지난달").
- entities: Jaccard overlap of name tokens, and claim names absent from the evidence.
- negation, direction (raise/cut, 인상/인하), attribution, quotes, comparison, cause.

Negation and direction conflicts are only reported when the pair is *related* (shares a
name, a number, a date or enough words); a "not" in an unrelated sentence says nothing.
The vector is for a trained verifier, so the raw flags are in it regardless.

``FEATURE_NAMES`` is append-only: the verifier trained on these vectors depends on the
order. Counts are capped at ``COUNT_CAP``; ratios are in [0, 1]; directions are -1/0/+1.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from newstalk.factcheck.facts import DateRef, Facts, Quantity, extract, resolve_lang
from newstalk.stories.text import STOPWORDS

FEATURE_NAMES: tuple[str, ...] = (
    "claim_quantities",
    "evidence_quantities",
    "quantities_matched",
    "quantities_conflicting",
    "claim_quantities_unmatched",
    "quantity_match_ratio",
    "quantity_conflict_ratio",
    "both_have_numbers",
    "claim_dates",
    "evidence_dates",
    "dates_matched",
    "dates_conflicting",
    "claim_dates_unmatched",
    "both_have_dates",
    "claim_entities",
    "evidence_entities",
    "entity_jaccard",
    "claim_entities_missing",
    "claim_entity_missing_ratio",
    "claim_negated",
    "evidence_negated",
    "negation_mismatch",
    "claim_direction",
    "evidence_direction",
    "direction_conflict",
    "direction_agree",
    "claim_attribution",
    "evidence_attribution",
    "claim_quote",
    "evidence_quote",
    "quote_overlap",
    "claim_comparison",
    "evidence_comparison",
    "claim_causal",
    "evidence_causal",
    "word_jaccard",
    "claim_word_coverage",
    "same_language",
    "related",
    "conflict_count",
    "agreement_count",
)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
COUNT_CAP = 10.0
# Units that say little about what is counted: they match any unit but never conflict with one.
_SOFT_UNITS = frozenset({"", "count", "times"})
APPROX_TOLERANCE = 0.15
# Relatedness thresholds for reporting negation/direction conflicts (see module docstring).
RELATED_WORD_JACCARD = 0.15
RELATED_WORD_COVERAGE = 0.3


@dataclass
class Consistency:
    """What agrees and what conflicts between a claim and one evidence text."""

    conflicts: list[str] = field(default_factory=list)
    agreements: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=lambda: [0.0] * len(FEATURE_NAMES))

    def vector(self) -> np.ndarray:
        """The features in ``FEATURE_NAMES`` order: float32, finite, fixed length."""
        out = np.asarray(self.values, dtype=np.float32)
        return np.nan_to_num(out, nan=0.0, posinf=COUNT_CAP, neginf=-COUNT_CAP)

    def as_dict(self) -> dict[str, float]:
        return dict(zip(FEATURE_NAMES, self.values, strict=True))

    def _set(self, name: str, value: float) -> None:
        self.values[_INDEX[name]] = float(value)


def _count(n: int) -> float:
    return min(float(n), COUNT_CAP)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _units_compatible(a: str, b: str) -> bool:
    return a == b or a in _SOFT_UNITS or b in _SOFT_UNITS


def quantities_agree(a: Quantity, b: Quantity) -> bool:
    """Same amount up to rounding of the less precise mention (15% when either is approximate)."""
    scale = max(abs(a.value), abs(a.upper), abs(b.value), abs(b.upper), 1e-12)
    tolerance = max(a.precision, b.precision) / 2 + 1e-9 * scale
    if a.approx or b.approx:
        tolerance = max(tolerance, APPROX_TOLERANCE * scale)
    return a.value - tolerance <= b.upper and b.value - tolerance <= a.upper


def _date_keys(d: DateRef) -> dict[str, object]:
    keys: dict[str, object] = {}
    if d.year is not None:
        keys["year"] = d.year
    if d.month is not None:
        keys["month"] = d.month
    if d.day is not None:
        keys["day"] = d.day
    if d.weekday is not None:
        keys["weekday"] = d.weekday
    if d.hour is not None:
        keys["time"] = (d.hour, d.minute or 0)
    if d.relative:
        granularity = re.sub(r"[-+0-9]+$", "", d.relative)
        keys["rel:" + granularity] = d.relative
    return keys


_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=65536)
def _vocabulary(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.casefold().replace(".", "")))


def _entity_present(entity: str, evidence: Facts, vocabulary: frozenset[str]) -> bool:
    for token in entity.replace(".", "").split():
        if token in STOPWORDS:
            continue
        if token in vocabulary or token in evidence.entity_tokens or token in evidence.words:
            return True
        # Korean names carry particles in running text ("서울시는"), so look for the substring.
        if not token.isascii() and token in evidence.text.casefold():
            return True
    return False


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _normalize_quote(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def compare(claim: str, evidence: str, claim_lang: str = "", evidence_lang: str = "") -> Consistency:
    """Line up the facts of ``claim`` and ``evidence``: conflicts, agreements and a feature vector."""
    c = extract(claim, resolve_lang(claim, claim_lang))
    e = extract(evidence, resolve_lang(evidence, evidence_lang))
    out = Consistency()

    matched = conflicting = unmatched = 0
    number_conflicts: list[str] = []
    accounted: set[int] = set()
    agreeing: dict[int, bool] = {}
    for i, cq in enumerate(c.quantities):
        hits = [
            j
            for j, eq in enumerate(e.quantities)
            if _units_compatible(cq.unit, eq.unit) and quantities_agree(cq, eq)
        ]
        agreeing[i] = bool(hits)
        accounted.update(hits)
    for i, cq in enumerate(c.quantities):
        if agreeing[i]:
            matched += 1
            out.agreements.append(f"number: {cq.label()}")
            continue
        # A rival has the same specific unit and is not already the counterpart of another claim
        # number: "1 gunman and 70 dead" vs "70 dead" leaves 1 unmatched, not in conflict with 70.
        rivals = [
            eq
            for j, eq in enumerate(e.quantities)
            if eq.unit == cq.unit and cq.unit not in _SOFT_UNITS and j not in accounted
        ]
        if rivals:
            conflicting += 1
            nearest = min(rivals, key=lambda eq: abs(eq.value - cq.value))
            number_conflicts.append(f"number: {cq.label()} vs {nearest.label()}")
        else:
            unmatched += 1
    out._set("claim_quantities", _count(len(c.quantities)))
    out._set("evidence_quantities", _count(len(e.quantities)))
    out._set("quantities_matched", _count(matched))
    out._set("quantities_conflicting", _count(conflicting))
    out._set("claim_quantities_unmatched", _count(unmatched))
    out._set("quantity_match_ratio", _ratio(matched, len(c.quantities)))
    out._set("quantity_conflict_ratio", _ratio(conflicting, len(c.quantities)))
    out._set("both_have_numbers", float(bool(c.quantities) and bool(e.quantities)))

    d_matched = d_conflicting = d_unmatched = 0
    date_conflicts: list[str] = []
    evidence_keys = [(ed, _date_keys(ed)) for ed in e.dates]
    for cd in c.dates:
        ck = _date_keys(cd)
        comparable = [(ed, ek) for ed, ek in evidence_keys if ck.keys() & ek.keys()]
        if any(all(ck[k] == ek[k] for k in ck.keys() & ek.keys()) for _, ek in comparable):
            d_matched += 1
            out.agreements.append(f"date: {cd.label()}")
        elif comparable:
            d_conflicting += 1
            date_conflicts.append(f"date: {cd.label()} vs {comparable[0][0].label()}")
        else:
            d_unmatched += 1
    out._set("claim_dates", _count(len(c.dates)))
    out._set("evidence_dates", _count(len(e.dates)))
    out._set("dates_matched", _count(d_matched))
    out._set("dates_conflicting", _count(d_conflicting))
    out._set("claim_dates_unmatched", _count(d_unmatched))
    out._set("both_have_dates", float(bool(c.dates) and bool(e.dates)))

    vocabulary = _vocabulary(evidence)
    missing = [name for name in c.entities if not _entity_present(name, e, vocabulary)]
    entity_jaccard = _jaccard(c.entity_tokens, e.entity_tokens)
    shared_names = [name for name in c.entities if name not in missing]
    if shared_names:
        out.agreements.append("entities: " + ", ".join(shared_names))
    out._set("claim_entities", _count(len(c.entities)))
    out._set("evidence_entities", _count(len(e.entities)))
    out._set("entity_jaccard", entity_jaccard)
    out._set("claim_entities_missing", _count(len(missing)))
    out._set("claim_entity_missing_ratio", _ratio(len(missing), len(c.entities)))

    word_jaccard = _jaccard(c.words, e.words)
    coverage = _ratio(len(c.words & e.words), len(c.words))
    out._set("word_jaccard", word_jaccard)
    out._set("claim_word_coverage", coverage)
    related = (
        entity_jaccard > 0
        or bool(shared_names)
        or matched > 0
        or d_matched > 0
        or word_jaccard >= RELATED_WORD_JACCARD
        or coverage >= RELATED_WORD_COVERAGE
    )
    out._set("related", float(related))

    c_neg, e_neg = bool(c.negations), bool(e.negations)
    out._set("claim_negated", float(c_neg))
    out._set("evidence_negated", float(e_neg))
    out._set("negation_mismatch", float(c_neg != e_neg))
    polarity_conflicts: list[str] = []
    if related and c_neg != e_neg:
        polarity_conflicts.append(
            "negation: claim affirms, evidence denies"
            if e_neg
            else "negation: claim denies, evidence affirms"
        )

    c_dir, e_dir = c.direction, e.direction
    out._set("claim_direction", float(c_dir))
    out._set("evidence_direction", float(e_dir))
    out._set("direction_conflict", float(c_dir != 0 and e_dir != 0 and c_dir != e_dir))
    out._set("direction_agree", float(c_dir != 0 and c_dir == e_dir))
    if c_dir and e_dir:
        c_word = next(cue.text for cue in c.directions if cue.sign == c_dir)
        e_word = next(cue.text for cue in e.directions if cue.sign == e_dir)
        if c_dir != e_dir and related:
            polarity_conflicts.append(f"direction: {c_word} vs {e_word}")
        elif c_dir == e_dir:
            out.agreements.append(f"direction: {c_word} ~ {e_word}")

    out._set("claim_attribution", float(bool(c.attributions)))
    out._set("evidence_attribution", float(bool(e.attributions)))
    out._set("claim_quote", float(bool(c.quotes)))
    out._set("evidence_quote", float(bool(e.quotes)))
    evidence_norm = _normalize_quote(evidence)
    quote_found = any(
        (q := _normalize_quote(cue.text)) and len(q) >= 4 and q in evidence_norm for cue in c.quotes
    )
    out._set("quote_overlap", float(quote_found))
    out._set("claim_comparison", float(bool(c.comparisons)))
    out._set("evidence_comparison", float(bool(e.comparisons)))
    out._set("claim_causal", float(bool(c.causals)))
    out._set("evidence_causal", float(bool(e.causals)))
    out._set("same_language", float(c.lang == e.lang))

    out.conflicts = number_conflicts + date_conflicts + polarity_conflicts
    out._set("conflict_count", _count(len(out.conflicts)))
    out._set("agreement_count", _count(len(out.agreements)))
    return out
