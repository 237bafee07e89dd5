from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from newstalk.errors import InvalidInput
from newstalk.stories.evaluate.bbc import evaluate_bbc
from newstalk.stories.neardup import (
    NUM_PERM,
    NearDupIndex,
    band_shape,
    find_duplicate,
    is_empty,
    jaccard,
    signature,
    signature_bytes,
    signature_from_bytes,
)

BBC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "news" / "bbc_news.jsonl"

WIRE = (
    "The central bank held its main interest rate at 4.75% on Thursday, as policymakers weighed "
    "signs of a slowing housing market against stubborn inflation in the service sector.\n\n"
    "Seven of the nine members of the monetary policy committee voted to keep rates unchanged, "
    "while two argued for a quarter-point cut, according to minutes published alongside the decision. "
    "The governor said the committee would watch wage growth closely over the coming months.\n\n"
    "House prices fell for a third month in a row in January, according to figures from the largest "
    "mortgage lender, and retail sales over the Christmas period were weaker than expected. "
    "Economists had been split on whether the bank would move this month.\n\n"
    "The pound slipped against the dollar after the announcement, and shares in housebuilders rose "
    "on hopes that borrowing costs have peaked. The next decision is due on 10 March."
)
EDITED = (
    WIRE.replace("stubborn inflation", "persistent inflation")
    .replace("held its main interest rate", "kept its key interest rate")
    .replace(
        "The next decision is due on 10 March.",
        "The next decision is due on 10 March. Analysts expect no change before the summer.",
    )
)
SAME_TOPIC = (
    "Borrowers face another month of high repayments after the central bank left interest rates on hold. "
    "Mortgage brokers said fixed-rate deals had already priced in cuts later in the year, and warned "
    "first-time buyers that affordability remained stretched in London and the south east.\n\n"
    "Consumer groups urged lenders to pass on lower funding costs quickly. The housing charity said "
    "rents had risen faster than wages for the fifth year running, and called on the government to "
    "build more social homes. Estate agents reported fewer viewings in January than a year ago, "
    "though enquiries picked up in the final week of the month."
)

KO_WIRE = (
    "서울시는 내년 예산을 올해보다 5% 늘린 48조원으로 편성했다고 20일 밝혔다. "
    "시는 늘어난 예산의 상당 부분을 대중교통 확충과 노후 주택 정비에 투입할 계획이다. "
    "지하철 9호선 연장 구간 공사와 시내버스 노선 개편에 1조2천억원이 배정됐다. "
    "노후 공공임대주택 재건축과 반지하 주택 정비에도 8천억원이 쓰인다. "
    "서울시 관계자는 시민 생활과 직결된 분야에 재원을 집중했다고 설명했다. "
    "예산안은 다음 달 시의회 심의를 거쳐 12월 중순 확정될 예정이다."
)
KO_EDITED = (
    KO_WIRE.replace("서울시는 내년 예산을", "서울시가 내년 예산이")
    .replace("설명했다", "말했다")
    .replace(
        "확정될 예정이다.",
        "확정될 예정이다. 시의회 일부 의원들은 복지 예산이 부족하다고 지적했다.",
    )
)
KO_SAME_TOPIC = (
    "서울시의회는 내년 서울시 예산안 심의를 앞두고 복지 분야 증액을 요구하기로 했다. "
    "의회 예산결산특별위원회는 노인 일자리와 아동 돌봄 사업 예산이 충분하지 않다고 보고 있다. "
    "위원장은 교통 사업보다 취약계층 지원이 먼저라고 강조했다. "
    "시의회는 다음 주부터 상임위원회별로 예비 심사에 들어간다."
)


def _indexed(*texts: str, lang: str) -> NearDupIndex:
    index = NearDupIndex()
    for key, t in enumerate(texts, 1):
        index.add(key, signature(t, lang))
    return index


@pytest.mark.parametrize(
    ("wire", "edited", "other", "lang"),
    [(WIRE, EDITED, SAME_TOPIC, "en"), (KO_WIRE, KO_EDITED, KO_SAME_TOPIC, "ko")],
    ids=["en", "ko"],
)
def test_lightly_edited_copy_is_linked_to_the_first_copy(
    wire: str, edited: str, other: str, lang: str
) -> None:
    index = _indexed(wire, other, lang=lang)
    match = find_duplicate(index, signature(edited, lang))
    assert match is not None
    assert match[0] == 1
    assert match[1] >= index.threshold
    assert [k for k, _ in index.query(signature(other, lang))] == [2]


@pytest.mark.parametrize(
    ("wire", "other", "lang"), [(WIRE, SAME_TOPIC, "en"), (KO_WIRE, KO_SAME_TOPIC, "ko")]
)
def test_different_story_on_the_same_topic_is_not_a_duplicate(wire: str, other: str, lang: str) -> None:
    index = _indexed(wire, lang=lang)
    assert find_duplicate(index, signature(other, lang)) is None
    assert jaccard(signature(wire, lang), signature(other, lang)) < 0.2


def test_first_copy_wins_over_a_better_later_match() -> None:
    index = _indexed(WIRE, EDITED, lang="en")
    match = find_duplicate(index, signature(EDITED, "en"))
    assert match is not None
    assert match[0] == 1
    assert index.query(signature(EDITED, "en"))[0] == (2, 1.0)
    assert find_duplicate(index, signature(EDITED, "en"), exclude=1) == (2, 1.0)


def test_empty_text_matches_nothing() -> None:
    empty = signature("", "en")
    assert is_empty(empty)
    index = NearDupIndex()
    index.add(1, empty)
    index.add(2, signature("?!", "en"))
    assert len(index) == 0
    assert index.query(empty) == []
    assert jaccard(empty, empty) == 0.0


