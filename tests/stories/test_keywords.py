import pytest

from newstalk.stories.keywords import keywords, merge_keywords

EN_ARTICLE = (
    "Volcano erupts near Reykjavik. A volcano erupted on Iceland's Reykjanes peninsula on Monday, "
    "sending lava towards the fishing town of Grindavik. The Icelandic Met Office said the volcano "
    "had been showing signs of activity for weeks. Residents of Grindavik were evacuated overnight "
    "and the Blue Lagoon spa closed. Lava flows reached the defensive walls built around Grindavik, "
    "the Met Office said. Flights at Keflavik airport were not affected by the volcano."
)

KO_ARTICLE = (
    "(서울=연합뉴스) 홍길동 기자 = 한국은행이 기준금리를 3.5%로 동결했다. "
    "한국은행 금융통화위원회는 물가 상승세가 둔화하고 있지만 가계부채 증가가 우려된다며 기준금리 동결을 결정했다. "
    "시장에서는 한국은행이 내년 상반기 기준금리를 인하할 것으로 전망했다. "
    "가계부채는 지난달 5조 원 늘었다."
)


def test_english_keywords_name_the_subject_without_overlap() -> None:
    result = keywords(EN_ARTICLE, "en", top=6)
    lowered = [k.lower() for k in result]
    assert len(result) <= 6
    assert any("grindavik" in k for k in lowered)
    assert any("volcano" in k for k in lowered)
    # No phrase shares a word with another chosen phrase.
    seen: set[str] = set()
    for phrase in lowered:
        words = set(phrase.split())
        assert not (words & seen), result
        seen |= words


def test_english_keywords_skip_stopwords() -> None:
    result = keywords(EN_ARTICLE, "en")
    assert not {"the", "said", "on", "and"} & {k.lower() for k in result}


def test_korean_keywords_are_nouns_without_byline() -> None:
    result = keywords(KO_ARTICLE, "ko", top=6)
    assert result[:2] == ["한국은행", "기준금리"]
    assert "가계부채" in result or "가계" in result
    assert not {"홍길동", "연합뉴스", "기자", "서울"} & set(result)


def test_empty_and_zero_top() -> None:
    assert keywords("", "en") == []
    assert keywords("   ", "ko") == []
    assert keywords(EN_ARTICLE, "en", top=0) == []


def test_unknown_method_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        keywords(EN_ARTICLE, "en", method="tfidf")


def test_merge_keywords_votes_by_rank() -> None:
    merged = merge_keywords(
        [["volcano", "Grindavik", "lava"], ["Grindavik", "volcano"], ["Grindavik"]], top=2
    )
    assert merged == ["Grindavik", "volcano"]


def test_a_repeated_two_kilobyte_article_keeps_its_keywords() -> None:
    # Repetition must not change what the article is about (speed: benchmarks/stories.py).
    text = (EN_ARTICLE + " ") * 5
    assert 1800 < len(text) < 2600
    found = keywords(text, "en")
    assert {"Grindavik", "Met Office"} <= set(found)
    assert found == keywords(text, "en")
