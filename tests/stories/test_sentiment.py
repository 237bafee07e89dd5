import pytest

from newstalk.stories.sentiment import ko_lexicon, sentiment


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("대표팀이 결승에서 승리해 금메달을 땄다.", 1),
        ("공장 화재로 근로자 3명이 숨졌다.", -1),
        ("수출이 크게 증가하며 무역수지가 흑자로 돌아섰다.", 1),
        ("주가가 폭락하면서 투자자들의 불안이 커졌다.", -1),
        ("정부는 오늘 정례 회의를 열었다.", 0),
    ],
)
def test_korean_polarity(text: str, sign: int) -> None:
    score = sentiment(text, "ko")
    if sign == 0:
        assert score == 0.0
    else:
        assert score * sign > 0.2, score


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("경기가 좋다.", "경기가 좋지 않다."),
        ("실적이 나쁘다.", "실적이 나쁘지 않았다."),
        ("수출이 증가했다.", "수출이 증가하지 못했다."),
        ("소식이 좋았다.", "안 좋은 소식이 전해졌다."),
        ("홍수 피해가 컸다.", "다행히 피해는 없었다."),
    ],
)
def test_korean_negation_flips_sign(plain: str, negated: str) -> None:
    a, b = sentiment(plain, "ko"), sentiment(negated, "ko")
    assert a * b < 0, (a, b)


def test_english_vader_with_news_terms() -> None:
    assert sentiment("The team won the championship in a thrilling final.", "en") > 0.5
    assert sentiment("Shares plunged after the company reported huge losses.", "en") < 0
    assert sentiment("The committee met on Tuesday.", "en") == 0.0


def test_english_averages_sentences() -> None:
    mixed = sentiment("The rescue was a wonderful success. Two people died in the fire.", "en")
    assert -0.5 < mixed < 0.5


def test_range_and_empty() -> None:
    assert sentiment("", "en") == 0.0
    assert sentiment("", "ko") == 0.0
    very_bad = "전쟁 참사 테러 살인 폭발 사망 붕괴 절망." * 3
    assert -1.0 <= sentiment(very_bad, "ko") < -0.9


def test_lexicon_is_a_few_hundred_scored_forms() -> None:
    lexicon = ko_lexicon()
    assert 300 <= len(lexicon) <= 1000
    assert all(-3.0 <= v <= 3.0 and v != 0 for v in lexicon.values())
    assert lexicon["좋"] > 0 > lexicon["나쁘"]
