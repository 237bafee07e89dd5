"""English text normalization for speech: numbers, money, dates, units, acronyms, symbols.

Rules run in a fixed order, each a (pattern, replacement) step over the whole text;
the most specific shapes (URLs, money, dates, times) go before the generic number
rule so that, for example, "$2.5bn" never reaches it as "2.5".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from newstalk.kit.numwords import EN_ONES, EN_TENS


def _words(text: str) -> tuple[str, ...]:
    """Split a whitespace-separated word list written as one string."""
    return tuple(text.split())


_ONES, _TENS = EN_ONES, EN_TENS
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_ENDINGS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_MONTHS = _words("January February March April May June July August September October November December")
_MONTH_BY_PREFIX = {m[:3].lower(): m for m in _MONTHS}
# A month name or its usual abbreviation ("Nov.", "Sept."), never a longer word like "Decided".
_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"


def cardinal(n: int) -> str:
    """Spell a non-negative integer the American way: 8192 -> eight thousand one hundred ninety-two."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("-" + _ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + (" " + cardinal(rest) if rest else "")
    if n >= 10**15:
        return digits(str(n))
    for size, name in _SCALES:
        if n >= size:
            head, rest = divmod(n, size)
            return cardinal(head) + " " + name + (" " + cardinal(rest) if rest else "")
    raise AssertionError(n)  # pragma: no cover - the scales above cover every n >= 1000


def ordinal(n: int) -> str:
    """Spell an ordinal: 21 -> twenty-first."""
    words = cardinal(n)
    head, sep, last = words.rpartition("-" if "-" in words.split(" ")[-1] else " ")
    if last in _ORDINAL_ENDINGS:
        last = _ORDINAL_ENDINGS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def digits(text: str) -> str:
    """Read a digit string one digit at a time: 2044 -> two zero four four."""
    return " ".join(_ONES[int(c)] for c in text if c.isdigit())


def year(n: int) -> str:
    """Read a year the way newsreaders do: 1998 -> nineteen ninety-eight, 2026 -> twenty twenty-six."""
    if 2000 <= n <= 2009 or n < 1000 or n % 1000 == 0:
        return cardinal(n)
    head, tail = divmod(n, 100)
    if tail == 0:
        return cardinal(head) + " hundred"
    if tail < 10:
        return cardinal(head) + " oh " + cardinal(tail)
    return cardinal(head) + " " + cardinal(tail)


def _plural_year(words: str) -> str:
    """Turn a spelled year into a decade: nineteen ninety -> nineteen nineties."""
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def number(text: str) -> str:
    """Read an integer or decimal numeral, commas allowed: 3.5 -> three point five."""
    text = text.replace(",", "")
    whole, _, frac = text.partition(".")
    spoken = cardinal(int(whole)) if whole else ""
    if frac:
        spoken = (spoken + " point " if spoken else "point ") + digits(frac)
    return spoken


_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"

# Currency symbol or code before the amount -> (singular, plural) spoken name.
_CURRENCY_PREFIX = {
    "US$": ("US dollar", "US dollars"),
    "A$": ("Australian dollar", "Australian dollars"),
    "C$": ("Canadian dollar", "Canadian dollars"),
    "HK$": ("Hong Kong dollar", "Hong Kong dollars"),
    "$": ("dollar", "dollars"),
    "£": ("pound", "pounds"),
    "€": ("euro", "euros"),
    "¥": ("yen", "yen"),
    "₩": ("won", "won"),
    "₹": ("rupee", "rupees"),
}
_MINOR_UNIT = {"dollar": "cent", "pound": "penny", "euro": "cent"}
_SCALE_WORDS = {
    "k": "thousand",
    "thousand": "thousand",
    "m": "million",
    "mn": "million",
    "mln": "million",
    "million": "million",
    "bn": "billion",
    "b": "billion",
    "billion": "billion",
    "tn": "trillion",
    "trillion": "trillion",
}

# Units after a number -> (singular, plural). Longest keys are tried first.
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "km²": ("square kilometer", "square kilometers"),
    "sq km": ("square kilometer", "square kilometers"),
    "m²": ("square meter", "square meters"),
    "m³": ("cubic meter", "cubic meters"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ft": ("foot", "feet"),
    "mi": ("mile", "miles"),
    "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "GW": ("gigawatt", "gigawatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "TB": ("terabyte", "terabytes"),
    "ha": ("hectare", "hectares"),
    "l": ("liter", "liters"),
    "ml": ("milliliter", "milliliters"),
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))

