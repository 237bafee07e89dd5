"""Structured facts in one sentence, Korean or English: what a consistency check compares.

``extract(text, lang)`` finds quantities (value, unit, character span), dates and times,
named entities, and cue words for negation, direction (up/down), attribution, quotes,
comparison and cause. Everything is rule-based: regular expressions over the original
text (so spans index it exactly), plus Kiwi morphemes for Korean entities, negation and
direction verbs. Results are cached per ``(text, lang)``. An English sentence costs about
0.4 ms; an unseen Korean sentence about 1.5 ms, nearly all of it Kiwi (callers that already
ran Kiwi's sentence splitter pass its tokens to ``extract_with_tokens``).

Units are normalized so that they compare across languages: "명"/"people"/"dead" are
``person``, "달러"/"$"/"USD" are ``usd``, "원"/"won" are ``krw``, "%"/"퍼센트"/"percent" are
``percent``; a number with no recognised unit has unit ``""``. Korean numbers with
만/억/조 multipliers, including mixed forms such as "1억1천만" (110,000,000), and
English scale words ("$2.5bn", "2.5 billion dollars", "twelve") become plain floats.
A bare integer between 1800 and 2100 with no unit is read as a year, not a quantity.

Language: "ko*" selects the Korean rules, any other non-empty code the English rules,
and "" picks Korean when the text contains Hangul. Both rule sets read digits, symbols,
month names and quotes in either language, because Korean news writes "$" and
"2024-03-05" too.

Known limits: no coreference, no scope for negation (a "not" anywhere counts), ordinal
and spelled-out Korean numerals beyond 한/두/세/네/다섯... with a counter are not read,
"pound" is read as the currency, and English entities are capitalized word sequences,
so a capitalized sentence-initial common word can slip in.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from newstalk.kit.numwords import EN_ONES, EN_TENS
from newstalk.stories.text import STOPWORDS, kiwi, normalize_text

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def resolve_lang(text: str, lang: str) -> str:
    """ "ko" or "en": the rule set ``extract`` uses for ``lang`` (empty ``lang``: Hangul decides)."""
    code = lang.strip().lower()
    if code.startswith("ko"):
        return "ko"
    if code:
        return "en"
    return "ko" if _HANGUL.search(text) else "en"


def _fmt(value: float) -> str:
    return f"{value:.15g}" if abs(value) < 1e15 else f"{value:.6g}"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with its normalized unit; ``high`` is set for ranges ("10-12": value 10, high 12).

    ``precision`` is the place value of the last digit written ("1.1 billion": 1e8), so two
    mentions that round to each other compare equal; ``approx`` marks "about", "more than",
    "약", "여" and the like.
    """

    value: float
    unit: str
    start: int
    end: int
    high: float | None = None
    precision: float = 1.0
    approx: bool = False

    @property
    def upper(self) -> float:
        return self.value if self.high is None else self.high

    def label(self) -> str:
        number = _fmt(self.value) if self.high is None else f"{_fmt(self.value)}-{_fmt(self.high)}"
        return f"{number} {self.unit}" if self.unit else number


