"""`newstalk eval stories` on small files in each format: one JSON object with the named metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NEWSTALK = str(Path(sys.executable).with_name("newstalk"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEWSTALK, "eval", "stories", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_bbc_format(tmp_path: Path) -> None:
    body = "The council approved the budget after a long debate about schools and roads in the city. " * 3
    rows = [
        {"title": "Budget approved", "body": body},
        {"title": "Council passes budget", "body": body + " Updated with a quote."},
        {
            "title": "Storm hits coast",
            "body": "A storm brought heavy rain and strong winds to the coast on Monday. " * 3,
        },
    ]
    path = tmp_path / "bbc.jsonl"
    # One line in the middle is cut short: it is skipped with a warning and counted.
    lines = [json.dumps(r) for r in rows]
    path.write_text("\n".join([lines[0], lines[1][:30], *lines[1:]]))
    done = run(str(path), "--format", "bbc", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["dup_precision"] == 1.0
    assert result["dup_recall"] == 1.0
    assert (result["n"], result["skipped_rows"]) == (3, 1)
    assert "eval: skipped" in done.stderr
    assert "bbc.jsonl:2: not JSON" in done.stderr
    table = run(str(path), "--format", "bbc")
    assert "| dup_precision | 1.0000 |" in table.stdout
    assert "| skipped_rows | 1 |" in table.stdout


@pytest.mark.slow
def test_uci_and_fnc1_formats(tmp_path: Path) -> None:
    uci = tmp_path / "uci.csv"
    uci.write_text(
        "ID,TITLE,URL,PUBLISHER,CATEGORY,STORY,HOSTNAME,TIMESTAMP\n"
        "1,Fed raises interest rates by a quarter point,http://a/1,A,b,s1,a,1394470370698\n"
        "2,Federal Reserve lifts rates a quarter point,http://b/1,B,b,s1,b,1394470371207\n"
        "3,Apple unveils new iPhone with bigger screen,http://c/1,C,t,s2,c,1394470372000\n"
    )
    done = run(str(uci), "--format", "uci", "--json")
    assert done.returncode == 0, done.stderr
    assert {"bcubed_precision", "bcubed_recall", "bcubed_f1"} <= json.loads(done.stdout).keys()

    folder = tmp_path / "fnc"
    folder.mkdir()
    bodies = [
        {
            "body_id": i,
            "body": f"Story {i}: the mayor of town {i} opened a new bridge over the river on Monday.",
        }
        for i in range(10)
    ]
    stances = [
        {"headline": f"Mayor of town {i} opens bridge", "body_id": i, "stance": "discuss"} for i in range(10)
    ]
    stances += [
        {"headline": f"Football team {i} wins the league", "body_id": i, "stance": "unrelated"}
        for i in range(10)
    ]
    (folder / "bodies.jsonl").write_text("\n".join(json.dumps(b) for b in bodies))
    (folder / "stances.jsonl").write_text("\n".join(json.dumps(s) for s in stances))
    done = run(str(folder), "--format", "fnc1", "--json")
    assert done.returncode == 0, done.stderr
    assert 0.0 <= json.loads(done.stdout)["related_accuracy"] <= 1.0


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "x.csv"
    garbage.write_text("not,a\nuci,file\n")
    done = run(str(garbage), "--format", "uci")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    wrong = run(str(garbage), "--format", "nope")
    assert wrong.returncode == 2


def test_eval_category_without_labelled_rows_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("just one line of prose\n")
    done = subprocess.run(
        [NEWSTALK, "eval", "category", str(empty)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert "no labelled rows" in done.stderr
    assert "Traceback" not in done.stderr
