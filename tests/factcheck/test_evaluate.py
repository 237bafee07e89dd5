"""FNC-1 scoring and the Climate-FEVER claim rule on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from newstalk.factcheck.evaluate import claim_verdict, fnc_score


def test_fnc_score_by_hand() -> None:
    gold = ["agree", "disagree", "discuss", "unrelated"]
    # Perfect: 3 related pairs x 1.0 + 1 unrelated x 0.25.
    assert fnc_score(gold, gold) == (3.25, 3.25)
    # agree->discuss: related right (0.25); disagree->unrelated: 0; discuss right: 1.0;
    # unrelated->agree: 0.
    assert fnc_score(gold, ["discuss", "unrelated", "discuss", "agree"]) == (1.25, 3.25)
    # Everything "unrelated" earns only the unrelated pair.
    assert fnc_score(gold, ["unrelated"] * 4) == (0.25, 3.25)
    assert fnc_score([], []) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("rows", "verdict"),
    [
        ([[0.9, 0.05, 0.05], [0.2, 0.1, 0.7]], "SUPPORTS"),
        ([[0.1, 0.8, 0.1], [0.2, 0.1, 0.7]], "REFUTES"),
        ([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]], "DISPUTED"),
        ([[0.45, 0.1, 0.45], [0.1, 0.2, 0.7]], "NOT_ENOUGH_INFO"),
    ],
)
def test_claim_verdict_rule(rows: list[list[float]], verdict: str) -> None:
    assert claim_verdict(np.array(rows)) == verdict
