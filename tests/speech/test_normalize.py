"""Text normalization for speech: one table of cases per rule and language, plus the real corpus."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from newstalk.speech.normalize import normalize_for_speech
from newstalk.speech.normalize_en import cardinal, is_pronounceable, ordinal, year
from newstalk.speech.normalize_ko import native, read_hanja, sino

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/data/news/ko-en-news-parallel"

EN_CASES = [
    # cardinals, decimals, ordinals, negatives
    ("It has 8,192 processors.", "It has eight thousand one hundred ninety-two processors."),
    ("a rate of 3.5", "a rate of three point five"),
    ("batting .268", "batting point two six eight"),
    ("the 21st century", "the twenty-first century"),
    ("his 99th win", "his ninety-ninth win"),
    ("it fell to -5", "it fell to minus five"),
    ("a 4,500-year-old pyramid", "a four thousand five hundred-year-old pyramid"),
    # years and decades
    ("in 1998", "in nineteen ninety-eight"),
    ("by 2026", "by twenty twenty-six"),
    ("in 2004.", "in two thousand four."),
    ("in 1905", "in nineteen oh five"),
    ("the 1990s", "the nineteen nineties"),
    ("in their 20's", "in their twenties"),
    ("from 2019-2021", "from twenty nineteen to twenty twenty-one"),
    # money
    ("a $2.5bn loss", "a two point five billion dollars loss"),
    ("£300m", "three hundred million pounds"),
    ("€1.2 trillion", "one point two trillion euros"),
    ("$40", "forty dollars"),
    ("$1", "one dollar"),
    ("US$40", "forty U S dollars"),
    ("₩3,500", "three thousand five hundred won"),
    ("$999.99", "nine hundred ninety-nine dollars and ninety-nine cents"),
    ("$5-10 million", "five to ten million dollars"),
    ("$110 million", "one hundred ten million dollars"),
    ("¥500", "five hundred yen"),
    # percentages and ranges
    ("up 2.5%", "up two point five percent"),
    ("10-15%", "ten to fifteen percent"),
    ("10-15 people", "ten to fifteen people"),
    # dates
    ("Nov. 26, 2026", "November twenty-sixth, twenty twenty-six"),
    ("on 26 November", "on the twenty-sixth of November"),
    ("11/26/2026", "November twenty-sixth, twenty twenty-six"),
    ("26/11/2026", "November twenty-sixth, twenty twenty-six"),
    ("2026-11-26", "November twenty-sixth, twenty twenty-six"),
    ("the August 8-24 Olympics", "the August eighth to twenty-fourth Olympics"),
    ("in March 2026", "in March twenty twenty-six"),
    ("the 9/11 attacks", "the nine eleven attacks"),
    # times
    ("at 9:30 a.m.", "at nine thirty A M"),
    ("at 14:05", "at fourteen oh five"),
    ("at 10:00", "at ten o'clock"),
    ("at 9AM", "at nine A M"),
    ("at 10 p.m. sharp", "at ten P M sharp"),
    # units
    ("5 km", "five kilometers"),
    ("1 km", "one kilometer"),
    ("20°C", "twenty degrees Celsius"),
    ("120 km/h", "one hundred twenty kilometers per hour"),
    ("75 mph", "seventy-five miles per hour"),
    ("300mm of rain", "three hundred millimeters of rain"),
    ("a 99-km road", "a ninety-nine-kilometer road"),
    ("3 kg", "three kilograms"),
    # abbreviations
    ("Mr. Smith", "Mister Smith"),
    ("Dr. Jones", "Doctor Jones"),
    ("St. Louis", "Saint Louis"),
    ("Main St.", "Main Street"),
    ("IBM Corp., which", "I B M Corporation, which"),
    ("Apple Inc. said", "Apple Incorporated said"),
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("dogs, cats, etc. and", "dogs, cats, et cetera and"),
    ("Ali vs. Frazier", "Ali versus Frazier"),
    ("No. 5", "number five"),
    # acronyms
    ("the FBI said", "the F B I said"),
    ("NASA and NATO", "NASA and NATO"),
    ("UNESCO sites", "UNESCO sites"),
    ("the U.S. said", "the U S said"),
    ("sent to U.S.", "sent to U S."),
    ("the CEOs", "the C E O's"),
    ("World War II", "World War Two"),
    ("Elizabeth II", "Elizabeth the second"),
    ("the NW1 area", "the N W one area"),
    ("LONDON, England (CNN) -- The", "London, England, C N N, The"),
    # URLs, emails, symbols, parentheses
    ("see example.com today", "see example dot com today"),
    ("visit www.acmilan.com.", "visit W W W dot acmilan dot com."),
    ("read https://example.com/a/b now", "read now"),
    ("write to desk@example.com", "write to desk at example dot com"),
    ("AT&T", "A T and T"),
    ("Light+Building", "Light plus Building"),
    ("#1 hit", "number one hit"),
    ("the party (ZANU) won", "the party, ZANU, won"),
    ("jalape&ntilde;os", "jalapeños"),
]

KO_CASES = [
    # Sino-Korean numbers with units and Korean numeral units
    ("1억1천만 달러", "일억 천만 달러"),
    ("3,500원", "삼천오백 원"),
    ("12조3천억 번의 계산", "십이조 삼천억 번의 계산"),
    ("1만8500메가와트", "만 팔천오백 메가와트"),
    ("57억1000만위안을", "오십칠억 천만 위안을"),
    ("2.5억", "이억 오천만"),
    ("1,000배나", "천 배나"),
    ("8,192개의", "팔천백구십이 개의"),
    ("제2의", "제이의"),
    ("29연승", "이십구 연승"),
    # native counters
    ("3명", "세 명"),
    ("5개", "다섯 개"),
    ("10살", "열 살"),
    ("20명", "스무 명"),
    ("21개", "스물한 개"),
    ("28대의 트럭", "스물여덟 대의 트럭"),
    ("1시간", "한 시간"),
    ("3차례", "세 차례"),
    ("1번째", "첫 번째"),
    ("2번째다.", "두 번째다."),
    ("1세트도", "한 세트도"),
    ("3 명이", "세 명이"),
    ("시신 2구가", "시신 두 구가"),
    # Sino where native would be wrong
    ("3개월", "삼 개월"),
    ("20개국", "이십 개국"),
    ("80세가", "팔십 세가"),
    ("20대에서 70대", "이십 대에서 칠십 대"),
    ("200여명이", "이백여 명이"),
    ("20여명은", "이십여 명은"),
    ("150명", "백오십 명"),
    ("1위를", "일 위를"),
    # dates and times
    ("2026년 11월 26일", "이천이십육 년 십일 월 이십육 일"),
    ("6월", "유월"),
    ("10월", "시월"),
    ("1992년에", "천구백구십이 년에"),
    ("2026.11.26", "이천이십육 년 십일 월 이십육 일"),
    ("2시 30분", "두 시 삼십 분"),
    ("14:05", "십사 시 오 분"),
    ("9:30", "아홉 시 삼십 분"),
    ("9/11 테러", "구일일 테러"),
    ("2006.02 원문", "이천육 년 이 월 원문"),
    # ranges
    ("3~5명", "세 명에서 다섯 명"),
    ("10-20%", "십 퍼센트에서 이십 퍼센트"),
    ("30%~50%", "삼십 퍼센트에서 오십 퍼센트"),
    ("24~26일", "이십사 일에서 이십육 일"),
    ("2019-2021년", "이천십구 년에서 이천이십일 년"),
    ("6-4로 이겼다", "육 대 사로 이겼다"),
    ("34 대 13으로", "삼십사 대 십삼으로"),
    # money with symbols, percentages
    ("$2.5bn", "이십오억 달러"),
    ("$40", "사십 달러"),
    ("US$ 232.6", "이백삼십이 점 육 달러"),
    ("€1.2 trillion", "일조 이천억 유로"),
    ("2.5%", "이 점 오 퍼센트"),
    ("9%포인트", "구 퍼센트포인트"),
    ("3%p", "삼 퍼센트포인트"),
    # units
    ("5km", "오 킬로미터"),
    ("3kg", "삼 킬로그램"),
    ("30℃", "삼십 도"),
    ("100km/h", "시속 백 킬로미터"),
    ("900mm이상의", "구백 밀리미터이상의"),
    ("975 m²의", "구백칠십오 제곱미터의"),
    # Latin acronyms and words
    ("AI", "에이아이"),
    ("IMF", "아이엠에프"),
    ("UN", "유엔"),
    ("FTA", "에프티에이"),
    ("IOC가", "아이오씨가"),
    ("NATO와", "나토와"),
    ("조지 W. 부시", "조지 더블유 부시"),
    ("U.S. 정부", "미국 정부"),
    ("ASCI White는", "아스키 화이트는"),
    ("AD 117년", "서기 백십칠 년"),
    ("BAGHDAD, Iraq", "바그다드, Iraq"),
    ("KATHMANDU, Nepal", "Kathmandu, Nepal"),
    ("HONG KONG (CNN) --", "홍콩, 씨엔엔"),
    ("NW1에", "엔더블유일에"),
    # Hanja
    ("美 대통령", "미국 대통령"),
    ("中 정부", "중국 정부"),
    ("北 핵실험", "북한 핵실험"),
    ("與 野 합의", "여당 야당 합의"),
    ("靑 檢 軍", "청와대 검찰 군"),
    ("에너지省", "에너지성"),
    ("IBM社가", "아이비엠사가"),
    ("新疆維吾爾", "신강유오이"),
    ("李 총리", "이 총리"),
    # parentheses
    ("반도체(半導體)", "반도체"),
    ("세계무역기구(WTO) 회의", "세계무역기구 회의"),
    ("식품의약국(Food and Drug Administration, FDA)은", "식품의약국은"),
    ("카라지치(63)는", "카라지치 육십삼 세는"),
    ("29일(현지시간) 발표", "이십구 일, 현지시간, 발표"),
    # counters read by meaning: 대 and 번 count (native) or rank and name (Sino)
    ("일본의 3대 은행", "일본의 삼대 은행"),
    ("세계 5대 강국", "세계 오대 강국"),
    ("4대강 사업", "사대강 사업"),
    ("100대 기업", "백대 기업"),
    ("3대째 가업", "삼대째 가업"),
    ("3대 차량이 충돌했다", "세 대 차량이 충돌했다"),
    ("차량 3대 충돌", "차량 세 대 충돌"),
    ("버스 2대.", "버스 두 대."),
    ("3대 가운데", "세 대 가운데"),
    ("2번 출구", "이 번 출구"),
    ("1번 타자", "일 번 타자"),
    ("3번 시도했다", "세 번 시도했다"),
    ("3번 이상", "세 번 이상"),
    # Latin acronyms spelled with letter names; a digit and a capital said in English
    ("NAACP 대표", "엔에이에이씨피 대표"),
    ("3G 휴대전화", "쓰리지 휴대전화"),
    ("5G서비스", "파이브지서비스"),
    ("G8 정상회의", "지에이트 정상회의"),
    ("G20 회의", "지트웬티 회의"),
    ("A4 용지", "에이포 용지"),
    # numeric dates, quarters, fractions
    ("2026-12-04에 발표", "이천이십육 년 십이 월 사 일에 발표"),
    ("2026.12.4 발표", "이천이십육 년 십이 월 사 일 발표"),
    ("2026. 12. 4. 발표", "이천이십육 년 십이 월 사 일 발표"),
    ("12/4 발표", "십이 월 사 일 발표"),
    ("12월4일", "십이 월 사 일"),
    ("1분기 실적", "일 분기 실적"),
    ("3/4분기", "삼사분기"),
    ("2/3 이상", "삼분의 이 이상"),
    ("2/3가 찬성", "삼분의 이가 찬성"),
    ("15/40", "사십분의 십오"),
    # percentage points however they are written
    ("3.5% 포인트", "삼 점 오 퍼센트포인트"),
    ("0.25%P 인상", "영 점 이오 퍼센트포인트 인상"),
    ("1~2%포인트", "일 퍼센트포인트에서 이 퍼센트포인트"),
    # URLs and symbols
    ("www.example.com 참고", "더블유더블유더블유 닷 example 닷 com 참고"),
    ("##http://article.joins.com/a.asp?x=1 기사", "기사"),
    ("R&D 투자", "알 앤드 디 투자"),
]


@pytest.mark.parametrize(("text", "expected"), EN_CASES)
def test_english(text: str, expected: str) -> None:
    assert normalize_for_speech(text, "en") == expected


@pytest.mark.parametrize(("text", "expected"), KO_CASES)
def test_korean(text: str, expected: str) -> None:
    assert normalize_for_speech(text, "ko") == expected


def test_other_languages_get_the_english_rules() -> None:
    assert normalize_for_speech("Le 3 mai, 25%", "fr") == "Le three mai, twenty-five percent"


def test_euc_kr_mojibake_is_repaired() -> None:
    assert (
        normalize_for_speech("¡°Yes,¡± McCain¡¯s ¢æ114", "en") == "“Yes,” McCain’s one hundred fourteen euros"
    )


@pytest.mark.parametrize(
    "text", ["", "   ", "$", "%%", "1" * 40, "£.99$", "12,34,5.6.7", "~-~", "9조억원", "(((", "a$5"]
)
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_odd_input_never_raises(text: str, lang: str) -> None:
    assert isinstance(normalize_for_speech(text, lang), str)


@pytest.mark.parametrize(
    "text", ["1" * 3000, "1억" * 500, "9-" * 1000, "A." * 1000, "1,1" * 1000, "$1-" * 500]
)
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_long_runs_do_not_backtrack(text: str, lang: str) -> None:
    started = time.perf_counter()
    normalize_for_speech(text, lang)
    assert time.perf_counter() - started < 2.0


def test_full_width_and_compat_forms_are_folded() -> None:
    assert normalize_for_speech("１２명", "ko") == "열두 명"
    assert normalize_for_speech("5㎞ ㅋㅋ", "ko") == "오 킬로미터 ㅋㅋ"


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "영"),
        (10, "십"),
        (11, "십일"),
        (10000, "만"),
        (10**8, "일억"),
        (110_000_000, "일억 천만"),
        (12345, "만 이천삼백사십오"),
    ],
)
def test_sino(n: int, expected: str) -> None:
    assert sino(n) == expected


@pytest.mark.parametrize(
    ("n", "expected"), [(1, "한"), (2, "두"), (20, "스무"), (24, "스물네"), (99, "아흔아홉")]
)
def test_native(n: int, expected: str) -> None:
    assert native(n) == expected


@pytest.mark.parametrize(
    ("n", "words"),
    [(0, "zero"), (13, "thirteen"), (40, "forty"), (101, "one hundred one"), (1_000_000, "one million")],
)
def test_cardinal(n: int, words: str) -> None:
    assert cardinal(n) == words


@pytest.mark.parametrize(
    ("n", "words"), [(1, "first"), (12, "twelfth"), (20, "twentieth"), (103, "one hundred third")]
)
def test_ordinal(n: int, words: str) -> None:
    assert ordinal(n) == words


@pytest.mark.parametrize(
    ("n", "words"), [(1900, "nineteen hundred"), (2000, "two thousand"), (2010, "twenty ten")]
)
def test_year(n: int, words: str) -> None:
    assert year(n) == words


@pytest.mark.parametrize(
    ("word", "said"),
    [("NASA", True), ("NATO", True), ("LONDON", True), ("FBI", False), ("NTSB", False), ("USGS", False)],
)
def test_acronym_heuristic(word: str, said: bool) -> None:
    assert is_pronounceable(word) is said


def test_hanja_initial_sound_rule() -> None:
    assert read_hanja("李", alone=True) == "이"
    assert read_hanja("歷史", alone=True) == "역사"
    assert read_hanja("歷", alone=False) == "력"


# Output must be speakable: no digits, currency symbols or percent signs.
LEFTOVER = re.compile(r"[0-9$€£¥₩₹¢%]")
# Capital letter runs left in Korean output would be spelled in English or not at all.
# None are allowed: known words are rewritten, pronounceable capitals (datelines such as
# BAGHDAD) become title case, and every other run is spelled with Hangul letter names.
KO_ACRONYM = re.compile(r"(?<![A-Za-z])[A-Z]{2,}(?![a-z])")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_corpus_has_no_unspoken_leftovers(lang: str) -> None:
    path = CORPUS / f"korean-english-park.dev.{lang}"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1000
    leftovers = []
    for line in lines:
        spoken = normalize_for_speech(line, lang)
        if LEFTOVER.search(spoken) or (lang == "ko" and KO_ACRONYM.search(spoken)):
            leftovers.append((line, spoken))
    assert leftovers == []
