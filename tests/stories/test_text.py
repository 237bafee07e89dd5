from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from newstalk.stories import text
from newstalk.stories.text import kiwi, normalize_text, nouns, sentences, shingles, words


def test_kiwi_is_one_instance_across_threads() -> None:
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(kiwi())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(k) for k in seen}) == 1
    assert seen[0] is kiwi()


def test_normalize_text_folds_case_width_and_punctuation() -> None:
    assert (
        normalize_text("  Ｈｅｌｌｏ,\tWORLD!!  서울시는 — 2,500원 (4.75%) ")
        == "hello world 서울시는 2500원 475"
    )
    assert normalize_text("Labour's plan") == "labours plan"
    assert normalize_text("...!?") == ""


def test_english_words_drop_stopwords() -> None:
    assert words("The Bank of England held interest rates at 4.75%.", "en") == [
        "bank",
        "england",
        "held",
        "interest",
        "rates",
        "475",
    ]


def test_korean_particles_do_not_change_words() -> None:
    a = words("서울시는 예산을 늘렸다.", "ko")
    b = words("서울시가 예산이 늘었다.", "ko")
    assert a[:2] == ["서울시", "예산"]
    assert b[:2] == ["서울시", "예산"]
    assert words("서울시는 예산을", "ko") == words("서울시가 예산이", "ko") == ["서울시", "예산"]


def test_korean_words_keep_stems_numbers_and_foreign_words() -> None:
    got = words("삼성전자는 3분기에 Galaxy 판매가 크게 늘었다고 밝혔다.", "ko")
    assert "삼성전자" in got
    assert "3" in got
    assert "galaxy" in got
    assert "밝히" in got
    assert "는" not in got
    assert "다고" not in got


def test_nouns() -> None:
    assert "서울시" in nouns("서울시는 예산을 늘렸다.", "ko")
    assert "늘리" not in nouns("서울시는 예산을 늘렸다.", "ko")
    got = nouns("The Bank of England said Mark Carney would speak.", "en")
    assert "Bank" in got
    assert "England" in got
    assert "Mark Carney" in got
    assert "The" not in got


def test_english_sentences_respect_abbreviations() -> None:
    got = sentences(
        "Mr. Smith went to the U.S. on Monday. He met Dr. Jones. Then he left!\nA new paragraph", "en"
    )
    assert got == [
        "Mr. Smith went to the U.S. on Monday.",
        "He met Dr. Jones.",
        "Then he left!",
        "A new paragraph",
    ]


def test_korean_sentences() -> None:
    got = sentences("서울시는 예산을 늘렸다. 시의회는 이를 승인했다.", "ko")
    assert got == ["서울시는 예산을 늘렸다.", "시의회는 이를 승인했다."]


NEWS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "news"


def real_articles() -> list[tuple[str, str]]:
    """BBC bodies (paragraphs) and Korean articles of 2-12 paragraphs of consecutive news sentences."""
    bbc = NEWS / "bbc_news.jsonl"
    ko = NEWS / "ko-en-news-parallel" / "korean-english-park.dev.ko"
    if not (bbc.exists() and ko.exists()):
        pytest.skip("../shared/data/news is not here")
    with bbc.open(encoding="utf-8") as fh:
        out = [("en", json.loads(line)["body"]) for _, line in zip(range(20), fh, strict=False)]
    lines = [line.strip() for line in ko.read_text(encoding="utf-8").splitlines() if line.strip()]
    start = 0
    for n in range(16):
        count = 2 + n % 11
        paragraphs = [" ".join(lines[i : i + 2]) for i in range(start, start + 2 * count, 2)]
        out.append(("ko", "\n".join(paragraphs)))
        start += 2 * count
    return out


def test_sentences_with_a_limit_are_the_first_sentences_of_the_whole_split() -> None:
    for lang, body in real_articles():
        whole = sentences(body, lang)
        for limit in (0, 1, 4, 9):
            assert sentences(body, lang, limit) == whole[:limit], (lang, body[:80], limit)


def test_shingles() -> None:
    assert shingles("Bank holds interest rates", "en", k=3) == {"bank holds interest", "holds interest rates"}
    assert shingles("Bank rates", "en") == {"bank rates"}
    assert shingles("", "en") == set()
    ko = shingles("서울시 예산", "ko")
    assert all(len(s) == text.KO_CHAR_NGRAM for s in ko)
    assert "서울시예" in ko


def test_kiwi_leaves_out_the_multiword_dictionary_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    # The dictionary costs about 190 MB; without it a spaced name comes out as its words.
    monkeypatch.delenv("NEWSTALK_KIWI_MULTIWORD_DICT", raising=False)
    assert text._multiword_dict() is False
    assert nouns("저스틴 비버가 서울에서 공연했다", "ko")[:2] == ["저스틴", "비버"]
    monkeypatch.setenv("NEWSTALK_KIWI_MULTIWORD_DICT", "true")
    assert text._multiword_dict() is True
    monkeypatch.setenv("NEWSTALK_KIWI_MULTIWORD_DICT", "not-a-bool")
    assert text._multiword_dict() is False
