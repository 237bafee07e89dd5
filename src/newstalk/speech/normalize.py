"""Text normalization before speech synthesis: the one entry point briefings call.

Korean goes through ``normalize_ko`` and every other language through the English
rules in ``normalize_en`` (numbers and symbols are the part of the text that most
often needs rewriting, and English readings are the safest default for unknown
languages).
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

from newstalk.speech.normalize_en import normalize_en
from newstalk.speech.normalize_ko import normalize_ko

__all__ = ["normalize_for_speech"]

# Hangul compatibility jamo (ㅋㅋ, ㅠㅠ) must stay as they are: NFKC would turn them into
# conjoining jamo that render and read badly. Superscript ² and ³ stay for "km²", "m³".
_KEEP = re.compile(r"[\u3130-\u318f²³]")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\ufeff]")


# Korean pages encoded in EUC-KR but decoded as Latin-1 turn curly quotes and the euro sign
# into these pairs; they are common enough in scraped Korean news to repair.
_EUC_KR_MOJIBAKE = {"¡°": "“", "¡±": "”", "¡®": "‘", "¡¯": "’", "¢æ": "€", "¡¦": "…", "¡¤": "·"}
_MOJIBAKE = re.compile("|".join(_EUC_KR_MOJIBAKE))

# Spacing accents used as quote marks; NFKC would turn them into a space and a combining mark.
_SPACING_MARKS = str.maketrans({"\u00b4": "'", "\u02dd": '"', "\u0060": "'", "\u00a8": '"'})


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    return char if _KEEP.match(char) else unicodedata.normalize("NFKC", char)


def _prepare(text: str) -> str:
    """Decode HTML entities and fold width and compatibility forms (１２ -> 12, ㎞ -> km, ℃ -> °C)."""
    text = _MOJIBAKE.sub(lambda m: _EUC_KR_MOJIBAKE[m.group(0)], html.unescape(text))
    text = text.translate(_SPACING_MARKS)
    text = "".join(_fold(c) for c in text)
    # NFKC turns "½" into "1⁄2"; the fraction slash reads like a plain slash.
    text = text.replace("\u2044", "/")
    return _CONTROL.sub("", text)


def normalize_for_speech(text: str, lang: str) -> str:
    """Rewrite text so a TTS engine reads numbers, money, dates, units, acronyms and symbols naturally."""
    text = _prepare(text)
    if lang.lower().split("-")[0] == "ko":
        return normalize_ko(text)
    return normalize_en(text)
