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
from collections.abc import Sequence
from typing import Any

from newstalk.factcheck.facts.cues import (
    _ATTRIBUTION_EN,
    _ATTRIBUTION_KO,
    _CAUSAL_EN,
    _CAUSAL_KO,
    _COMPARISON_EN,
    _COMPARISON_KO,
    _DOWN_EN,
    _NEGATION_CONTRACTION,
    _NEGATION_EN,
    _NEGATION_KO_RE,
    _QUOTE,
    _UP_EN,
    _cues,
    _english_entities,
    _entity_tokens,
    _korean_analysis,
)
from newstalk.factcheck.facts.dates import _dates
from newstalk.factcheck.facts.quantities import _quantities, _years_as_dates
from newstalk.factcheck.facts.types import _HANGUL, Cue, DateRef, Facts, Quantity, resolve_lang
from newstalk.stories.text import STOPWORDS, normalize_text

__all__ = ["Cue", "DateRef", "Facts", "Quantity", "extract", "extract_with_tokens", "resolve_lang"]


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