def test_signature_bytes_round_trip() -> None:
    sig = signature(WIRE, "en")
    assert sig.shape == (NUM_PERM,)
    raw = signature_bytes(sig)
    assert len(raw) == NUM_PERM * 4
    back = signature_from_bytes(raw)
    assert np.array_equal(back, sig)
    assert back.dtype == sig.dtype
    with pytest.raises(InvalidInput, match="stories"):
        signature_from_bytes(raw[:-1])


def test_index_remove_and_len() -> None:
    index = _indexed(WIRE, SAME_TOPIC, lang="en")
    assert len(index) == 2
    index.remove(1)
    index.remove(99)
    assert len(index) == 1
    assert 1 not in index
    assert find_duplicate(index, signature(EDITED, "en")) is None
    index.add(1, signature(WIRE, "en"))
    assert find_duplicate(index, signature(EDITED, "en")) is not None


def test_band_shape_finds_pairs_at_the_threshold() -> None:
    bands, rows = band_shape(0.5)
    assert bands * rows <= NUM_PERM
    assert 1 - (1 - 0.5**rows) ** bands >= 0.99
    with pytest.raises(InvalidInput):
        NearDupIndex(0.0)


def test_signature_and_query_are_fast() -> None:
    index = NearDupIndex()
    texts = [f"{WIRE} Story number {i} with extra words {i * 7} and {i * 13}." for i in range(200)]
    start = time.perf_counter()
    for key, t in enumerate(texts):
        sig = signature(t, "en")
        find_duplicate(index, sig)
        index.add(key, sig)
    per_article = (time.perf_counter() - start) / len(texts)
    assert per_article < 0.01


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_evaluate_bbc_on_a_small_file(tmp_path: Path) -> None:
    other = (
        "A new museum of computing opened in Bletchley on Saturday with machines from the 1940s on show. " * 3
    )
    rows = [
        {"title": "Bank holds rates", "body": WIRE},
        {"title": "Business briefing", "body": SAME_TOPIC},
        {"title": "Museum opens", "body": other},
        {"title": "Rates on hold at 4.75%", "body": EDITED},
        {"title": "Museum opens", "body": other.upper()},
        {
            "title": "Business briefing",
            "body": "Shares in the chip maker fell 5% after it cut its sales forecast for the year.",
        },
    ]
    got = evaluate_bbc(_write(tmp_path / "news.jsonl", rows))
    assert got["n"] == 6
    assert got["gold_pairs"] == 2
    assert got["found_pairs"] == 2
    assert got["dup_precision"] == 1.0
    assert got["dup_recall"] == 1.0
    assert got["dup_f1"] == 1.0
    assert got["exact_gold_pairs"] == 1
    assert got["exact_precision"] == 0.5
    assert got["exact_recall"] == 1.0


def test_evaluate_bbc_skips_broken_lines_with_a_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bad.jsonl"
    good = [
        json.dumps({"title": "Museum opens", "body": f"The museum opened its {n} new rooms today."})
        for n in "ab"
    ]
    path.write_text(
        "\n".join([good[0], "not json", '{"title": "cut off", "body": "half a li', '["a list"]', good[1]])
        + "\n",
        encoding="utf-8",
    )
    got = evaluate_bbc(path)
    assert got["n"] == 2  # the good rows on both sides of the broken ones are read
    assert got["skipped_rows"] == 3
    assert got["skipped_examples"][0].endswith("bad.jsonl:2: not JSON (Expecting value)")
    assert "bad.jsonl:4: needs an object" in got["skipped_examples"][2]
    assert sum("eval: skipped" in r.message for r in caplog.records) == 3
    clean = evaluate_bbc(_write(tmp_path / "ok.jsonl", [{"title": "a", "body": "b"}]))
    assert clean["skipped_rows"] == 0
    assert "skipped_examples" not in clean
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no usable rows"):
        evaluate_bbc(path)


@pytest.mark.slow
@pytest.mark.skipif(not BBC.exists(), reason="shared BBC data not present")
def test_evaluate_bbc_on_the_real_file() -> None:
    got = evaluate_bbc(BBC)
    assert got["n"] == 2225
    assert got["dup_precision"] >= 0.97
    assert got["dup_recall"] >= 0.97
    assert got["exact_recall"] >= 0.99


def test_signatures_are_datasketch_affine32_bit_for_bit() -> None:
    """neardup computes datasketch 2.0's affine32 MinHash itself (importing datasketch costs
    about 48 MB); stored signatures must not change, on real English and Korean news."""
    datasketch = pytest.importorskip("datasketch")
    from newstalk.stories.neardup import SEED, signature_of_shingles
    from newstalk.stories.text import shingles

    korean = BBC.parents[0] / "ko-news-soynlp" / "doublespace_line_corpus_sample.txt"
    if not BBC.is_file() or not korean.is_file():
        pytest.skip("../shared/data/news is not present")
    with BBC.open(encoding="utf-8") as f:
        english = [(json.loads(line)["body"], "en") for _, line in zip(range(60), f, strict=False)]
    ko_lines = [line for line in korean.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [*english, *[(line, "ko") for line in ko_lines[:60]], ("", "en"), ("a", "en")]
    template = datasketch.MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32")
    for text, lang in texts:
        items = shingles(text, lang)
        ref = datasketch.MinHash(
            num_perm=NUM_PERM, seed=SEED, permutations=template.permutations, scheme="affine32"
        )
        ref.update_batch([s.encode("utf-8") for s in items])
        assert np.array_equal(signature_of_shingles(items), np.asarray(ref.hashvalues, dtype=np.uint32))
