"""What ``extract`` returns: quantities, dates, cues and the facts of one text; the language rule."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
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
