"""`newstalk eval verdicts`: the product path on small Climate-FEVER and FNC-1 files written here."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from newstalk.factcheck.checker import Checker
from newstalk.factcheck.features import LruEncoder
from newstalk.factcheck.verifiers.local import LocalVerifier
from newstalk.providers.embeddings import E5SmallEmbeddings
from newstalk.training.factcheck.verdict_eval import evaluate_verdicts, run_fnc

SEA = "Sea level"
ICE = "Arctic sea ice"
CLIMATE = [
    {
        "claim_id": str(i),
        "claim": claim,
        "claim_label": label,
        "evidences": [
            {
                "evidence_id": f"{article}:{k}",
                "article": article,
                "evidence": text,
                "evidence_label": "SUPPORTS",
            }
            for k, (article, text) in enumerate(evidence)
        ],
    }
    for i, (claim, label, evidence) in enumerate(
        [
            (
                "Global sea level rose about 20 centimetres during the 20th century.",
                "SUPPORTS",
                [(SEA, "Global mean sea level rose by about 20 centimetres over the 20th century.")],
            ),
            (
                "Arctic sea ice extent has declined since satellite records began in 1979.",
                "SUPPORTS",
                [(ICE, "Arctic sea ice extent has declined steadily since satellite records began in 1979.")],
            ),
            (
                "Volcanoes emit more carbon dioxide than human activity.",
                "REFUTES",
                [("Volcano", "Human activities emit about 100 times more carbon dioxide than volcanoes.")],
            ),
            (
                "Cats prefer warm weather.",
                "NOT_ENOUGH_INFO",
                [(SEA, "Coastal cities face flooding as seas rise.")],
            ),
        ]
    )
]
BODIES = [
    {
        "body_id": 1,
        "body": "A fire destroyed the old town library in Leeds on Sunday night. Firefighters said "
        "no one was hurt in the blaze, which started in the reading room shortly after 11pm.",
    },
    {
        "body_id": 2,
        "body": "Apple unveiled a new phone on Tuesday with a larger battery. The company said the "
        "device will go on sale in stores next month at a price of 799 dollars.",
    },
]
STANCES = [
    {"headline": "Fire destroys Leeds library on Sunday night", "body_id": 1, "stance": "agree"},
    {"headline": "Apple unveils new phone with larger battery", "body_id": 1, "stance": "unrelated"},
    {"headline": "Rail strike ends after pay deal", "body_id": 2, "stance": "unrelated"},
    {"headline": "Leeds library fire kills three", "body_id": 2, "stance": "unrelated"},
]


@pytest.fixture(scope="module")
def checker() -> Checker:
    encoder = LruEncoder(E5SmallEmbeddings())
    return Checker(LocalVerifier(encoder, held_out=True), encoder)


def write_data(root: Path) -> Path:
    (root / "climate-fever").mkdir(parents=True)
    lines = [json.dumps(c) for c in CLIMATE] + ["{not json"]
    (root / "climate-fever" / "climate-fever.jsonl").write_text("\n".join(lines) + "\n")
    (root / "fnc-1-dev").mkdir()
    (root / "fnc-1-dev" / "bodies.jsonl").write_text("\n".join(json.dumps(b) for b in BODIES) + "\n")
    (root / "fnc-1-dev" / "stances.jsonl").write_text("\n".join(json.dumps(s) for s in STANCES) + "\n")
    return root


def test_verdicts_on_retrieved_evidence_with_calibration_fitted_on_the_other_half(
    tmp_path: Path, checker: Checker
) -> None:
    data = write_data(tmp_path / "data")
    path = tmp_path / "calibration.json"
    result = evaluate_verdicts(checker, data, 10, fit=True, calibration_path=path)
    assert result["rows_skipped"] == {"climate-fever.jsonl": 1}
    # Every sampled claim is in exactly one half; the numbers are on the report half only.
    assert result["calibration_fitted_on"] + result["held_out"] == len(CLIMATE) + len(STANCES)
    assert result["climate-fever.n"] + result["fnc-1.n"] == result["held_out"]
    fitted = json.loads(path.read_text())
    assert set(fitted["platt"]) <= {"supported", "refuted", "disputed", "unverified"}
    assert sum(r["n"] for r in result["reliability"]) == result["held_out"]
    assert 0.0 <= result["all.ece"] <= 1.0


def test_unrelated_headlines_come_out_unverified_without_evidence(tmp_path: Path, checker: Checker) -> None:
    data = write_data(tmp_path / "data")
    records = run_fnc(checker, data / "fnc-1-dev", 10, Counter())
    assert len(records) == len(STANCES)
    unrelated = [r for r in records if r.gold_label == "unrelated"]
    assert len(unrelated) == 3
    # Including "Leeds library fire kills three" against the phone body, and the rail strike.
    assert all(r.verdict == "unverified" and r.evidence == 0 for r in unrelated), unrelated
    [agree] = [r for r in records if r.gold_label == "agree"]
    assert agree.evidence > 0
    assert agree.verdict != "refuted"
