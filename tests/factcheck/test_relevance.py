"""The relevance gate: topic words beyond numbers and units, meaning, and anchors across scripts."""

from __future__ import annotations

from newstalk.factcheck.consistency import compare
from newstalk.factcheck.relevance import judge_relevance, stem, topic_words
from newstalk.stories.text import words


def topic(text: str, lang: str = "en") -> frozenset[str]:
    return topic_words(words(text, lang))


def test_topic_words_drop_numbers_and_units_and_stem() -> None:
    assert topic("Wheat harvest rose 1.2 percent this year") == {"wheat", "harvest", "rose"}
    assert stem("ends") == stem("ended") == stem("ending") == "end"
    assert stem("gas") == "gas"
    assert "명" not in topic("전문가 10명 가운데 5명이 인하를 예상했다", "ko")


def test_same_script_needs_shared_topic_words_not_just_a_unit() -> None:
    claim = topic("Wheat harvest rose 1.2 percent this year.")
    lunch = topic("Lunch boxes at convenience stores cost 5 percent more.")
    wheat = topic("Farmers harvested 1.2 percent more wheat this year.")
    assert not judge_relevance(claim, lunch, 0.86, True, None).same_event
    assert judge_relevance(claim, wheat, 0.9, True, None).same_event
    # Shared words with a distant meaning are not enough either.
    assert not judge_relevance(claim, wheat, 0.7, True, None).same_event
    rail = topic("Rail strike ends.")
    assert not judge_relevance(rail, topic("The code and data are public."), 0.79, True, None).same_event
    assert judge_relevance(
        rail, topic("The national rail strike ended on Tuesday."), 0.88, True, None
    ).same_event


def test_another_script_needs_a_shared_date_or_name_beside_meaning() -> None:
    claim = "At least 12 people died in floods in Gangwon province on Monday."
    ko = "월요일 강원도에서 발생한 홍수로 최소 12명이 숨졌다고 행정안전부가 밝혔다."
    report = compare(claim, ko, "en", "ko")
    assert judge_relevance(topic(claim), topic(ko, "ko"), 0.84, False, report).same_event
    assert not judge_relevance(topic(claim), topic(ko, "ko"), 0.78, False, report).same_event
    rates = "한국은행은 기준금리를 3.5%로 동결했다."
    assert not judge_relevance(
        topic(claim), topic(rates, "ko"), 0.85, False, compare(claim, rates, "en", "ko")
    ).same_event
