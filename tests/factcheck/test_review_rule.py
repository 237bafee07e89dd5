"""Which verdicts go to the editors' review queue."""

from __future__ import annotations

from newstalk.factcheck.service import needs_review


def test_low_confidence_verdicts_are_queued_but_not_an_unverified_claim_with_no_evidence() -> None:
    assert (
        needs_review(0.6, "economy", 0.7, [], verdict="supported", evidence=2) == "confidence 0.60 below 0.70"
    )
    assert needs_review(0.6, "economy", 0.7, [], verdict="unverified", evidence=1) is not None
    assert needs_review(0.697, "economy", 0.7, [], verdict="unverified", evidence=0) is None
    assert needs_review(0.9, "economy", 0.7, [], verdict="refuted", evidence=1) is None
    # Categories every verdict of which is reviewed still queue it.
    assert needs_review(0.697, "politics", 0.7, ["politics"], verdict="unverified", evidence=0) == (
        "every politics verdict is reviewed"
    )
