"""Scripts for the ear: structure, coverage and verdict lines, Korean register, and real durations."""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import replace

import pytest

from newstalk.briefings.scripts import (
    FIRST_MAX_S,
    ClaimFact,
    StoryInput,
    conversation_briefing,
    daily_briefing,
    first_story_script,
    polite_ko,
    script_seconds,
    story_script,
)
from newstalk.speech.engines import EspeakEngine, PiperEngine, TTSEngine
from newstalk.speech.render import render_script

RATES_EN = StoryInput(
    story_id=1,
    version=3,
    lang="en",
    title="Central bank raises interest rates to 3.5% to curb inflation",
    summary=[
        "The central bank raised its benchmark interest rate by a quarter point to 3.5% on Thursday, "
        "its third increase this year, saying inflation remained too high.",
        "Markets had expected the move, and the currency barely changed after the announcement.",
    ],
    leads=[
        [
            "LONDON (Reuters) - The bank's governor told reporters the decision was unanimous and that "
            "the committee would watch wage growth closely over the coming months.",
            "Consumer prices rose 4.1% in the year to October, well above the bank's 2% target.",
        ],
        [
            "Economists said one more increase was likely before the summer, though some warned that "
            "higher borrowing costs were already weighing on the housing market.",
            "Mortgage approvals fell for a fourth month in a row in September.",
            "The central bank raised its benchmark interest rate by a quarter point to 3.5% on Thursday.",
        ],
        [
            "Business groups criticised the decision, saying small firms were struggling with the cost of "
            "loans and energy bills at the same time.",
            "The government said it supported the bank's independence and its efforts to bring prices down.",
            "Retail sales have been flat since the spring, according to official figures.",
        ],
    ],
    outlet_count=14,
    claims=[
        ClaimFact(
            1, "Consumer prices rose 4.1% in the year to October.", "en", "supported", 0.9, 0.8, ("number",)
        ),
        ClaimFact(2, "Inflation was 4.1% in October.", "en", "supported", 0.8, 0.6, ("number",)),
        ClaimFact(3, "Prices rose 4.1% over the year.", "en", "supported", 0.8, 0.5, ("number",)),
        ClaimFact(
            4, "Consumer prices rose 4.4% in the year to October.", "en", "refuted", 0.7, 0.5, ("number",)
        ),
    ],
)

RATES_KO = StoryInput(
    story_id=2,
    version=1,
    lang="ko",
    title="한국은행, 기준금리 3.5%로 인상…물가 잡기 총력",
    summary=[
        "한국은행이 목요일 기준금리를 0.25%포인트 올려 연 3.5%로 인상했다.",
        "올해 들어 세 번째 인상으로, 물가 상승세가 여전히 높다는 판단에 따른 것이다.",
    ],
    leads=[
        [
            "이창용 한국은행 총재는 기자간담회에서 이번 결정이 만장일치로 이뤄졌다고 밝혔다.",
            "10월 소비자물가 상승률은 4.1%로 한국은행의 목표치인 2%를 크게 웃돌았다.",
        ],
        [
            "전문가들은 연말까지 한 차례 더 인상할 가능성이 크다고 내다봤다.",
            "다만 대출 금리가 오르면서 주택 시장이 위축되고 있다는 우려도 나온다.",
            "주택담보대출 승인 건수는 9월까지 넉 달 연속 줄었다.",
        ],
        [
            "중소기업들은 대출 이자와 에너지 비용 부담이 동시에 커지고 있다며 우려를 나타냈다.",
            "정부는 한국은행의 결정을 존중한다며 물가 안정을 위해 협력하겠다고 밝혔다.",
        ],
    ],
    outlet_count=6,
    claims=[
        ClaimFact(1, "10월 소비자물가 상승률은 4.1%였다.", "ko", "supported", 0.9, 0.8, ("number",)),
        ClaimFact(2, "소비자물가가 4.4% 올랐다.", "ko", "refuted", 0.7, 0.5, ("number",)),
    ],
)


@pytest.fixture(scope="module")
def engines() -> dict[str, TTSEngine]:
    return {"piper": PiperEngine(), "espeak": EspeakEngine()}


