"""Numbers with their units: digits, Korean multipliers, English scale words, ranges, approximations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from newstalk.factcheck.facts.dates import _free
from newstalk.factcheck.facts.types import DateRef, Quantity
from newstalk.kit.numwords import EN_ONES, EN_TENS

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
    """Read "1억1천만", "12조3천억", "4천200억", "3천" or a plain number whose digits end at ``num_end``.

    Korean groups numbers by 만, 억, 조 and 경; inside a group, 십, 백 and 천 add up, so
    "4천200억" is (4천 + 200) × 억 = 420,000,000,000 and "3천200명" is 3,200 people.
    """
    value = float(num.replace(",", ""))
    precision = _digits_precision(num)
    total = 0.0  # finished groups
    group = 0.0  # the group being read, before its 만/억/조/경: "4천200"
    group_precision = float("inf")
    finest = float("inf")
    pos = num_end
    korean = False
    while True:
        m = _KO_MULT.match(text, pos)
        small = m["small"] if m else None
        big = m["big"].strip() if m and m["big"] else None
        if small:
            value *= _KO_SMALL[small]
            precision *= _KO_SMALL[small]
        if small or big:
            korean = True
            pos = m.end()  # type: ignore[union-attr]
        group += value
        group_precision = min(group_precision, precision)
        if big:
            total += group * _KO_BIG[big]
            finest = min(finest, group_precision * _KO_BIG[big])
            group, group_precision = 0.0, float("inf")
        if not small and not big:
            break
        # A following segment continues the number: "1억1천만", "1억 2000만", "1만5000", "4천200억".
        last_unit = _KO_BIG[big] if big else _KO_SMALL[small]  # type: ignore[index]
        nxt = _NUM_AT.match(text, pos)
        if nxt is None or nxt["cur"]:
            break
        after = _KO_MULT.match(text, nxt.end())
        has_mult = bool(after and (after["small"] or after["big"]))
        glued = nxt.start("num") == pos
        seg_value = float(nxt["num"].replace(",", ""))
        if not has_mult and (not glued or seg_value >= last_unit):
            break
        value = seg_value
        precision = _digits_precision(nxt["num"])
        pos = nxt.end()
    total += group
    if group:
        finest = min(finest, group_precision)
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
