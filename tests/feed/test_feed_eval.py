"""`newstalk eval feed` on a small data folder the test writes: one JSON object, reproducible by seed."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from newstalk.feed.evaluate import auc, embed_corpus, load_corpus, ndcg_at, simulate
from newstalk.kit.rows import SkippedRows
from tests.feed.stories import _encoder

NEWSTALK = str(Path(sys.executable).with_name("newstalk"))

BBC = [
    ("business", "Shares rise as the bank reports record profit"),
    ("business", "Oil prices fall on weak demand"),
    ("business", "Retail sales slow before the holidays"),
    ("sport", "Striker scores twice in the cup final"),
    ("sport", "Champion retains the world boxing title"),
    ("sport", "Injury rules the captain out of the tour"),
    ("tech", "New phone chip doubles battery life"),
    ("tech", "Hackers steal data from a games network"),
    ("politics", "Minister resigns over the spending row"),
    ("entertainment", "Film star wins the best actor award"),
]
AG = [
    ("1", "Peace talks resume in the Middle East (Reuters)", "Negotiators met again on Monday."),
    ("2", "Yankees beat the Red Sox in extra innings (AP)", "A late home run settled it."),
    ("3", "Stocks climb as inflation cools (Reuters)", "Markets welcomed the data."),
    ("4", "Space probe sends first images of the comet (AFP)", "Scientists were delighted."),
    ("4", "Software giant patches a browser flaw", "The update fixes a serious bug."),
]
KO = [
    "서울 연합뉴스 김기자 기자 한국은행이 기준금리를 동결했다고 밝혔다",
    "서울 뉴시스 이기자 기자 프로야구 개막전에 관중이 몰렸다",
    "세종 연합뉴스 박기자 기자 정부가 반도체 수출 지원책을 내놓았다",
    "부산 뉴시스 최기자 기자 영화제가 화려하게 막을 올렸다",
]
UCI = [
    ("Fed signals patience on rates", "Reuters", "s1"),
    ("Fed holds rates steady, signals patience", "Bloomberg", "s1"),
    ("Carmaker recalls a million cars", "AP", "s2"),
]


def write_data(root: Path) -> Path:
    with (root / "bbc_news.jsonl").open("w", encoding="utf-8") as fh:
        for i, (cat, title) in enumerate(BBC):
            fh.write(
                json.dumps({"id": f"{cat}/{i}.txt", "category": cat, "title": title, "body": title}) + "\n"
            )
    (root / "ag_news").mkdir()
    with (root / "ag_news" / "test.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(AG)
    (root / "ko-news-soynlp").mkdir()
    (root / "ko-news-soynlp" / "doublespace_line_corpus_sample.txt").write_text(
        "\n".join(KO), encoding="utf-8"
    )
    with (root / "uci-news-aggregator-head.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "TITLE", "URL", "PUBLISHER", "CATEGORY", "STORY", "HOSTNAME", "TIMESTAMP"])
        for i, (title, publisher, story) in enumerate(UCI):
            w.writerow([i, title, f"https://x.example/{i}", publisher, "b", story, "x.example", 0])
    return root


def test_metrics() -> None:
    gains = {1: 2, 2: 0, 3: 1}
    assert ndcg_at([1, 3, 2], gains) == pytest.approx(1.0)
    assert ndcg_at([2, 3, 1], gains) < 0.7
    assert auc([1, 3, 2], gains) == 1.0
    assert auc([2, 1, 3], gains) == 0.0
    assert auc([1, 2, 3], gains) == 0.5
    assert ndcg_at([1, 2], {1: 0, 2: 0}) is None


def test_same_seed_same_numbers(tmp_path: Path) -> None:
    stories = load_corpus(write_data(tmp_path), per_source=10)
    assert len(stories) == 10 + 5 + 4 + 2
    assert {s.outlets[0] for s in stories if s.language == "ko"} == {"연합뉴스", "뉴시스"}
    embed_corpus(stories, _encoder(), None)
    for s in stories:
        s.category = s.gold or "economy"
    runs = [simulate(stories, seed=3, listeners=30, days=4, eval_days=1) for _ in range(2)]
    assert runs[0] == runs[1]
    other = simulate(stories, seed=4, listeners=30, days=4, eval_days=1)
    assert other["events"] != runs[0]["events"]
    assert runs[0]["muted_outlet_items_shown"] == 0


def test_malformed_rows_in_the_shared_files_are_skipped_with_a_count(tmp_path: Path) -> None:
    data = write_data(tmp_path)
    with (data / "bbc_news.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"id": "cut/1.txt", "title": "Half a li\n')
        fh.write(json.dumps({"id": "x/2.txt", "title": "No body or category"}) + "\n")
    with (data / "ag_news" / "test.csv").open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow(["2", "Only a title"])
    with (data / "uci-news-aggregator-head.csv").open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow([9, "A title without its publisher"])
    skipped = SkippedRows()
    stories = load_corpus(data, per_source=10, skipped=skipped)
    assert len(stories) == 10 + 5 + 4 + 2  # every good row, as without the broken ones
    assert skipped.count == 4
    where = " ".join(skipped.examples)
    assert "bbc_news.jsonl:" in where
    assert "test.csv line 6" in where
    assert "uci-news-aggregator-head.csv line 5" in where


@pytest.mark.slow
def test_cli_prints_one_json_object(tmp_path: Path) -> None:
    data = write_data(tmp_path)
    args = ["--data", str(data), "--listeners", "20", "--days", "3", "--eval-days", "1", "--per-source", "20"]
    out = subprocess.run(
        [NEWSTALK, "eval", "feed", *args, "--json"], capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["simulation"] is True
    assert result["seed"] == 7
    assert result["listeners"] == 20
    for name in ("newstalk", "recency", "popularity", "random"):
        assert 0.0 <= result[name]["auc"] <= 1.0
        assert 0.0 <= result[name]["ndcg@10"] <= 1.0
    table = subprocess.run(
        [NEWSTALK, "eval", "feed", *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert table.stdout.startswith("SIMULATION")
    assert "| recency only |" in table.stdout
    bad = subprocess.run(
        [NEWSTALK, "eval", "feed", "--data", str(tmp_path / "ag_news")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("newstalk: eval feed:")
    assert len(bad.stderr.strip().splitlines()) == 1
