import numpy as np

from newstalk.stories.summary import extractive_summary, representative_title

EN_STORY = [
    [
        "The central bank raised its main interest rate by a quarter point to 4.5% on Thursday.",
        "It was the third increase this year as inflation stayed above target.",
        "The governor said further rises could not be ruled out if prices kept climbing.",
        "Separately, the bank published its annual report on staff diversity.",
    ],
    [
        "The central bank lifted interest rates by a quarter point to 4.5%, its third rise this year.",
        "Mortgage holders face higher monthly payments after the interest rate decision.",
        "Economists had expected the rate rise after inflation data last week.",
    ],
    [
        "Interest rates went up by a quarter point to 4.5% on Thursday, the central bank announced.",
        "The governor warned that inflation remains too high and rates may rise further.",
        "Weather: sunny spells are expected over the weekend.",
    ],
]

KO_STORY = [
    [
        "(서울=연합뉴스) 홍길동 기자 = 한국은행이 기준금리를 연 3.5%로 동결했다.",
        "한국은행 금융통화위원회는 물가 상승세가 둔화하고 있다고 판단했다.",
        "다만 가계부채 증가세는 여전히 우려된다고 밝혔다.",
    ],
    [
        "한국은행이 기준금리를 3.5%로 다시 동결했다.",
        "시장에서는 내년 상반기 기준금리 인하 가능성이 거론된다.",
        "한편 이날 서울은 맑은 날씨를 보였다.",
    ],
]


def test_english_summary_is_central_lead_first_and_not_redundant() -> None:
    summary = extractive_summary(EN_STORY, "en")
    assert len(summary) == 3
    assert "quarter point" in summary[0]
    # The three near-identical leads must not all be picked.
    assert sum("quarter point" in s for s in summary) == 1
    assert not any("Weather" in s or "diversity" in s for s in summary)


def test_korean_summary_strips_byline_and_prefers_leads() -> None:
    summary = extractive_summary(KO_STORY, "ko", n=2)
    assert len(summary) == 2
    assert summary[0].startswith("한국은행이 기준금리를")
    assert "기자" not in summary[0]
    assert not any("날씨" in s for s in summary)


def test_summary_with_embeddings_uses_them() -> None:
    story = [
        ["alpha sentence one is long enough here.", "beta sentence two is long enough here."],
        ["gamma sentence three is long enough here."],
    ]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.436]], dtype=np.float32)
    summary = extractive_summary(story, "en", n=1, embeddings=vectors)
    # gamma lies closest to the centroid of the three vectors.
    assert summary == ["gamma sentence three is long enough here."]


def test_summary_edge_cases() -> None:
    assert extractive_summary([], "en") == []
    assert extractive_summary([["Short."]], "en") == ["Short."]
    assert extractive_summary(EN_STORY, "en", n=0) == []


def test_representative_title_avoids_clickbait() -> None:
    titles = [
        "Will rates ever stop rising?!",
        "Central bank raises interest rates by a quarter point",
        "Central bank lifts interest rates a quarter point to 4.5%",
        "SHOCKING: you won't believe what the bank did",
    ]
    assert representative_title(titles).startswith("Central bank")


def test_representative_title_korean() -> None:
    titles = [
        "[속보] 한은 기준금리 동결",
        "한국은행, 기준금리 3.5% 동결",
        "한은 기준금리 동결…물가 둔화 판단",
        "충격! 금리 결국 동결?",
    ]
    assert representative_title(titles) in {"한국은행, 기준금리 3.5% 동결"}
    assert representative_title([]) == ""