def test_story_script_has_headline_what_happened_coverage_and_verdict() -> None:
    script = story_script(RATES_EN)
    text = script.text
    assert script.lines[0].text == "Central bank raises interest rates to 3.5% to curb inflation."
    assert "quarter point to 3.5%" in text
    assert "Fourteen outlets are covering this story." in text
    assert "Three outlets confirm the figure; one reports a different number." in text
    # The top claim was already said in "what happened", so the verdict refers to it instead of quoting it.
    assert text.endswith("Our fact check of the key claim: other reporting supports this.")
    assert "(Reuters)" not in text  # wire datelines are not read out
    # A sentence another outlet repeats is said once.
    assert text.count("raised its benchmark interest rate") == 1
    assert {line.chapter for line in script.lines} == {RATES_EN.title}
    assert script.content_hash() == story_script(RATES_EN).content_hash()


def test_korean_story_script_speaks_in_the_polite_register() -> None:
    text = story_script(RATES_KO).text
    assert "이 소식은 6개 언론사가 보도했습니다." in text
    assert "1곳의 수치는 다른 보도로 확인됐고, 1곳은 다른 수치를 보도했습니다." in text
    assert "연 3.5%로 인상했습니다." in text
    assert "인상했다." not in text
    assert "팩트체크 결과입니다." in text


def test_story_without_claims_has_no_verdict_and_one_outlet_line() -> None:
    lone = StoryInput(
        9,
        1,
        "en",
        "Late penalty sends City into the cup final",
        ["A penalty in the 89th minute gave City a 2-1 win."],
    )
    text = story_script(lone).text
    assert "only one outlet has reported this" in text
    assert "Fact check" not in text
    assert "confirm" not in text


def test_coverage_names_up_to_four_outlets_the_voice_can_say() -> None:
    four = replace(RATES_EN, outlet_count=4, outlets=["Wire", "Daily", "한국일보", "Times", "Wire"])
    assert (
        "Four outlets are covering this story, among them Wire, Daily and Times." in story_script(four).text
    )
    six = replace(RATES_EN, outlet_count=6, outlets=["A1", "B2", "C3", "D4", "E5", "F6"])
    assert "Six outlets are covering this story, among them A1, B2, C3 and D4." in story_script(six).text
    two = replace(RATES_EN, outlet_count=2, outlets=["Wire", "Daily"])
    assert "Two outlets are covering this story, Wire and Daily." in story_script(two).text
    ko = replace(RATES_KO, outlet_count=3, outlets=["한국일보", "연합뉴스", "KBS"])
    assert "한국일보, 연합뉴스, KBS, 이렇게 3개 언론사가 이 소식을 보도했습니다." in story_script(ko).text
    ko_more = replace(ko, outlet_count=6)
    assert "한국일보, 연합뉴스, KBS 등 6개 언론사가 이 소식을 보도했습니다." in story_script(ko_more).text
    lone = replace(RATES_EN, outlet_count=1, outlets=["Wire"], claims=[])
    assert "So far, only Wire has reported this." in story_script(lone).text


def test_a_contradicted_claim_quotes_the_outlet_that_contradicts_it() -> None:
    refuted = ClaimFact(
        4,
        "Consumer prices rose 4.4% in the year to October.",
        "en",
        "refuted",
        0.95,
        0.99,
        ("number",),
        counter_outlet="Times",
        counter_quote="Consumer prices rose 4.1% in the year to October, the statistics office said.",
    )
    text = story_script(replace(RATES_EN, claims=[refuted])).text
    assert text.endswith(
        "other reports contradict this. Times reports: "
        "Consumer prices rose 4.1% in the year to October, the statistics office said."
    )
    ko_claim = ClaimFact(
        2,
        "소비자물가가 4.4% 올랐다.",
        "ko",
        "refuted",
        0.95,
        0.99,
        ("number",),
        counter_outlet="연합뉴스",
        counter_quote="10월 소비자물가 상승률은 4.1%였다.",
    )
    ko = story_script(replace(RATES_KO, claims=[ko_claim])).text
    assert ko.endswith(
        "이 내용은 다른 보도와 어긋납니다. 연합뉴스의 보도는 이렇습니다. 10월 소비자물가 상승률은 4.1%였습니다."
    )
    # Supported claims quote no one against them.
    assert "reports:" not in story_script(RATES_EN).text