@dataclass(frozen=True, slots=True)
class DateRef:
    """A calendar date, time, weekday or relative marker ("last_month") found in the text."""

    start: int
    end: int
    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None
    hour: int | None = None
    minute: int | None = None
    relative: str = ""

    def label(self) -> str:
        parts: list[str] = []
        if self.year is not None or self.month is not None or self.day is not None:
            year = f"{self.year:04d}" if self.year is not None else "????"
            if self.month is None and self.day is None:
                parts.append(year)
            elif self.day is None:
                parts.append(f"{year}-{self.month:02d}")
            else:
                month = f"{self.month:02d}" if self.month is not None else "??"
                parts.append(f"{year}-{month}-{self.day:02d}")
        if self.weekday is not None:
            parts.append(_WEEKDAY_NAMES[self.weekday])
        if self.hour is not None:
            parts.append(f"{self.hour:02d}:{self.minute or 0:02d}")
        if self.relative:
            parts.append(self.relative)
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Cue:
    """A cue word or phrase as written, with its span; ``sign`` is +1/-1 for direction cues."""

    text: str
    start: int
    end: int
    sign: int = 0


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything ``extract`` found in one text; tuples are in text order."""

    text: str
    lang: str
    quantities: tuple[Quantity, ...]
    dates: tuple[DateRef, ...]
    entities: tuple[str, ...]
    negations: tuple[Cue, ...]
    directions: tuple[Cue, ...]
    attributions: tuple[Cue, ...]
    quotes: tuple[Cue, ...]
    comparisons: tuple[Cue, ...]
    causals: tuple[Cue, ...]
    words: frozenset[str]
    entity_tokens: frozenset[str]

    @property
    def direction(self) -> int:
        """+1 if only up-words occur, -1 if only down-words, 0 if none or both."""
        signs = {c.sign for c in self.directions}
        if signs == {1}:
            return 1
        if signs == {-1}:
            return -1
        return 0


# ---------------------------------------------------------------------------- dates

_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH_BY_PREFIX = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_MON = (
    r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?"
)
_DATE_ISO = re.compile(r"(?<![\d.])(?P<year>\d{4})[-./](?P<month>\d{1,2})[-./](?P<day>\d{1,2})(?![\d])")
# "2005.10" (year and month) closes Korean news items; the month must be 1-12.
_DATE_YEAR_MONTH = re.compile(r"(?<![\d.,])(?P<year>(?:19|20)\d\d)\.(?P<month>0?[1-9]|1[0-2])(?![\d.])")
_DATE_US = re.compile(r"(?<![\d./])(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4}|\d{2})(?![\d/])")
_DATE_DAY_FIRST = re.compile(
    rf"(?<![\w.])(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MON}(?:,?\s+(?P<year>\d{{4}})(?!\d))?"
)
_DATE_MONTH_FIRST = re.compile(
    rf"(?<![\w])(?<!\d\s){_MON}(?:\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?![\d,.]\d))?(?:,?\s+(?P<year>\d{{4}})(?!\d))?"
)
_DATE_KO = re.compile(
    r"(?<![\d.,])(?:(?P<year>\d{4})\s?년(?:도)?(?:\s?(?P<month>\d{1,2})\s?월)?(?:\s?(?P<day>\d{1,2})\s?일)?"
    r"|(?P<month2>\d{1,2})\s?월(?:\s?(?P<day2>\d{1,2})\s?일)?"
    r"|(?P<day3>\d{1,2})\s?일(?![간째]|\s?동안|\s?간))"
)
_WEEKDAY_EN = re.compile(r"\b(?P<wd>Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b")
_WEEKDAY_KO = re.compile(r"(?P<wd>[월화수목금토일])요일")
_KO_WEEKDAY_INDEX = {c: i for i, c in enumerate("월화수목금토일")}
_TIME_COLON = re.compile(
    r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])(?:\s?(?P<ap>[AaPp]\.?[Mm]\.?)(?!\w))?"
)
_TIME_AMPM = re.compile(r"(?<![\d:])(?P<h>\d{1,2})\s?(?P<ap>[AaPp]\.[Mm]\.|[AaPp][Mm]\b)")
_TIME_KO = re.compile(
    r"(?:(?P<ap>오전|오후|새벽|밤|저녁|낮)\s?)?(?<![\d.,])(?P<h>\d{1,2})\s?시(?![간즌장민청의대작])(?:\s?(?P<m>\d{1,2})\s?분)?"
)
_RELATIVE_EN = re.compile(
    r"\b(?:(?P<day>yesterday|today|tonight|tomorrow|last night)"
    r"|(?:(?P<which>last|next|this|past|earlier this|later this)\s+(?P<unit>week|month|year)))\b",
    re.IGNORECASE,
)
_RELATIVE_KO = re.compile(
    r"(?P<w>그제|그저께|어제|오늘|내일|모레|전날|다음\s?날|이튿날|지난\s?주|지난\s?달|지난\s?해|작년|올해|금년|내년"
    r"|이번\s?주|금주|이번\s?달|이달|다음\s?주|다음\s?달|내달|전년|지난\s?밤|어젯밤|오늘밤|이날)"
)
_RELATIVE_KO_NORM = {
    "그제": "day-2",
    "그저께": "day-2",
    "어제": "day-1",
    "어젯밤": "day-1",
    "지난밤": "day-1",
    "전날": "day-1",
    "오늘": "day0",
    "오늘밤": "day0",
    "이날": "day0",
    "내일": "day+1",
    "다음날": "day+1",
    "이튿날": "day+1",
    "모레": "day+2",
    "지난주": "week-1",
    "이번주": "week0",
    "금주": "week0",
    "다음주": "week+1",
    "지난달": "month-1",
    "이번달": "month0",
    "이달": "month0",
    "다음달": "month+1",
    "내달": "month+1",
    "지난해": "year-1",
    "작년": "year-1",
    "전년": "year-1",
    "올해": "year0",
    "금년": "year0",
    "내년": "year+1",
}
_RELATIVE_EN_DAY = {
    "yesterday": "day-1",
    "last night": "day-1",
    "today": "day0",
    "tonight": "day0",
    "tomorrow": "day+1",
}
_RELATIVE_EN_WHICH = {
    "last": "-1",
    "past": "-1",
    "next": "+1",
    "this": "0",
    "earlier this": "0",
    "later this": "0",
}


def _valid(month: int | None, day: int | None) -> bool:
    return (month is None or 1 <= month <= 12) and (day is None or 1 <= day <= 31)


def _as_int(value: str | None) -> int | None:
    return int(value) if value else None


def _hour(h: int, ap: str | None) -> int:
    marker = (ap or "").lower().replace(".", "")
    if marker in ("pm", "오후", "밤", "저녁") and h < 12:
        return h + 12
    if marker in ("am", "오전", "새벽") and h == 12:
        return 0
    return h


def _free(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return all(end <= a or start >= b for a, b in taken)


def _dates(text: str) -> tuple[list[DateRef], list[tuple[int, int]]]:
    found: list[DateRef] = []
    taken: list[tuple[int, int]] = []

    def add(ref: DateRef) -> None:
        if _free(taken, ref.start, ref.end):
            found.append(ref)
            taken.append((ref.start, ref.end))

    year: int | None
    month: int | None
    day: int | None
    for m in _DATE_ISO.finditer(text):
        year, month, day = int(m["year"]), int(m["month"]), int(m["day"])
        if 1000 <= year <= 2200 and _valid(month, day):
            add(DateRef(m.start(), m.end(), year=year, month=month, day=day))
    for m in _DATE_YEAR_MONTH.finditer(text):
        add(DateRef(m.start(), m.end(), year=int(m["year"]), month=int(m["month"])))
    for m in _DATE_US.finditer(text):
        month, day, year = int(m["month"]), int(m["day"]), int(m["year"])
        if _valid(month, day):
            add(DateRef(m.start(), m.end(), year=year + 2000 if year < 100 else year, month=month, day=day))
    for m in _DATE_DAY_FIRST.finditer(text):
        day = int(m["day"])
        if _valid(None, day):
            month = _MONTH_BY_PREFIX[m["mon"][:3].lower()]
            add(DateRef(m.start(), m.end(), year=_as_int(m["year"]), month=month, day=day))
    for m in _DATE_MONTH_FIRST.finditer(text):
        name = m["mon"].rstrip(".")
        day, year = _as_int(m["day"]), _as_int(m["year"])
        # "May" alone is a verb, "Mar" alone is rarely a month: require a day or year.
        if (
            (name == "May" or (len(name) <= 4 and name not in ("June", "July")))
            and day is None
            and year is None
        ):
            continue
        if _valid(None, day):
            end = m.end() if day is not None or year is not None else m.start() + len(m["mon"])
            add(DateRef(m.start(), end, year=year, month=_MONTH_BY_PREFIX[name[:3].lower()], day=day))
    for m in _DATE_KO.finditer(text):
        year = _as_int(m["year"])
        month = _as_int(m["month"] or m["month2"])
        day = _as_int(m["day"] or m["day2"] or m["day3"])
        if year is not None and year < 1000:
            continue
        if _valid(month, day):
            add(DateRef(m.start(), m.end(), year=year, month=month, day=day))
    for m in _WEEKDAY_EN.finditer(text):
        add(DateRef(m.start(), m.end(), weekday=_WEEKDAY_NAMES.index(m["wd"].lower() + "day")))
    for m in _WEEKDAY_KO.finditer(text):
        add(DateRef(m.start(), m.end(), weekday=_KO_WEEKDAY_INDEX[m["wd"]]))
    for m in _TIME_COLON.finditer(text):
        h, mi = int(m["h"]), int(m["m"])
        if h <= 24 and mi < 60:
            add(DateRef(m.start(), m.end(), hour=_hour(h, m["ap"]), minute=mi))
    for m in _TIME_AMPM.finditer(text):
        h = int(m["h"])
        if 1 <= h <= 12:
            add(DateRef(m.start(), m.end(), hour=_hour(h, m["ap"]), minute=0))
    for m in _TIME_KO.finditer(text):
        h = int(m["h"])
        if h <= 24:
            add(DateRef(m.start(), m.end(), hour=_hour(h, m["ap"]), minute=_as_int(m["m"]) or 0))
    for m in _RELATIVE_EN.finditer(text):
        if m["day"]:
            rel = _RELATIVE_EN_DAY[m["day"].lower()]
        else:
            rel = m["unit"].lower() + _RELATIVE_EN_WHICH[" ".join(m["which"].lower().split())]
        add(DateRef(m.start(), m.end(), relative=rel))
    for m in _RELATIVE_KO.finditer(text):
        add(DateRef(m.start(), m.end(), relative=_RELATIVE_KO_NORM[m["w"].replace(" ", "")]))
    found.sort(key=lambda d: d.start)
    return found, taken


# ----------------------------------------------------------------------- quantities

_NUM_TEXT = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9.,/:_\-])(?P<cur>(?:US|A|C|HK|NZ|S)?\$|€|£|¥|₩|￦)?\s?(?<![A-Za-z0-9.,/:_\-])"
    rf"(?P<num>{_NUM_TEXT})"
)
_NUM_AT = re.compile(rf"(?P<cur>(?:US|A|C|HK|NZ|S)?\$|€|£|¥|₩|￦)?\s?(?P<num>{_NUM_TEXT})")
# Words that start with a multiplier syllable are not multipliers: "10 조사", "3년 만에".
_KO_MULT = re.compile(
    r"\s?(?P<small>[십백천](?![안연신재]))?"
    r"(?P<big>\s?(?:만(?![에큼나들족약일])|억(?![제울])|조(?![사치작정건직성합용])|경(?![제찰기우영쟁향])))?"
)
_KO_SMALL = {"십": 10.0, "백": 100.0, "천": 1000.0}
_KO_BIG = {"만": 1e4, "억": 1e8, "조": 1e12, "경": 1e16}
_RANGE_SEP = re.compile(r"\s?(?:-|–|—|~|∼|〜)\s?|\s+to\s+|\s+and\s+")
_SCALE = re.compile(
    r"\s?(?P<scale>thousand|million|billion|trillion|bn|mn|tn|mln|bln|k|m|b)(?![A-Za-z])", re.IGNORECASE
)
_SCALE_VALUE = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "bln": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}
_CURRENCY_SYMBOL = {"$": "usd", "us$": "usd", "€": "eur", "£": "gbp", "¥": "jpy", "₩": "krw", "￦": "krw"}

# Written unit -> normalized unit. English entries need a word boundary after them; Korean
# counters attach to the number ("15명") and take no boundary.
_UNITS_EN: dict[str, str] = {}
_UNITS_KO: dict[str, str] = {}


def _units(table: dict[str, str], unit: str, spellings: str) -> None:
    for spelling in spellings.split("|"):
        table[spelling] = unit


_units(
    _UNITS_EN,
    "person",
    "people|persons|person|dead|deaths|killed|died|injured|wounded|victims|casualties|fatalities|"
    "passengers|children|adults|men|women|workers|soldiers|troops|students|patients|employees|residents|"
    "civilians|refugees|migrants|members|protesters|inmates|prisoners",
)
_units(_UNITS_EN, "usd", "dollars|dollar|usd|us dollars")
_units(_UNITS_EN, "krw", "won|krw")
_units(_UNITS_EN, "eur", "euros|euro|eur")
_units(_UNITS_EN, "gbp", "pounds|pound|gbp|pounds sterling")
_units(_UNITS_EN, "jpy", "yen|jpy")
_units(_UNITS_EN, "cny", "yuan|cny|rmb|renminbi")
_units(_UNITS_EN, "percent", "%|percent|per cent|pct")
_units(_UNITS_EN, "pp", "percentage points|percentage point|% points|% point|%p")
_units(_UNITS_EN, "point", "points|point")
_units(_UNITS_EN, "km", "km|kilometers|kilometres|kilometer|kilometre")
_units(_UNITS_EN, "m", "meters|metres|meter|metre")
_units(_UNITS_EN, "cm", "cm|centimeters|centimetres")
_units(_UNITS_EN, "mm", "mm|millimeters|millimetres")
_units(_UNITS_EN, "mile", "miles|mile|mi")
_units(_UNITS_EN, "kg", "kg|kilograms|kilogrammes|kilogram|kilos")
_units(_UNITS_EN, "g", "grams|gram|g")
_units(_UNITS_EN, "t", "tons|tonnes|ton|tonne")
_units(_UNITS_EN, "lb", "lbs|lb")
_units(_UNITS_EN, "year", "years|year|yrs")
_units(_UNITS_EN, "month", "months|month")
_units(_UNITS_EN, "week", "weeks|week")
_units(_UNITS_EN, "day", "days|day")
_units(_UNITS_EN, "hour", "hours|hour|hrs")
_units(_UNITS_EN, "minute", "minutes|minute|mins")
_units(_UNITS_EN, "second", "seconds|second|secs")
_units(_UNITS_EN, "age", "years old|year old|year-old|years-old")
_units(_UNITS_EN, "times", "times")
_units(_UNITS_EN, "country", "countries|nations")
_units(_UNITS_EN, "household", "households|homes|families")
_units(_UNITS_EN, "vote", "votes")
_units(_UNITS_EN, "seat", "seats")
_units(_UNITS_EN, "degree", "degrees|°c|°f|°")
_units(_UNITS_EN, "share", "shares")
_units(_UNITS_EN, "barrel", "barrels")
_units(_UNITS_EN, "cent", "cents|cent")
_units(_UNITS_EN, "gallon", "gallons|gallon")
_units(_UNITS_EN, "fold", "fold|-fold")
_units(_UNITS_KO, "person", "명|인")
_units(_UNITS_KO, "usd", "달러|불")
_units(_UNITS_KO, "krw", "원")
_units(_UNITS_KO, "eur", "유로")
_units(_UNITS_KO, "gbp", "파운드")
_units(_UNITS_KO, "jpy", "엔")
_units(_UNITS_KO, "cny", "위안")
_units(_UNITS_KO, "percent", "퍼센트|프로")
_units(_UNITS_KO, "pp", "%포인트|%p|퍼센트포인트|%P")
_units(_UNITS_KO, "point", "포인트")
_units(_UNITS_KO, "km", "킬로미터|㎞")
_units(_UNITS_KO, "m", "미터")
_units(_UNITS_KO, "cm", "센티미터|센티|㎝")
_units(_UNITS_KO, "mm", "밀리미터|㎜")
_units(_UNITS_KO, "mile", "마일")
_units(_UNITS_KO, "kg", "킬로그램|킬로|㎏")
_units(_UNITS_KO, "g", "그램")
_units(_UNITS_KO, "t", "톤")
_units(_UNITS_KO, "year", "년간|년")
_units(_UNITS_KO, "month", "개월|달")
_units(_UNITS_KO, "week", "주일|주간")
_units(_UNITS_KO, "day", "일간|일")
_units(_UNITS_KO, "hour", "시간")
_units(_UNITS_KO, "quarter", "분기")
_units(_UNITS_KO, "minute", "분")
_units(_UNITS_KO, "second", "초")
_units(_UNITS_KO, "age", "세|살")
_units(_UNITS_KO, "times", "번|회|차례")
_units(_UNITS_KO, "country", "개국|나라")
_units(_UNITS_KO, "household", "가구|세대")
_units(_UNITS_KO, "vote", "표")
_units(_UNITS_KO, "seat", "석")
_units(_UNITS_KO, "degree", "도|℃")
_units(_UNITS_KO, "barrel", "배럴")
_units(_UNITS_KO, "cent", "센트")
_units(_UNITS_KO, "gallon", "갤런")
_units(_UNITS_KO, "rank", "위")
_units(_UNITS_KO, "fold", "배")
_units(_UNITS_KO, "count", "개|곳|건|척|채|마리|권|대|그루|병|장|편|종")


def _alternation(spellings: dict[str, str]) -> str:
    return "|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True))


_UNIT_EN = re.compile(rf"\s?(?:of\s)?(?P<unit>{_alternation(_UNITS_EN)})(?![A-Za-z])", re.IGNORECASE)
# Symbols that attach directly: "3.5%", "20°C".
_UNIT_SYMBOL = re.compile(r"(?P<unit>%\s?포인트|%p|%P|%|℃|°[CF]?|㎞|㎏|㎝|㎜)")
_UNIT_KO = re.compile(rf"\s?(?P<approx>여|가량|남짓)?\s?(?P<unit>{_alternation(_UNITS_KO)})")
_APPROX_BEFORE = re.compile(
    r"(?:about|around|approximately|nearly|almost|roughly|some|over|more than|less than|fewer than|up to|"
    r"at least|at most|under|above|below|as many as|as much as|an estimated|estimated|약|대략|최소|최대|무려)\s*$",
    re.IGNORECASE,
)
_APPROX_AFTER = re.compile(
    r"\s?(?:여|가량|이상|이하|미만|초과|남짓|정도|넘는|넘게|넘어|안팎|내외|or more|plus|\+)"
)
# Ordinals and article numbers are not quantities: "제3조", "No. 5", "헌법 9조".
_ORDINAL_PREFIX = re.compile(r"(?:제|No\.|no\.|#|법|규정|조약|협약)\s?$")

_EN_ONES = {w: float(i) for i, w in enumerate(EN_ONES)}
_EN_TENS = {w: float(10 * i) for i, w in enumerate(EN_TENS) if i >= 2}
_WORD_NUMBER = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_EN_TENS)})(?:[- ](?P<tone>{'|'.join(EN_ONES[1:10])})\b)?"
    rf"|(?P<ones>{'|'.join(EN_ONES)})|(?P<dozen>a dozen|dozens of|a hundred|a thousand|a million|a billion|hundreds of|"
    r"thousands of|millions of|billions of))\b(?:\s(?P<hundred>hundred)\b)?(?:\s(?P<scale>thousand|million|billion|trillion)\b)?",
    re.IGNORECASE,
)
_WORD_NUMBER_VALUE = {
    "a dozen": (12.0, False),
    "dozens of": (24.0, True),
    "a hundred": (100.0, False),
    "a thousand": (1e3, False),
    "a million": (1e6, False),
    "a billion": (1e9, False),
    "hundreds of": (200.0, True),
    "thousands of": (2e3, True),
    "millions of": (2e6, True),
    "billions of": (2e9, True),
}
_KO_NATIVE = re.compile(
    r"(?<![가-힣])(?P<n>한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|스무)\s?(?P<unit>명|개|곳|건|차례|번|가구|마리|척|대|채)"
)
_KO_NATIVE_VALUE = {
    "한": 1.0,
    "두": 2.0,
    "세": 3.0,
    "네": 4.0,
    "다섯": 5.0,
    "여섯": 6.0,
    "일곱": 7.0,
    "여덟": 8.0,
    "아홉": 9.0,
    "열": 10.0,
    "스무": 20.0,
}


def _digits_precision(num: str) -> float:
    if "." in num:
        return 10.0 ** -len(num.split(".", 1)[1])
    return 1.0


@dataclass(slots=True)
class _Amount:
    value: float
    precision: float
    end: int
    korean_multiplier: bool


def _parse_amount(text: str, num: str, num_end: int) -> _Amount:
    """Read "1억1천만", "12조3천억", "3천" or a plain number whose digits end at ``num_end``."""
    group = float(num.replace(",", ""))
    group_precision = _digits_precision(num)
    total = 0.0
    finest = group_precision
    pos = num_end
    korean = False
    last_big = float("inf")
    while True:
        m = _KO_MULT.match(text, pos)
        small = m["small"] if m else None
        big = m["big"].strip() if m and m["big"] else None
        if m is None or (not small and not big):
            total += group
            finest = min(finest, group_precision) if korean else group_precision
            break
        korean = True
        if small:
            group *= _KO_SMALL[small]
            group_precision *= _KO_SMALL[small]
        pos = m.end()
        if not big:
            finest = min(finest, group_precision) if total else group_precision
            total += group
            break
        multiplier = _KO_BIG[big]
        total += group * multiplier
        finest = group_precision * multiplier
        last_big = multiplier
        # A following segment continues the number: "1억1천만", "1억 2000만", "1만5000".
        nxt = _NUM_AT.match(text, pos)
        if nxt is None or nxt["cur"]:
            break
        after = _KO_MULT.match(text, nxt.end())
        has_mult = bool(after and (after["small"] or after["big"]))
        glued = nxt.start("num") == pos
        seg_value = float(nxt["num"].replace(",", ""))
        if not has_mult and (not glued or seg_value >= last_big):
            break
        group = seg_value
        group_precision = _digits_precision(nxt["num"])
        pos = nxt.end()
    return _Amount(total, finest, pos, korean)


def _unit_at(text: str, pos: int, lang: str) -> tuple[str, int, bool]:
    """The normalized unit written at ``pos`` (or ""), where it ends, and whether "여"-style approx came first."""
    m = _UNIT_SYMBOL.match(text, pos)
    if m:
        written = m["unit"].replace(" ", "")
        unit = _UNITS_KO.get(written) or _UNITS_EN.get(written.lower()) or _UNITS_EN.get(written) or "percent"
        if written.startswith("°") or written == "℃":
            unit = "degree"
        if written in ("㎞", "㎏", "㎝", "㎜"):
            unit = _UNITS_KO[written]
        return unit, m.end(), False
    m = _UNIT_KO.match(text, pos)
    if m:
        return _UNITS_KO[m["unit"]], m.end(), bool(m["approx"])
    m = _UNIT_EN.match(text, pos)
    if m:
        return _UNITS_EN[" ".join(m["unit"].lower().split())], m.end(), False
    return "", pos, False


def _quantities(text: str, lang: str, taken: list[tuple[int, int]]) -> list[Quantity]:
    out: list[Quantity] = []
    claimed = list(taken)
    pos_limit = 0
    for m in _NUMBER.finditer(text):
        start = m.start() if m["cur"] else m.start("num")
        if m.start() < pos_limit or not _free(claimed, m.start("num"), m.end("num")):
            continue
        if _ORDINAL_PREFIX.search(text, max(0, start - 4), start):
            continue
        amount = _parse_amount(text, m["num"], m.end("num"))
        currency = _CURRENCY_SYMBOL.get((m["cur"] or "").lower(), "usd" if m["cur"] else "")
        pos = amount.end
        low, high = amount, None
        rng = _RANGE_SEP.match(text, pos)
        if rng and (
            " and " not in rng.group(0) or text[max(0, start - 8) : start].lower().endswith("between ")
        ):
            nxt = _NUM_AT.match(text, rng.end())
            if nxt and _free(claimed, nxt.start("num"), nxt.end("num")):
                second = _parse_amount(text, nxt["num"], nxt.end("num"))
                if second.value > low.value:
                    high = second
                    pos = second.end
        scale = 1.0
        sm = _SCALE.match(text, pos)
        metres = False
        if sm and not amount.korean_multiplier:
            word = sm["scale"].lower()
            # "m"/"b" are scales after a currency symbol ("$639m") or before a unit ("5m people");
            # otherwise "100m" is metres.
            if word not in ("m", "b") or currency or _unit_at(text, sm.end(), lang)[0]:
                scale = _SCALE_VALUE[word]
                pos = sm.end()
            elif word == "m" and sm["scale"] == "m":
                metres = True
                pos = sm.end()
        unit, unit_end, approx_mid = _unit_at(text, pos, lang) if not metres else ("m", pos, False)
        if unit:
            pos = unit_end
            if text.startswith("째", pos):
                continue
        if currency and not unit:
            unit = currency
        value = low.value * scale
        precision = low.precision * scale
        if high is not None:
            precision = max(precision, high.precision * scale)
        # Letters glued to the number that are not a unit ("3rd", "1990s", "5G") make it no quantity.
        if not unit and scale == 1.0 and pos < len(text) and text[pos].isascii() and text[pos].isalpha():
            continue
        num_text = m["num"]
        is_year = (
            not unit
            and scale == 1.0
            and high is None
            and not amount.korean_multiplier
            and num_text.isdigit()
            and len(num_text) == 4
            and 1800 <= int(num_text) <= 2100
        )
        if is_year:
            continue
        approx = (
            approx_mid
            or bool(_APPROX_BEFORE.search(text, max(0, start - 20), start))
            or bool(_APPROX_AFTER.match(text, pos))
        )
        out.append(
            Quantity(
                value=value,
                unit=unit,
                start=start,
                end=pos,
                high=None if high is None else high.value * scale,
                precision=precision,
                approx=approx,
            )
        )
        claimed.append((start, pos))
        pos_limit = pos
    for m in _WORD_NUMBER.finditer(text):
        if not _free(claimed, m.start(), m.end()):
            continue
        approx = False
        if m["dozen"]:
            value, approx = _WORD_NUMBER_VALUE[" ".join(m["dozen"].lower().split())]
        elif m["tens"]:
            value = _EN_TENS[m["tens"].lower()] + (_EN_ONES[m["tone"].lower()] if m["tone"] else 0.0)
        else:
            value = _EN_ONES[m["ones"].lower()]
        if m["hundred"]:
            value *= 100
        if m["scale"]:
            value *= _SCALE_VALUE[m["scale"].lower()]
        unit, end, _ = _unit_at(text, m.end(), lang)
        # "one" is usually a pronoun ("one of the"): keep it only with a unit or scale.
        if m["ones"] and m["ones"].lower() == "one" and not unit and not m["scale"]:
            continue
        if m["ones"] and value < 1 and not unit:
            continue
        end = end if unit else m.end()
        precision = 1.0 if not m["scale"] else _SCALE_VALUE[m["scale"].lower()]
        approx = approx or bool(_APPROX_BEFORE.search(text, max(0, m.start() - 20), m.start()))
        out.append(Quantity(value, unit, m.start(), end, precision=precision, approx=approx))
        claimed.append((m.start(), end))
    for m in _KO_NATIVE.finditer(text):
        if _free(claimed, m.start(), m.end()):
            unit = _UNITS_KO.get(m["unit"], "count")
            out.append(Quantity(_KO_NATIVE_VALUE[m["n"]], unit, m.start(), m.end()))
            claimed.append((m.start(), m.end()))
    out.sort(key=lambda q: q.start)
    return out


def _years_as_dates(text: str, dates: list[DateRef], taken: list[tuple[int, int]]) -> None:
    for m in re.finditer(r"(?<![\w.,$€£¥₩-])(1[89]\d\d|20\d\d|2100)(?![\w,]|\.\d)", text):
        if _free(taken, m.start(), m.end()):
            # "2,000 people" and "1992 people" are quantities; a bare year has no unit after it.
            unit, _, _ = _unit_at(text, m.end(), "en")
            if unit:
                continue
            dates.append(DateRef(m.start(), m.end(), year=int(m.group(1))))
            taken.append((m.start(), m.end()))
    dates.sort(key=lambda d: d.start)


# ----------------------------------------------------------------------------- cues


def _cue_re(words: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'’])(?:{words})(?![\w])", flags)


_NEGATION_EN = _cue_re(
    r"not|no|never|none|nobody|nothing|neither|nor|without|cannot|"
    r"deny|denies|denied|denying|denial|false|untrue|fake|hoax|refuted|refutes|debunked|rejected|dismissed|"
    r"unable|failed to|fails to|fail to|refused to|declined to"
)
_NEGATION_CONTRACTION = re.compile(r"(?<=[A-Za-z])n['’]t\b|\b(?:can['’]t|won['’]t)\b", re.IGNORECASE)
_UP_EN = _cue_re(
    r"raise|raised|raises|raising|increase|increased|increases|increasing|rise|rises|rose|risen|rising|up|"
    r"gain|gains|gained|gaining|grow|grows|grew|grown|growing|growth|jump|jumps|jumped|jumping|surge|surged|"
    r"surges|surging|climb|climbs|climbed|climbing|soar|soars|soared|soaring|hike|hiked|hikes|boost|boosted|"
    r"boosts|higher|expand|expanded|expands|doubled|tripled|rallied|rally|spiked|spike|up from"
)
_DOWN_EN = _cue_re(
    r"cut|cuts|cutting|decrease|decreased|decreases|decreasing|fall|falls|fell|fallen|falling|drop|drops|"
    r"dropped|dropping|lose|loses|lost|losing|loss|losses|decline|declined|declines|declining|plunge|plunged|"
    r"plunges|plunging|slump|slumped|slumps|shrink|shrinks|shrank|shrunk|lower|lowered|lowers|lowering|"
    r"reduce|reduced|reduces|reducing|reduction|slash|slashed|slashes|tumble|tumbled|tumbles|down|dip|"
    r"dipped|dips|sank|sink|sinks|halved|weakened|down from"
)
_ATTRIBUTION_EN = _cue_re(
    r"said|says|say|saying|according to|told|tells|announced|announces|stated|reported|reports|claimed|"
    r"claims|confirmed|added|noted|explained|insisted|argued|warned|estimated|declared|testified|wrote|"
    r"tweeted|spokesman|spokeswoman|spokesperson|quoted|acknowledged|admitted"
)
_COMPARISON_EN = re.compile(
    r"(?<![\w])(?:more than|less than|fewer than|greater than|(?!(?:rath|oth|whet)er than)[a-z]+er than|record|records|record-high|"
    r"record-low|highest|lowest|largest|biggest|smallest|most|least|best|worst|fastest|slowest|"
    r"first time|compared with|compared to|versus|twice|double|half as)(?![\w])",
    re.IGNORECASE,
)
_CAUSAL_EN = _cue_re(
    r"because of|because|due to|caused|causes|cause|causing|led to|leads to|lead to|leading to|"
    r"as a result|resulted in|results in|result in|owing to|thanks to|blamed|blames|triggered|sparked|"
    r"so that|therefore|hence|consequently"
)
_NEGATION_KO_RE = re.compile(
    r"부인했|부인하|사실무근|거짓|허위|오보|아니라고|않았|않는|않을|않다|못했|없었|없다|없는"
)
_ATTRIBUTION_KO = re.compile(
    r"밝혔|밝히|밝힌|말했|말한|따르면|전했|전한|발표|주장|설명했|강조했|덧붙였|보도|알려졌|지적했|언급|전망했|"
    r"추정|대변인|관계자는|라고 했|고 했다|말이다|예상했|분석했|소개했|공개했"
)
_COMPARISON_KO = re.compile(r"보다|최고|최대|최저|최소|최다|가장|사상 최|역대|비해|대비|처음|배나|두 배|기록")
_CAUSAL_KO = re.compile(
    r"때문|인해|인한|으로 인|따라|따른|탓|원인|덕분|야기|초래|비롯|결과|이유로|바람에|여파"
)
_QUOTE = re.compile(
    r"\"(?P<a>[^\"\n]{2,}?)\"|“(?P<b>[^”\n]{2,}?)”|‘(?P<c>[^’\n]{2,}?)’(?!\w)|「(?P<d>[^」\n]{2,}?)」"
    r"|『(?P<e>[^』\n]{2,}?)』|(?<![\w'])'(?P<f>[^'\n]{2,}?)'(?![\w])"
)
_KO_UP_NOUN = frozenset(
    {"인상", "상승", "증가", "급등", "폭등", "확대", "증액", "급증", "상향", "오름세", "상승세", "증대"}
)
_KO_DOWN_NOUN = frozenset(
    {"인하", "하락", "감소", "급락", "폭락", "축소", "삭감", "감액", "급감", "하향", "내림세", "하락세"}
)
_KO_UP_VERB = frozenset({"늘", "늘리", "늘어나", "오르", "올리", "높", "높이", "뛰", "치솟", "불어나"})
_KO_DOWN_VERB = frozenset(
    {"줄", "줄이", "줄어들", "내리", "낮", "낮추", "떨어지", "떨어뜨리", "떨어트리", "꺾이"}
)
_KO_NEGATION = {("않", "VX"), ("못", "MAG"), ("못하", "VX"), ("없", "VA"), ("아니", "VCN"), ("안", "MAG")}
_KO_NEGATION_NOUN = frozenset({"부인", "부정", "거짓", "허위", "사실무근", "오보"})
_KO_ENTITY_TAGS = frozenset({"NNP", "SL"})
_KO_WORD_TAGS = frozenset({"NNG", "NNP", "VV", "VA", "SN", "SL", "XR"})


def _cues(pattern: re.Pattern[str], text: str, sign: int = 0) -> list[Cue]:
    return [Cue(m.group(0), m.start(), m.end(), sign) for m in pattern.finditer(text)]


# -------------------------------------------------------------------------- entities

_ENTITY_EN = re.compile(
    r"(?<![\w'’])[A-Z][\w'’&-]*(?:\.[A-Z])*\.?"
    r"(?:\s+(?:(?:of|for|de|del|da|von|van|bin|al|la|le)\s+)?[A-Z][\w'’&-]*(?:\.[A-Z])*\.?)*"
)
_NOT_NAMES = frozenset(
    [
        "however",
        "meanwhile",
        "although",
        "though",
        "despite",
        "while",
        "since",
        "still",
        "yet",
        "earlier",
        "later",
        "now",
        "today",
        "yesterday",
        "tomorrow",
        "many",
        "several",
        "other",
        "another",
        "each",
        "every",
        "former",
        "new",
        "last",
        "next",
        "first",
        "second",
        "third",
        "one",
        "two",
        "three",
        "according",
        "officials",
        "police",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "i",
        "i'm",
        "we",
        "you",
        "they",
        "he",
        "she",
        "it",
        "there",
        "here",
        "this",
        "that",
        "these",
        "those",
        "mr",
        "mrs",
        "ms",
        "dr",
    ]
)
_POSSESSIVE = re.compile(r"['’]s?(?=\s|$)")


def _english_entities(text: str) -> list[str]:
    out: list[str] = []
    for m in _ENTITY_EN.finditer(text):
        # A possessive ends a name: "Energy's John Gordon" is two.
        groups: list[list[str]] = [[]]
        for word in m.group(0).split():
            groups[-1].append(word)
            if _POSSESSIVE.search(word):
                groups.append([])
        for parts in groups:
            name = _english_name(parts)
            if name:
                out.append(name)
    return out


def _english_name(parts: list[str]) -> str:
    """A cleaned, casefolded name from capitalized words, or "" when nothing name-like is left."""
    while parts and (parts[0].casefold().rstrip(".") in STOPWORDS or parts[0].casefold() in _NOT_NAMES):
        parts.pop(0)
    while parts and _POSSESSIVE.sub("", parts[-1]).casefold().rstrip(".") in _NOT_NAMES:
        parts.pop()
    if not parts:
        return ""
    name = " ".join(parts)
    # "Corp." keeps its dot only as an initialism ("U.S."); a sentence-final dot goes.
    if name.endswith(".") and not re.search(r"(?:^|\s|\.)[A-Z]\.$", name):
        name = name[:-1]
    name = _POSSESSIVE.sub("", name).strip()
    return "" if not name or name.isdigit() else name.casefold()


def _entity_tokens(entities: tuple[str, ...]) -> frozenset[str]:
    tokens: set[str] = set()
    for entity in entities:
        for token in entity.replace(".", "").split():
            # Single Hangul syllables can be names ("김"); single Latin letters are initials.
            if _HANGUL.match(token) or (len(token) > 1 and token not in STOPWORDS):
                tokens.add(token)
    return frozenset(tokens)


def _korean_analysis(
    text: str, given: Sequence[Any] | None = None, offset: int = 0
) -> tuple[list[str], list[Cue], list[Cue], set[str]]:
    """Entities, negation and direction cues, and content words from Kiwi morphemes.

    ``given`` are Kiwi tokens already computed for ``text``; their offsets minus ``offset``
    index ``text``. Without them the text is tokenized here.
    """
    entities: list[str] = []
    negations: list[Cue] = []
    directions: list[Cue] = []
    words: set[str] = set()
    tokens: Sequence[Any] = kiwi().tokenize(text) if given is None else given
    run: list[Any] = []

    def flush() -> None:
        if run:
            entities.append(text[run[0].start - offset : run[-1].start + run[-1].len - offset].casefold())
            run.clear()

    for i, tok in enumerate(tokens):
        tag = tok.tag.split("-", 1)[0]
        form = tok.form
        if tag in _KO_WORD_TAGS:
            words.add(form.casefold())
        if tag in _KO_ENTITY_TAGS:
            # Adjacent proper nouns form one name ("로렌스 리버모아"), as do Latin words ("ASCI White").
            if run and (run[-1].tag.split("-", 1)[0] != tag or tok.start - (run[-1].start + run[-1].len) > 1):
                flush()
            run.append(tok)
            continue
        flush()
        span = (tok.start - offset, tok.start + tok.len - offset)
        # "뿐만 아니라" is "not only", not a negation.
        not_only = form == "아니" and i > 0 and tokens[i - 1].form in ("뿐", "만")
        if not not_only and ((form, tag) in _KO_NEGATION or (tag == "NNG" and form in _KO_NEGATION_NOUN)):
            negations.append(Cue(text[span[0] : span[1]], span[0], span[1]))
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tag == "NNG" and nxt is not None and nxt.tag == "XSN" and nxt.form == "적":
            continue
        sign = 0
        if (tag == "NNG" and form in _KO_UP_NOUN) or (tag in ("VV", "VA") and form in _KO_UP_VERB):
            sign = 1
        elif (tag == "NNG" and form in _KO_DOWN_NOUN) or (tag in ("VV", "VA") and form in _KO_DOWN_VERB):
            sign = -1
        if sign:
            directions.append(Cue(text[span[0] : span[1]] or form, span[0], span[1], sign))
    flush()
    return entities, negations, directions, words


# --------------------------------------------------------------------------- extract


@functools.lru_cache(maxsize=65536)
def extract(text: str, lang: str = "") -> Facts:
    """All facts in ``text`` (one sentence or a short passage); cached per (text, lang)."""
    return _extract(text, resolve_lang(text, lang))


def extract_with_tokens(text: str, tokens: Sequence[Any], offset: int = 0) -> Facts:
    """``extract(text, "ko")`` reusing Kiwi tokens computed for a longer text (not cached).

    Token offsets minus ``offset`` must index ``text``; this is for callers that already ran
    Kiwi over a whole article (sentence splitting) and would otherwise pay for it twice.
    """
    return _extract(text, "ko", tokens, offset)


def _extract(text: str, rules: str, tokens: Sequence[Any] | None = None, offset: int = 0) -> Facts:
    dates, taken = _dates(text)
    quantities = _quantities(text, rules, taken)
    _years_as_dates(text, dates, taken + [(q.start, q.end) for q in quantities])
    negations = _cues(_NEGATION_EN, text) + _cues(_NEGATION_CONTRACTION, text)
    directions = _cues(_UP_EN, text, 1) + _cues(_DOWN_EN, text, -1)
    attributions = _cues(_ATTRIBUTION_EN, text)
    comparisons = _cues(_COMPARISON_EN, text)
    causals = _cues(_CAUSAL_EN, text)
    has_hangul = bool(_HANGUL.search(text))
    if has_hangul:
        attributions += _cues(_ATTRIBUTION_KO, text)
        comparisons += _cues(_COMPARISON_KO, text)
        causals += _cues(_CAUSAL_KO, text)
    quotes = [
        Cue(next(g for g in m.groups() if g is not None), m.start(), m.end()) for m in _QUOTE.finditer(text)
    ]
    if rules == "ko" and has_hangul:
        entity_list, ko_negations, ko_directions, words = _korean_analysis(text, tokens, offset)
        negations += ko_negations
        directions += ko_directions
    else:
        entity_list = _english_entities(text)
        words = {w for w in normalize_text(text).split() if w not in STOPWORDS}
        if has_hangul:
            negations += _cues(_NEGATION_KO_RE, text)
    # Numbers in quantities are compared separately; plain digits in ``words`` add nothing.
    words = {w for w in words if not w.replace(".", "").isdigit()}
    entities = tuple(dict.fromkeys(entity_list))

    def ordered(cues: list[Cue]) -> tuple[Cue, ...]:
        return tuple(sorted(cues, key=lambda c: c.start))

    return Facts(
        text=text,
        lang=rules,
        quantities=tuple(quantities),
        dates=tuple(dates),
        entities=entities,
        negations=ordered(negations),
        directions=ordered(directions),
        attributions=ordered(attributions),
        quotes=ordered(quotes),
        comparisons=ordered(comparisons),
        causals=ordered(causals),
        words=frozenset(words),
        entity_tokens=_entity_tokens(entities),
    )
