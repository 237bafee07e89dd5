"""FNC-1 scoring and the Climate-FEVER claim rule by hand; `newstalk eval factcheck` on small real subsets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from newstalk.training.factcheck.evaluate import claim_verdict, fnc_score

NEWSTALK = str(Path(sys.executable).with_name("newstalk"))
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "factcheck"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/factcheck is not present")


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


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEWSTALK, "eval", "factcheck", *args], capture_output=True, text=True, timeout=300, check=False
    )


@needs_data
def test_eval_command_scores_training_pairs_by_their_fold_model(tmp_path: Path) -> None:
    lines = (DATA / "fever-symmetric-dev/fever_symmetric_dev.jsonl").read_text().splitlines()[:12]
    unseen = json.loads(lines[0])
    unseen["claim"] = unseen["claim"].rstrip(" .") + " in 1850 ."
    path = tmp_path / "fever.jsonl"
    # A line cut in half in the middle of the file is skipped and counted, not fatal.
    path.write_text("\n".join([*lines[:6], lines[6][:40], *lines[6:], json.dumps(unseen)]) + "\n")
    done = run_cli(str(path), "--format", "fever", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["skipped_rows"] == 1
    assert "fever.jsonl:7: not JSON" in result["skipped_examples"][0]
    assert "eval: skipped" in done.stderr
    assert "fever.jsonl:7" in done.stderr
    assert result["n"] == 13
    assert result["scored_by_fold_model"] == 12
    assert result["scored_by_full_model"] == 1
    assert 0.0 <= result["accuracy"] <= 1.0
    assert {"macro_f1", "f1_supports", "f1_refutes"} <= result.keys()
    table = run_cli(str(path), "--format", "fever")
    assert table.returncode == 0, table.stderr
    assert "| scored_by_full_model | 1 |" in table.stdout


@needs_data
def test_eval_command_on_fnc1_and_climate_subsets(tmp_path: Path) -> None:
    folder = tmp_path / "fnc"
    folder.mkdir()
    stances = [json.loads(x) for x in (DATA / "fnc-1-dev/stances.jsonl").read_text().splitlines()]
    wanted = {s["body_id"] for s in stances[:6]}
    (folder / "stances.jsonl").write_text("\n".join(json.dumps(s) for s in stances[:6]))
    bodies = [json.loads(x) for x in (DATA / "fnc-1-dev/bodies.jsonl").read_text().splitlines()]
    (folder / "bodies.jsonl").write_text("\n".join(json.dumps(b) for b in bodies if b["body_id"] in wanted))
    done = run_cli(str(folder), "--format", "fnc1", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 6
    assert 0.0 <= result["fnc_score"] <= 1.0
    assert result["scored_by_fold_model"] == 6

    climate = tmp_path / "climate.jsonl"
    climate.write_text("\n".join((DATA / "climate-fever/climate-fever.jsonl").read_text().splitlines()[:3]))
    done = run_cli(str(climate), "--format", "climate-fever", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["claims"] == 3
    assert result["n"] == 15
    assert {"claim_accuracy", "pair_accuracy"} <= result.keys()


def test_eval_command_bad_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    done = run_cli(str(bad), "--format", "fever")
    assert done.returncode == 1
    # The skipped line is warned about, then the file is refused in one line that names it.
    warning, error = done.stderr.strip().splitlines()
    assert "eval: skipped" in warning
    assert "no labelled pairs (1 malformed rows skipped, first: " in error
    assert "bad.jsonl:1: not JSON" in error
    wrong = run_cli(str(bad), "--format", "csv")
    assert wrong.returncode == 2
    assert "--format must be one of" in wrong.stderr
