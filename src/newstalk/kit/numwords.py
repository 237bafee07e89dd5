"""The one English number-word table.

The speech normalizer (``speech.normalize_en``) spells numbers with it, story scripts count
outlets with it, and fact-checking (``factcheck/facts/quantities.py``) reads it back into
numbers. It lives in kit because those packages sit at different layers and must not import
each other for a table of words.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    """Split a whitespace-separated word list written as one string."""
    return tuple(text.split())


EN_ONES = _words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
EN_TENS = _words("_ _ twenty thirty forty fifty sixty seventy eighty ninety")
