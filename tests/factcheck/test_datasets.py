"""Loaders on the real shared files and on small malformed files: labelled pairs or one-line errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from newstalk.training.factcheck.datasets import TRAINING_SETS, DatasetError, load

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "factcheck"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/factcheck is not present")


@needs_data
def test_real_files_give_labelled_grouped_pairs() -> None:
    by_name = {name: load(DATA / rel, fmt) for name, rel, fmt in TRAINING_SETS}

    fnc = by_name["fnc1"]
    assert len(fnc.pairs) == 13305
    assert len({p.group for p in fnc.pairs}) == 457
    labels = Counter(p.label for p in fnc.pairs)
    assert set(labels) == {"agree", "disagree", "discuss", "unrelated"}
    assert all(p.related == (p.label != "unrelated") for p in fnc.pairs)
    assert {p.stance for p in fnc.pairs if p.label == "disagree"} == {"refutes"}

    fever = by_name["fever-symmetric"]
    assert Counter(p.label for p in fever.pairs) == {"SUPPORTS": 354, "REFUTES": 354}
    assert all(p.group == p.claim for p in fever.pairs)

    climate = by_name["climate-fever"]
    assert len(climate.pairs) == 7675
    assert set(climate.claims.values()) == {"SUPPORTS", "REFUTES", "DISPUTED", "NOT_ENOUGH_INFO"}
    assert len(climate.claims) == 1535
    assert all(p.claim_id in climate.claims for p in climate.pairs)

    for name, size in (("klue-nli", 3000), ("kornli", 2490)):
        ds = by_name[name]
        assert len(ds.pairs) == size
        assert {p.lang for p in ds.pairs} == {"ko"}
        assert Counter(p.stance for p in ds.pairs) == dict.fromkeys(
            ("supports", "refutes", "neutral"), size // 3
        )
        # The premise is the evidence and the group: all hypotheses of one premise stay together.
        assert all(p.group == p.evidence for p in ds.pairs)


def test_small_files_in_each_format(tmp_path: Path) -> None:
    fever = tmp_path / "fever.jsonl"
    fever.write_text(
        json.dumps({"claim": "A is B .", "evidence": "A is C .", "label": "REFUTES"})
        + "\n\n"
        + json.dumps({"claim": "A is B .", "evidence": "Nothing .", "label": "NOT ENOUGH INFO"})
        + "\n"
        + json.dumps({"claim": "x", "evidence": "y", "label": "MAYBE"})
        + "\n"
    )
    ds = load(fever, "fever")
    assert [(p.stance, p.label) for p in ds.pairs] == [("refutes", "REFUTES"), ("neutral", "NOT ENOUGH INFO")]

    tsv = tmp_path / "nli.tsv"
    tsv.write_text("sentence1\tsentence2\tgold_label\n비가 온다.\t날씨가 맑다.\tcontradiction\n가\t나\t-\n")
    ds = load(tsv, "nli-tsv")
    assert [(p.claim, p.evidence, p.stance) for p in ds.pairs] == [("날씨가 맑다.", "비가 온다.", "refutes")]

    klue = tmp_path / "klue.json"
    klue.write_text(json.dumps([{"premise": "P", "hypothesis": "H", "gold_label": "entailment"}]))
    assert load(klue, "klue-json").pairs[0].stance == "supports"

    climate = tmp_path / "climate.jsonl"
    climate.write_text(
        json.dumps(
            {
                "claim_id": "7",
                "claim": "Seas are rising.",
                "claim_label": "DISPUTED",
                "evidences": [
                    {"evidence": "Sea level rose 20 cm.", "evidence_label": "SUPPORTS"},
                    {"evidence": "Sea level fell.", "evidence_label": "REFUTES"},
                ],
            }
        )
    )
    ds = load(climate, "climate-fever")
    assert ds.claims == {"7": "DISPUTED"}
    assert [p.label for p in ds.pairs] == ["SUPPORTS", "REFUTES"]

    fnc = tmp_path / "fnc"
    fnc.mkdir()
    (fnc / "bodies.jsonl").write_text(json.dumps({"body_id": 1, "body": "The bridge opened."}))
    (fnc / "stances.jsonl").write_text(
        json.dumps({"headline": "Bridge opens", "body_id": 1, "stance": "agree"})
    )
    assert load(fnc, "fnc1").pairs[0].stance == "supports"


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("fever", "not json\n", "fever.data:1: not JSON"),
        ("fever", "[1, 2]\n", "expected a JSON object per line"),
        ("fever", json.dumps({"claim": "c", "label": "SUPPORTS"}) + "\n", "no 'evidence'"),
        ("fever", json.dumps({"claim": "c", "evidence": "e", "label": "?"}) + "\n", "no labelled pairs"),
        ("climate-fever", json.dumps({"claim": "c"}) + "\n", "no 'evidences' list"),
        ("nli-tsv", "a\tb\tc\nx\ty\tz\n", "header must name sentence1"),
        ("klue-json", "{", "not JSON"),
        ("klue-json", json.dumps({"premise": "p"}), "expected a JSON list"),
        ("fnc1", "", "not a folder"),
    ],
)
def test_malformed_files_give_one_line_errors(tmp_path: Path, fmt: str, content: str, message: str) -> None:
    path = tmp_path / "fever.data"
    path.write_text(content)
    with pytest.raises(DatasetError) as err:
        load(path, fmt)
    assert message in err.value.detail
    assert "\n" not in err.value.detail


def test_malformed_rows_are_skipped_with_a_count_and_the_rest_is_read(tmp_path: Path) -> None:
    good = {"claim": "A is B .", "evidence": "A is C .", "label": "REFUTES"}
    fever = tmp_path / "fever.jsonl"
    fever.write_text(
        "\n".join(
            [
                json.dumps(good),
                '{"claim": "cut in ha',
                "[1, 2]",
                json.dumps({"claim": "no evidence", "label": "SUPPORTS"}),
                json.dumps({**good, "claim": "A is D ."}),
            ]
        )
        + "\n"
    )
    ds = load(fever, "fever")
    assert [p.claim for p in ds.pairs] == ["A is B .", "A is D ."]
    assert ds.skipped.count == 3
    assert [x.split("fever.jsonl")[1][:3] for x in ds.skipped.examples] == [":2:", ":3:", ":4:"]
    assert ds.skipped.report()["skipped_rows"] == 3

    climate = tmp_path / "climate.jsonl"
    row = {"claim": "Seas rise.", "evidences": [{"evidence": "They rose.", "evidence_label": "SUPPORTS"}]}
    climate.write_text(
        "\n".join([json.dumps(row), json.dumps({"claim": "c"}), json.dumps({**row, "evidences": ["x"]})])
    )
    ds = load(climate, "climate-fever")
    assert (len(ds.pairs), ds.skipped.count) == (1, 2)
    assert "no 'evidences' list" in ds.skipped.examples[0]

    tsv = tmp_path / "nli.tsv"
    tsv.write_text("sentence1\tsentence2\tgold_label\n비가 온다.\t날씨가 맑다.\tcontradiction\n잘린 줄\n")
    ds = load(tsv, "nli-tsv")
    assert (len(ds.pairs), ds.skipped.count) == (1, 1)
    assert ds.skipped.examples[0].endswith("nli.tsv:3: 1 columns, the header has 3")

    klue = tmp_path / "klue.json"
    klue.write_text(
        json.dumps([{"premise": "P", "hypothesis": "H", "gold_label": "entailment"}, "x", {"premise": 1}])
    )
    ds = load(klue, "klue-json")
    assert (len(ds.pairs), ds.skipped.count) == (1, 2)

    fnc = tmp_path / "fnc"
    fnc.mkdir()
    (fnc / "bodies.jsonl").write_text(
        json.dumps({"body_id": 1, "body": "The bridge opened."}) + "\n" + json.dumps({"body": "no id"}) + "\n"
    )
    (fnc / "stances.jsonl").write_text(
        json.dumps({"headline": "Bridge opens", "body_id": 1, "stance": "agree"})
        + "\n"
        + json.dumps({"headline": "Missing body", "body_id": 2, "stance": "agree"})
        + "\n"
    )
    ds = load(fnc, "fnc1")
    assert (len(ds.pairs), ds.skipped.count) == (1, 2)
    assert any("body_id '2' is not in bodies.jsonl" in x for x in ds.skipped.examples)


def test_binary_and_missing_files(tmp_path: Path) -> None:
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match="not UTF-8"):
        load(binary, "fever")
    with pytest.raises(DatasetError, match="no such file"):
        load(tmp_path / "missing.tsv", "nli-tsv")
    folder = tmp_path / "fnc"
    folder.mkdir()
    (folder / "bodies.jsonl").write_text(json.dumps({"body_id": 1, "body": "b"}))
    (folder / "stances.jsonl").write_text(json.dumps({"headline": "h", "body_id": 2, "stance": "agree"}))
    with pytest.raises(DatasetError, match=r"body_id '2' is not in bodies\.jsonl"):
        load(folder, "fnc1")
    with pytest.raises(DatasetError, match="unknown format"):
        load(binary, "csv")
