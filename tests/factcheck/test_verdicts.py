"""One verdict per claim from judged evidence: independence, disagreement, conflicts, credibility."""

from __future__ import annotations

import pytest

from newstalk.factcheck.verdicts import Judged, aggregate, strengths
from newstalk.factcheck.verify import Judgement, Stance, judgement_from_probs


def j(sup: float, ref: float, related: float = 1.0, conflicts: tuple[str, ...] = ()) -> Judgement:
    return judgement_from_probs(
        {Stance.SUPPORTS: sup, Stance.REFUTES: ref, Stance.NEUTRAL: max(0.0, 1 - sup - ref)},
        related,
        conflicts,
    )


def test_one_independent_outlet_confirming_supports() -> None:
    v = aggregate([Judged(2, j(0.9, 0.05))], claim_outlet=1)
    assert v.verdict == "supported"
    assert v.detail["outlets_supporting"] == 1
    assert 0.5 < v.confidence <= 1.0


def test_the_claims_own_outlet_does_not_count() -> None:
    v = aggregate([Judged(1, j(0.95, 0.0)), Judged(1, j(0.9, 0.0))], claim_outlet=1)
    assert v.verdict == "unverified"
    assert "No other outlet" in v.explanation


def test_contradiction_refutes_and_disagreement_disputes() -> None:
    assert aggregate([Judged(2, j(0.05, 0.9))], claim_outlet=1).verdict == "refuted"
    disputed = aggregate([Judged(2, j(0.9, 0.05)), Judged(3, j(0.05, 0.9))], claim_outlet=1)
    assert disputed.verdict == "disputed"
    assert "disagree" in disputed.explanation


def test_two_outlets_make_a_surer_verdict_than_one() -> None:
    one = aggregate([Judged(2, j(0.8, 0.1))], claim_outlet=1)
    two = aggregate([Judged(2, j(0.8, 0.1)), Judged(3, j(0.8, 0.1))], claim_outlet=1)
    assert two.confidence > one.confidence


def test_an_outlet_counts_once_however_many_sentences_it_has() -> None:
    v = aggregate([Judged(2, j(0.8, 0.1)) for _ in range(5)], claim_outlet=1)
    assert v.detail["outlets_supporting"] == 1


def test_unrelated_evidence_leaves_the_claim_unverified() -> None:
    v = aggregate([Judged(2, j(0.9, 0.0, related=0.1)), Judged(3, j(0.1, 0.8, related=0.2))], claim_outlet=1)
    assert v.verdict == "unverified"
    assert v.detail["outlets_considered"] == 2


def test_a_number_conflict_in_related_evidence_counts_against() -> None:
    neutral_with_conflict = j(0.2, 0.2, related=0.9, conflicts=("number: 12 person vs 15 person",))
    assert strengths(neutral_with_conflict)[1] >= 0.6
    assert aggregate([Judged(2, neutral_with_conflict)], claim_outlet=1).verdict == "refuted"
    # A conflict listed in the evidence never yields "supported", even when the stance model
    # reads the sentence as support (issue 12: "5 person vs 8 person" came out supported).
    read_as_support = j(0.9, 0.0, conflicts=("date: x vs y",))
    assert strengths(read_as_support)[0] == 0.0
    assert aggregate([Judged(2, read_as_support)], claim_outlet=1).verdict == "refuted"
    # Nor when the same outlet has another sentence that confirms it: it counts against.
    both = [Judged(2, read_as_support), Judged(2, j(0.95, 0.0))]
    assert aggregate(both, claim_outlet=1).verdict == "refuted"
    # Another outlet confirming makes it disputed, not supported.
    assert aggregate([*both, Judged(3, j(0.95, 0.0))], claim_outlet=1).verdict == "disputed"


def test_credibility_weighs_outlets() -> None:
    items = [Judged(2, j(0.8, 0.1))]
    trusted = aggregate(items, claim_outlet=1, credibility={2: 0.95})
    doubted = aggregate(items, claim_outlet=1, credibility={2: 0.2})
    assert trusted.confidence > doubted.confidence


def test_unknown_outlets_are_told_apart_by_key() -> None:
    v = aggregate([Judged(None, j(0.8, 0.1), "a"), Judged(None, j(0.8, 0.1), "b")], claim_outlet=None)
    assert v.detail["outlets_supporting"] == 2


def test_a_restatement_of_the_figures_corroborates() -> None:
    neutral = j(0.3, 0.05, related=0.9)
    assert aggregate([Judged(2, neutral)], claim_outlet=1).verdict == "unverified"
    assert aggregate([Judged(2, neutral, corroborates=True)], claim_outlet=1).verdict == "supported"
    # Not when the stance model reads it as a contradiction.
    against = j(0.05, 0.9)
    assert aggregate([Judged(2, against, corroborates=True)], claim_outlet=1).verdict == "refuted"


def test_a_negation_cue_alone_refutes_only_as_strongly_as_the_stance_model_reads_it() -> None:
    # "Sea level rise is not going to happen" vs a sentence with "not" in another clause:
    # the stance model reads it as neutral, so it neither confirms nor refutes.
    neutral = j(0.3, 0.1, related=1.0, conflicts=("negation: claim denies, evidence affirms",))
    assert strengths(neutral) == (0.0, pytest.approx(0.1))
    assert aggregate([Judged(2, neutral)], claim_outlet=1).verdict == "unverified"
    # Read as refuting, it refutes; a figure or date in conflict refutes regardless.
    assert (
        aggregate([Judged(2, j(0.1, 0.8, conflicts=("direction: fell vs rose",)))], claim_outlet=1).verdict
        == "refuted"
    )
    assert (
        aggregate([Judged(2, j(0.3, 0.1, conflicts=("date: 2013 vs 2007",)))], claim_outlet=1).verdict
        == "refuted"
    )