# Abbreviations with a period, expanded before sentence-level rules. "St." depends on
# position: before a capitalized name it is Saint, otherwise Street.
_ABBREVIATIONS = {
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Dr.": "Doctor",
    "Prof.": "Professor",
    "Gen.": "General",
    "Gov.": "Governor",
    "Sen.": "Senator",
    "Rep.": "Representative",
    "Lt.": "Lieutenant",
    "Col.": "Colonel",
    "Capt.": "Captain",
    "Sgt.": "Sergeant",
    "Rev.": "Reverend",
    "Jr.": "Junior",
    "Sr.": "Senior",
    "Mt.": "Mount",
    "Ft.": "Fort",
    "Inc.": "Incorporated",
    "Corp.": "Corporation",
    "Ltd.": "Limited",
    "Co.": "Company",
    "Bros.": "Brothers",
    "Dept.": "Department",
    "Ave.": "Avenue",
    "Blvd.": "Boulevard",
    "approx.": "approximately",
    "vs.": "versus",
    "v.": "versus",
    "etc.": "et cetera",
    "e.g.": "for example",
    "i.e.": "that is",
}
_ABBR_RE = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(a) for a in sorted(_ABBREVIATIONS, key=len, reverse=True)) + r")"
    r"(?=\s|$|[,;:)])"
)

# All-caps words read as words, not letters; and words the vowel heuristic would misread.
ACRONYM_WORDS = frozenset(
    _words(
        "NASA NATO UNESCO UNICEF OPEC ASEAN FIFA AIDS SARS MERS LASER RADAR SCUBA NAFTA INTERPOL "
        "ICE NYMEX ANSA DIAL ASCI KOSPI KOSDAQ NASDAQ APEC OSCE GAAP COVID UEFA DARPA FEMA"
    )
)
ACRONYM_LETTERS = frozenset(_words("ICTY USFK USGS NTSB RATP SNCF GMAC UNHCR IAEA OECD"))
_VOWELS = set("AEIOU")
_ONSETS = frozenset(
    _words("BL BR CH CL CR DR FL FR GL GR KN PH PL PR SC SH SK SL SM SN SP ST SW TH TR TW WH WR")
)


def is_pronounceable(word: str) -> bool:
    """Guess whether an all-caps word is said as a word (NATO) rather than spelled (FBI)."""
    if word in ACRONYM_WORDS:
        return True
    if word in ACRONYM_LETTERS or len(word) < 4:
        return False
    vowels = sum(c in _VOWELS or (c == "Y" and i > 0) for i, c in enumerate(word))
    longest_cluster = max(len(run) for run in re.split("[AEIOUY]", word))
    if word[0] not in _VOWELS and word[1] not in _VOWELS and word[:2] not in _ONSETS:
        return False
    if len(word) >= 5:
        return vowels / len(word) >= 0.25 and longest_cluster <= 3
    return vowels >= 2 and longest_cluster <= 2


def spell(word: str) -> str:
    """Spell letters apart so a TTS engine names them: FBI -> F B I."""
    return " ".join(word.upper())


def _money(m: re.Match[str]) -> str:
    symbol, low, high, scale = m.group("cur"), m.group("a"), m.group("b"), m.group("scale")
    singular, plural = _CURRENCY_PREFIX[symbol]
    scale_word = _SCALE_WORDS[scale.lower()] if scale else ""
    if high and scale_word:
        return f"{number(low)} to {number(high)} {scale_word} {plural}"
    if high:
        return f"{_amount(low, singular, plural)} to {_amount(high, singular, plural)}"
    if scale_word:
        return f"{number(low)} {scale_word} {plural}"
    return _amount(low, singular, plural)


def _amount(low: str, singular: str, plural: str) -> str:
    whole, _, cents = low.replace(",", "").partition(".")
    whole = whole or "0"
    unit = singular if whole == "1" and not cents else plural
    if cents and len(cents) == 2 and singular in _MINOR_UNIT:
        minor = _MINOR_UNIT[singular]
        minor_word = minor if cents == "01" else ("pence" if minor == "penny" else minor + "s")
        head = f"{cardinal(int(whole))} {unit if whole != '1' else singular} and " if int(whole) else ""
        return f"{head}{cardinal(int(cents))} {minor_word}"
    return f"{number(low)} {unit}"


