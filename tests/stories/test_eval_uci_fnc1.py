"""The story evaluations on small files written here: exact B-cubed values and FNC-1 relatedness."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from newstalk.errors import InvalidInput
from newstalk.providers.embeddings import E5SmallEmbeddings
from newstalk.stories.evaluate.fnc1 import evaluate_fnc1
from newstalk.stories.evaluate.uci import bcubed, evaluate_uci, read_uci

FIELDS = ["ID", "TITLE", "URL", "PUBLISHER", "CATEGORY", "STORY", "HOSTNAME", "TIMESTAMP"]
TOPICS = ("gox", "jetblue", "ecb", "bitcoin")


class CachedE5:
    """The real e5 model, remembering vectors so tests that share texts embed them once."""

    name = "e5-small"
    dim = 384

    def __init__(self) -> None:
        self.model = E5SmallEmbeddings()
        self.memo: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            self.memo.update(zip(todo, self.model.encode(todo), strict=True))
        return np.array([self.memo[t] for t in texts], dtype=np.float32).reshape(len(texts), self.dim)


@cache
def e5() -> CachedE5:
    return CachedE5()


class TopicEmbeddings:
    """Deterministic stand-in: one axis per topic word, so the clustering outcome is exact."""

    name = "topic"
    dim = 8

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            hit = [k for k, w in enumerate(TOPICS) if w in t.casefold()]
            out[i, hit[0] if hit else len(TOPICS) + i % 4] = 1.0
        return out


def write_uci(path: Path, rows: list[tuple[str, str, str, int]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FIELDS)
        for i, (title, publisher, story, ts) in enumerate(rows):
            w.writerow([i, title, f"http://x/{i}", publisher, "b", story, "x", ts])
    return path


def test_bcubed_matches_hand_computed_values() -> None:
    assert bcubed(["a", "a", "b", "b"], [1, 1, 2, 2]) == (1.0, 1.0, 1.0)
    # One cluster for everything: each item's precision is 2/4, recall 1.
    p, r, f = bcubed(["a", "a", "b", "b"], [1, 1, 1, 1])
    assert (p, r) == (0.5, 1.0)
    assert f == pytest.approx(2 / 3)
    # Singletons: precision 1, recall (1/3 * 3 + 1) / 4.
    p, r, _ = bcubed(["a", "a", "a", "b"], [1, 2, 3, 4])
    assert (p, r) == (1.0, 0.5)
    assert bcubed([], []) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same items"):
        bcubed(["a"], [])


def test_evaluate_uci_exact_bcubed_with_a_split_story(tmp_path: Path) -> None:
    ms = 1_394_470_000_000
    # Written out of time order: the evaluation sorts by TIMESTAMP.
    path = write_uci(
        tmp_path / "uci.csv",
        [
            ("JetBlue and American end pact", "Reuters", "B", ms + 5_000),
            ("Mt. Gox files for bankruptcy", "Reuters", "A", ms),
            ("Mt. Gox seeks US protection", "CNBC", "A", ms + 1_000),
            ("Mt. Gox CEO questioned", "BBC", "A", ms + 2_000),
            ("Bitcoin price slides after exchange collapse", "WSJ", "A", ms + 3_000),
            ("American Airlines, JetBlue sever agreement", "CNN", "B", ms + 6_000),
        ],
    )
    assert [r.story for r in read_uci(path)] == ["A", "A", "A", "A", "B", "B"]
    got = evaluate_uci(path, embeddings=TopicEmbeddings())
    # Found {gox x3}, {bitcoin}, {jetblue x2}: all pure; recall (3 * 3/4 + 1/4 + 2) / 6 = 0.75.
    assert got["bcubed_precision"] == 1.0
    assert got["bcubed_recall"] == 0.75
    assert got["bcubed_f1"] == round(2 * 0.75 / 1.75, 4)
    assert (got["n"], got["clusters_gold"], got["clusters_found"]) == (6, 2, 3)


def test_evaluate_uci_window_splits_a_story_that_goes_quiet(tmp_path: Path) -> None:
    ms = 1_394_470_000_000
    hour = 3_600_000
    path = write_uci(
        tmp_path / "uci.csv",
        [
            ("ECB holds rates", "Reuters", "E", ms),
            ("ECB keeps rates on hold", "FT", "E", ms + hour),
            ("ECB rate decision revisited", "BBC", "E", ms + 100 * hour),
        ],
    )
    got = evaluate_uci(path, embeddings=TopicEmbeddings())
    assert got["clusters_found"] == 2
    assert got["bcubed_precision"] == 1.0
    assert got["bcubed_recall"] == round((2 / 3 * 2 + 1 / 3) / 3, 4)


def test_evaluate_uci_with_e5_separates_two_clear_stories(tmp_path: Path) -> None:
    ms = 1_394_470_000_000
    path = write_uci(
        tmp_path / "uci.csv",
        [
            ("Bitcoin exchange Mt. Gox files for US bankruptcy protection", "Reuters", "A", ms),
            ("American Airlines, JetBlue end partnership agreement", "CNN", "B", ms + 1_000),
            ("Mt. Gox files for bankruptcy protection in the US", "CNBC", "A", ms + 2_000),
            ("American Airlines and JetBlue end interline agreement", "USA Today", "B", ms + 3_000),
        ],
    )
    got = evaluate_uci(path, embeddings=e5())
    assert (got["bcubed_precision"], got["bcubed_recall"], got["bcubed_f1"]) == (1.0, 1.0, 1.0)


def test_evaluate_uci_skips_malformed_rows_with_a_count(tmp_path: Path) -> None:
    ms = 1_394_470_000_000
    path = write_uci(
        tmp_path / "uci.csv",
        [
            ("Mt. Gox files for bankruptcy", "Reuters", "A", ms),
            ("Mt. Gox seeks US protection", "CNBC", "A", ms + 1_000),
            ("JetBlue and American end pact", "Reuters", "B", ms + 5_000),
        ],
    )
    with path.open("a", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([7, "Bitcoin slides", "http://x/7", "WSJ", "b", "A", "x", "yesterday"])  # not ms
        w.writerow([8, "", "http://x/8", "CNN", "b", "B", "x", ms])  # no title
        w.writerow([9, "American Airlines, JetBlue sever agreement"])  # cut short
        w.writerow(
            [10, "American Airlines, JetBlue sever pact", "http://x/10", "CNN", "b", "B", "x", ms + 6_000]
        )
    got = evaluate_uci(path, embeddings=TopicEmbeddings())
    assert (got["n"], got["skipped_rows"]) == (4, 3)
    assert got["bcubed_precision"] == got["bcubed_recall"] == 1.0
    assert "line 5: TIMESTAMP 'yesterday' is not milliseconds" in got["skipped_examples"][0]
    assert got["skipped_examples"][1].endswith("line 6: no TITLE")
    assert got["skipped_examples"][2].endswith("line 7: no PUBLISHER, STORY, TIMESTAMP")


def test_evaluate_uci_rejects_other_csv(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="STORY"):
        evaluate_uci(path, embeddings=TopicEmbeddings())


BODIES = {
    1: "Mt. Gox, the bitcoin exchange, filed for bankruptcy protection in Tokyo. The exchange said "
    "hackers stole nearly 850,000 bitcoins. Customers could not withdraw their money.",
    2: "American Airlines and JetBlue ended their partnership on Monday. The airlines will stop "
    "selling tickets on each other's flights. Travellers with existing bookings are not affected.",
    3: "The European Central Bank left interest rates unchanged. Its president said the bank was "
    "ready to act if inflation stayed too low. Markets had expected no move.",
    4: "A huge wildfire forced thousands of people to flee their homes in California. Firefighters "
    "were battling the blaze in strong winds. Several houses burned down.",
    5: "A rare white tiger cub was born at the city zoo. Keepers said the mother and cub were healthy. "
    "Visitors will be able to see the cub next month.",
    6: "The football club sacked its manager after a run of defeats. The board thanked him for his "
    "work. A caretaker coach will lead the team on Saturday.",
}
HEADLINES = {
    1: ["Mt. Gox bitcoin exchange files for bankruptcy", "Hackers stole bitcoins from Mt. Gox"],
    2: ["American Airlines and JetBlue end partnership", "JetBlue stops selling American flights"],
    3: ["ECB keeps interest rates on hold", "European Central Bank ready to act on low inflation"],
    4: ["Thousands flee California wildfire", "Firefighters battle huge blaze in strong winds"],
    5: ["White tiger cub born at zoo", "Zoo celebrates rare white tiger birth"],
    6: ["Football club sacks manager after defeats", "Manager fired after run of losses"],
}


def write_fnc(folder: Path, body_key: str = "body") -> Path:
    folder.mkdir()
    stances = []
    for bid in BODIES:
        other = bid % len(BODIES) + 1
        for h in HEADLINES[bid]:
            stances.append({"headline": h, "body_id": bid, "stance": "discuss"})
        for h in HEADLINES[other]:
            stances.append({"headline": h, "body_id": bid, "stance": "unrelated"})
    with (folder / "stances.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(s) + "\n" for s in stances)
    with (folder / "bodies.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"body_id": b, body_key: t}) + "\n" for b, t in BODIES.items())
    return folder


def test_evaluate_fnc1_separates_related_from_unrelated(tmp_path: Path) -> None:
    got = evaluate_fnc1(write_fnc(tmp_path / "fnc"), embeddings=e5(), folds=3)
    assert (got["n"], got["related"], got["unrelated"], got["bodies"], got["folds"]) == (24, 12, 12, 6, 3)
    # 16 training pairs per fold: one held-out mistake at most.
    assert got["related_accuracy"] >= 0.95
    assert got["related_precision"] >= 0.9
    assert got["related_recall"] >= 0.9


def test_evaluate_fnc1_accepts_article_body_and_reports_missing_files(tmp_path: Path) -> None:
    got = evaluate_fnc1(write_fnc(tmp_path / "fnc", body_key="articleBody"), embeddings=e5(), folds=2)
    assert got["related_accuracy"] >= 0.9
    with pytest.raises(InvalidInput, match=r"stances\.jsonl"):
        evaluate_fnc1(tmp_path / "missing", embeddings=e5())


def test_evaluate_fnc1_skips_malformed_rows_with_a_count(tmp_path: Path) -> None:
    folder = write_fnc(tmp_path / "fnc")
    with (folder / "stances.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"headline": "Cut off\n')  # broken JSON
        fh.write(json.dumps({"headline": "No stance here", "body_id": 1}) + "\n")
        fh.write(json.dumps({"headline": "Body that is not there", "body_id": 99, "stance": "agree"}) + "\n")
    with (folder / "bodies.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"body_id": "seven", "body": "A body with an id that is not a number."}) + "\n")
    got = evaluate_fnc1(folder, embeddings=e5(), folds=3)
    assert (got["n"], got["bodies"]) == (24, 6)  # every good row is still there
    assert got["skipped_rows"] == 4
    reasons = " ".join(got["skipped_examples"])
    assert "bodies.jsonl:7: no body_id of the right type" in reasons
    assert "stances.jsonl:25: not JSON" in reasons
    assert "stances.jsonl:26: no stance" in reasons
    assert "body_id 99 is not in bodies.jsonl" in reasons