def test_a_long_single_article_story_reads_on_to_the_aim_and_stays_under_the_maximum() -> None:
    # Thirty different sentences (few words in common, so none repeats another).
    words = [
        "river",
        "bridge",
        "council",
        "engineers",
        "pumps",
        "sandbags",
        "rain",
        "forecast",
        "villages",
        "roads",
        "schools",
        "farmers",
        "insurers",
        "volunteers",
        "police",
        "mayor",
        "minister",
        "budget",
        "repairs",
        "railway",
        "harbour",
        "fields",
        "cattle",
        "power",
        "hospital",
        "shelters",
        "drivers",
        "tourists",
        "shops",
        "church",
        "market",
        "museum",
        "stadium",
        "airport",
        "ferry",
        "canal",
        "weekend",
        "morning",
        "evening",
        "warning",
        "levels",
        "barrier",
        "gauges",
        "homes",
        "families",
        "children",
        "students",
        "workers",
    ]
    rng = random.Random(7)
    body = [f"{' '.join(rng.sample(words, 11)).capitalize()} in district {n}." for n in range(1, 31)]
    story = StoryInput(7, 1, "en", "Flood defences hold as river falls", body[:2], [body[:4]], body=body)
    script = story_script(story)
    assert 60 <= script_seconds(script) <= 90
    assert body[9] in script.text  # read past the lead, in order
    assert body[29] not in script.text  # not past the time there is
    short = StoryInput(8, 1, "en", "Flood defences hold", body[:1], [body[:1]], body=body[:1])
    assert script_seconds(story_script(short)) < 30  # nothing is invented to fill time


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("인상했다.", "인상했습니다."),
        ("전망이다.", "전망입니다."),
        ("한다.", "합니다."),
        ("먹는다.", "먹습니다."),
        ("높다.", "높습니다."),
        ("길다.", "깁니다."),
        ("Hello.", "Hello."),
    ],
)
def test_polite_ko(written: str, spoken: str) -> None:
    assert polite_ko(written) == spoken


def test_briefings_frame_stories_in_the_characters_style() -> None:
    solo = daily_briefing([RATES_EN, RATES_KO], voice="host", lang="en", date="2026-11-27")
    assert solo.lines[0].text.startswith("Hi there, and welcome back!")
    assert "November 27" in solo.lines[0].text
    assert "one story" in solo.lines[0].text
    assert solo.lines[-1].text == "That's it from me. Talk to you soon!"
    assert solo.story_ids == (1,)
    talk = conversation_briefing(
        [RATES_EN, RATES_EN], voices=["anchor", "host", "reporter"], lang="en", date="2026-11-27"
    )
    speakers = [line.speaker for line in talk.lines]
    assert set(speakers) == {"anchor", "host", "reporter"}
    # Turns alternate: nobody speaks twice in a row.
    assert all(a != b for a, b in itertools.pairwise(speakers))
    assert talk.lines[-1].text in {
        "That's the news for now. Thank you for listening.",
        "That's it from me. Talk to you soon!",
    }
    ko = conversation_briefing([RATES_KO], voices=["anchor", "host"], lang="ko", date="2026-11-27")
    assert ko.lines[0].text.endswith("11월 27일, 주요 뉴스 1건을 전해 드립니다.")
    with pytest.raises(ValueError, match="two or three"):
        conversation_briefing([RATES_EN], voices=["anchor"], lang="en", date="2026-11-27")


@pytest.mark.parametrize(
    ("story", "voice"), [(RATES_EN, "anchor"), (RATES_KO, "anchor"), (RATES_EN, "reporter")]
)
def test_story_script_lasts_60_to_90_seconds_when_synthesized(
    engines: dict[str, TTSEngine], story: StoryInput, voice: str
) -> None:
    script = story_script(story, voice)
    started = time.perf_counter()
    rendered = render_script(engines, script)
    took = time.perf_counter() - started
    print(
        f"{story.lang} {voice}: {rendered.duration_s:.1f} s audio, estimated {script_seconds(script):.1f} s, "
        f"synthesized in {took:.1f} s"
    )
    assert 60.0 <= rendered.duration_s <= 90.0
    # The estimate the script builder budgets with is within 15% of the real length.
    assert abs(script_seconds(script) - rendered.duration_s) <= 0.15 * rendered.duration_s
    assert rendered.chapters[0].title == story.title
    assert rendered.cues[0].text == script.lines[0].text


def test_the_first_edition_is_headline_summary_and_check() -> None:
    for story in (RATES_EN, RATES_KO):
        full, first = story_script(story), first_story_script(story)
        assert script_seconds(first) <= FIRST_MAX_S < script_seconds(full)
        assert first.lines[0] == full.lines[0]  # the headline
        assert story.summary[0].split()[1] in first.lines[1].text  # the summary first
        assert first.kind == full.kind == "story"
        assert first.story_ids == full.story_ids
    text = first_story_script(RATES_EN).text
    assert "outlets are covering" not in text  # who reports it waits for the full script
    assert "Fact check." in text  # the check is said