def _date_mdy(month: str, day: str, yr: str | None) -> str:
    spoken = f"{month} {ordinal(int(day))}"
    return spoken + (f", {year(int(yr))}" if yr else "")


def _month_name(token: str) -> str:
    return _MONTH_BY_PREFIX[token[:3].lower()]


def _numeric_date(m: re.Match[str]) -> str:
    first, second, yr = int(m.group(1)), int(m.group(2)), m.group(3)
    # US order (month/day) unless the first field cannot be a month; 11/26/2026 and 26/11/2026 both work.
    month, day = (first, second) if first <= 12 else (second, first)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group(0).replace("/", " slash ")
    full_year = int(yr) if len(yr) == 4 else 2000 + int(yr)
    return _date_mdy(_MONTHS[month - 1], str(day), str(full_year))


def _time(m: re.Match[str]) -> str:
    hour, minute, meridiem = int(m.group("h")), int(m.group("min") or 0), m.group("ampm")
    suffix = ""
    if meridiem:
        suffix = " " + spell(meridiem.replace(".", "").replace(" ", "").upper()[0] + "M")
    if minute == 0:
        return cardinal(hour) + (suffix if meridiem else " o'clock")
    mins = cardinal(minute) if minute >= 10 else "oh " + cardinal(minute)
    return f"{cardinal(hour)} {mins}{suffix}"


def _unit(m: re.Match[str]) -> str:
    value, hyphen, unit = m.group("n"), m.group("hy"), m.group("unit")
    singular, plural = _UNITS[unit]
    if hyphen:  # "a 99-km road": an adjective, so singular and hyphenated
        return number(value) + "-" + singular.replace(" ", "-")
    return f"{number(value)} {singular if value == '1' else plural}"


def _roman(m: re.Match[str]) -> str:
    value = {"II": 2, "III": 3, "IV": 4, "VI": 6, "VII": 7, "VIII": 8, "IX": 9}[m.group(2)]
    if m.group(1) == "War":
        return f"{m.group(1)} {cardinal(value).capitalize()}"
    return f"{m.group(1)} the {ordinal(value)}"


def _acronym(m: re.Match[str]) -> str:
    word, plural = m.group(1), m.group(2) or ""
    if is_pronounceable(word):
        return word + plural
    return spell(word) + ("'s" if plural else "")


def _dotted_acronym(m: re.Match[str]) -> str:
    letters = m.group(0).replace(".", "")
    # Keep a sentence-final period that the abbreviation swallowed.
    end = "." if m.end() == len(m.string) else ""
    return spell(letters) + end


def _url(m: re.Match[str]) -> str:
    url = m.group(0)
    if url.startswith(("http", "www", "##")) and "/" in url.split("//", 1)[-1]:
        return ""  # a full link is noise when read aloud; the domain alone is kept below
    host = re.sub(r"^(?:#*https?://)?", "", url).rstrip("/")
    parts = ["W W W" if p == "www" else p for p in re.split(r"\.", host)]
    return " dot ".join(parts)


def _email(m: re.Match[str]) -> str:
    user, host = m.group(1), m.group(2)
    return user.replace(".", " dot ") + " at " + host.replace(".", " dot ")


def _range(m: re.Match[str]) -> str:
    a, b = m.group("a"), m.group("b")
    if len(a) == 4 and a[:2] in {"19", "20"} and "." not in a + b:
        b_full = b if len(b) == 4 else a[:2] + b.zfill(2)
        return f"{year(int(a))} to {year(int(b_full))}"
    return f"{number(a)} to {number(b)}"


Step = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]

# Parentheses and dashes become pauses, then the commas they leave are tidied (both languages).
PAUSE_STEPS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\s*[()\[\]]\s*"), ", "),
    (re.compile(r"\s*(?:--|—|–)\s*"), ", "),
    (re.compile(r"(?:\s*,)+\s*([.!?;:])"), r"\1"),
    (re.compile(r"(?:\s*,\s*){2,}"), ", "),
    (re.compile(r"^\s*,\s*|\s*,\s*$"), ""),
    (re.compile(r"\s+([,.!?;:])"), r"\1"),
    (re.compile(r"\s{2,}"), " "),
]

