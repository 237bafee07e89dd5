"""Dates and times in a sentence: ISO, US and day-first forms, Korean dates, weekdays, relative days."""

from __future__ import annotations

import re

from newstalk.factcheck.facts.types import _WEEKDAY_NAMES, DateRef

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