STEPS: list[Step] = [
    # Digit runs too long to be quantities (IDs, card numbers) are read digit by digit first,
    # which also keeps the number patterns below linear on pathological input.
    (re.compile(r"\d{16,}"), lambda m: " " + digits(m.group(0)) + " "),
    # Emails before URLs: "desk@example.com" -> "desk at example dot com".
    (re.compile(r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b"), _email),
    # Links: full URLs are dropped, bare domains spoken ("example.com" -> "example dot com").
    (
        re.compile(
            r"#*https?://\S+|\bwww(?:\.[\w-]+)+(?:/\S*)?|\b[a-z][\w-]*(?:\.[\w-]+)*\.(?:com|org|net|gov|edu|io|co\.uk|kr)\b(?:/\S*)?"
        ),
        _url,
    ),
    # Dateline in capitals at the start: "NEW YORK (CNN) --" reads as a place name.
    (re.compile(r"^([A-Z][A-Z'.-]+(?: [A-Z][A-Z'.-]+)*)(?=,| \(| --)"), lambda m: m.group(1).title()),
    # "9/11" names the 2001 attacks.
    (re.compile(r"(?<![\d/.])9[/.]11(?![\d/])"), "nine eleven"),
    # Letters glued to digits are read apart: "NW1" -> "NW 1", "I-35W" -> "I-35 W", "117AD" -> "117 AD".
    (re.compile(r"(?<=[A-Z])(?=\d)|(?<=\d)(?=[A-Z]{1,3}\b)(?![AP]M\b)"), " "),
    # Money: "$2.5bn", "US$40", "£300m", "€1.2 trillion", "$5-10 million", "₩3,500".
    (
        re.compile(
            r"(?P<cur>US\$|A\$|C\$|HK\$|[$£€¥₩₹])\s?(?P<a>"
            + _NUM
            + r")(?:\s?(?:-|–|to)\s?\$?(?P<b>"
            + _NUM
            + r"))?"
            r"(?:\s?(?P<scale>(?i:thousand|million|billion|trillion|mln|mn|bn|tn|[kmb]))\b)?",
        ),
        _money,
    ),
    # Cents: "99¢" / "99 cents" stays words.
    (re.compile(r"(\d+)\s?¢"), lambda m: f"{cardinal(int(m.group(1)))} cents"),
    # Percent ranges and percentages: "10-15%" -> "ten to fifteen percent".
    (
        re.compile(r"(" + _NUM + r")\s?%?\s?(?:-|–|to)\s?(" + _NUM + r")\s?%"),
        lambda m: f"{number(m.group(1))} to {number(m.group(2))} percent",
    ),
    (re.compile(r"(" + _NUM + r")\s?%"), lambda m: number(m.group(1)) + " percent"),
    (re.compile(r"%"), " percent"),
    # Dates: "Nov. 26, 2026", "November 26", "26 November 2026", "11/26/2026", "2026-11-26".
    (
        re.compile(r"\b" + _MONTH + r"\s(\d{1,2})(?:st|nd|rd|th)?\b(?:[-–](\d{1,2})\b)?(?:,?\s(\d{4})\b)?"),
        lambda m: (
            _date_mdy(_month_name(m.group(1)), m.group(2), m.group(4))
            + (f" to {ordinal(int(m.group(3)))}" if m.group(3) else "")
        ),
    ),
    (
        re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s" + _MONTH + r"(?:,?\s(\d{4})\b)?"),
        lambda m: (
            f"the {ordinal(int(m.group(1)))} of {_month_name(m.group(2))}"
            + (f", {year(int(m.group(3)))}" if m.group(3) else "")
        ),
    ),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b"), _numeric_date),
    (
        re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
        lambda m: (
            _date_mdy(_MONTHS[int(m.group(2)) - 1], m.group(3), m.group(1))
            if 1 <= int(m.group(2)) <= 12
            else m.group(0)
        ),
    ),
    # Month then year: "in March 2026".
    (
        re.compile(r"\b(" + "|".join(_MONTHS) + r")\s(\d{4})\b"),
        lambda m: f"{m.group(1)} {year(int(m.group(2)))}",
    ),
    # Times: "9:30 a.m.", "14:05", "9AM", "10 p.m.".
    (
        re.compile(
            r"\b(?P<h>[01]?\d|2[0-3]):(?P<min>[0-5]\d)(?:\s?(?P<ampm>[ap]\.?\s?m\b\.?))?|\b(?P<h2>1[0-2]|0?[1-9])\s?(?P<ampm2>[AaPp]\.?\s?[Mm]\b\.?)"
        ),
        lambda m: (
            _time(m)
            if m.group("h")
            else cardinal(int(m.group("h2"))) + " " + spell(m.group("ampm2")[0].upper() + "M")
        ),
    ),
    # Decades: "1990s" -> "nineteen nineties", "'90s" / "90s" -> "nineties".
    (re.compile(r"\b(1[5-9]|20)(\d0)'?s\b"), lambda m: _plural_year(year(int(m.group(1) + m.group(2))))),
    (re.compile(r"(?:'|\b)([2-9]0)'?s\b"), lambda m: _plural_year(cardinal(int(m.group(1))))),
    # Ranges of plain numbers and years: "2019-2021", "10-15 people", "pages 3–5".
    (
        re.compile(r"(?<![\w.-])(?P<a>" + _NUM + r")\s?[-–]\s?(?P<b>" + _NUM + r")(?![\w.]*\d)(?!-)"),
        _range,
    ),
    # Units: "5 km", "20°C", "120 km/h", "a 99-km road".
    (re.compile(r"(?P<n>" + _NUM + r")(?:\s?|(?P<hy>-))(?P<unit>" + _UNIT_ALT + r")(?![A-Za-z])"), _unit),
    # Ordinals: "21st", "99th".
    (re.compile(r"\b(\d+)(?:st|nd|rd|th)\b"), lambda m: ordinal(int(m.group(1)))),
    # Years in year position: "in 1998", "since 2019", "by 2004", "of 1997", and bare 4-digit numbers 1100-2099.
    (
        re.compile(
            r"(?<![\d,.$])\b(1[1-9]\d\d|20\d\d)\b(?![,.]\d)(?!\s?(?:people|times|persons|men|women|troops))"
        ),
        lambda m: year(int(m.group(1))),
    ),
    # Negative numbers: "-5" at a word boundary.
    (re.compile(r"(?<![\w-])-(" + _NUM + r")"), lambda m: "minus " + number(m.group(1))),
    # "#1" and "No. 1" are "number one"; "No." elsewhere is the word ending a sentence.
    (re.compile(r"#(?=\d)|\bNo\.\s?(?=\d)"), "number "),
    # Every other numeral.
    (re.compile(_NUM), lambda m: number(m.group(0))),
    # Roman numerals after a name: "World War II", "Elizabeth II".
    (re.compile(r"\b([A-Z][a-z]+) (II|III|IV|VI|VII|VIII|IX)\b"), _roman),
    # Abbreviations with periods.
    (
        re.compile(r"\bSt\.(?= [A-Z])"),
        "Saint",
    ),
    (re.compile(r"\bSt\."), "Street"),
    (_ABBR_RE, lambda m: _ABBREVIATIONS[m.group(1)]),
    # Dotted acronyms: "U.S." -> "U S", "a.m." spelled the same way.
    (re.compile(r"\b(?:[A-Za-z]\.){2,}"), _dotted_acronym),
    # All-caps acronyms: letter by letter unless pronounceable ("FBI" -> "F B I", "NATO" stays).
    (re.compile(r"\b([A-Z]{2,})(s?)\b"), _acronym),
    # Symbols.
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"(?<=\w)\+(?=\w)"), " plus "),
    (re.compile(r"\s\+\s"), " plus "),
    (re.compile(r"#(?=\w)"), "hashtag "),
    (re.compile(r"(?<=\s)@(?=\w)"), "at "),
    (re.compile(r"\s=\s"), " equals "),
    (re.compile(r"(?<=[A-Za-z])/(?=[A-Za-z])"), " slash "),
    (re.compile(r"[$€£¥₩₹¢]"), ""),
    *PAUSE_STEPS,
]


def apply_steps(steps: Sequence[tuple[re.Pattern[str], Any]], text: str) -> str:
    """Apply rewrite steps in order and trim the result."""
    for pattern, replacement in steps:
        text = pattern.sub(replacement, text)
    return text.strip()


def normalize_en(text: str) -> str:
    """Rewrite English text so a TTS engine reads numbers, symbols and abbreviations as words."""
    return apply_steps(STEPS, text)
