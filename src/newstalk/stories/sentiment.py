"""Story sentiment in [-1, 1]: VADER for English, a hand-written morpheme lexicon for Korean.

Both languages score each sentence and average the sentences. Korean sums the lexicon scores of the
sentence's Kiwi morphemes (nouns, verb and adjective stems; ``data/ko_sentiment.tsv``) and squashes
the sum like VADER's compound, ``s / sqrt(s^2 + 15)``. A polar morpheme is negated (score times
-0.74, VADER's constant) when 안/못 stands right before a verb or adjective ("안 좋다"), or when
않다, 못(하다) or 없다 follows it within the same clause ("좋지 않다", "증가하지 못했다",
"피해는 없었다").

English uses VADER with ``EN_NEWS_TERMS`` added to its lexicon.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from newstalk.stories.keywords import ko_morphemes
from newstalk.stories.text import sentences

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

LEXICON_PATH = Path(__file__).parent / "data" / "ko_sentiment.tsv"
NEGATION_SCALAR = -0.74
ALPHA = 15.0
NEGATION_REACH = 4

_CONTENT_TAGS = frozenset({"NNG", "NNP", "VV", "VA", "XR"})
_PRE_NEGATORS = frozenset({("안", "MAG"), ("못", "MAG")})
_POST_NEGATORS = frozenset({("않", "VX"), ("못", "MAG"), ("못하", "VX"), ("없", "VA")})
_CLAUSE_END = frozenset({"EF", "SF", "SP"})
# Morphemes allowed between a polar word and its negator: particles, 하다, 지, tense.
_TRANSPARENT = frozenset({"XSV", "XSA", "JKS", "JX", "JKO", "EC", "EP", "ETM", "JKB"})


@functools.cache
def ko_lexicon(path: Path = LEXICON_PATH) -> dict[str, float]:
    """The Korean polarity lexicon: Kiwi morpheme form -> score in [-3, 3]."""
    lexicon: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        form, score = line.split("\t")
        lexicon[form.strip()] = float(score)
    return lexicon


# VADER's lexicon comes from social media and misses common market and disaster verbs of news copy;
# these valences (VADER's -4..4 scale) are added for this project.
EN_NEWS_TERMS: dict[str, float] = {
    "plunge": -2.0, "plunged": -2.0, "plunges": -2.0, "slump": -1.8, "slumped": -1.8, "slumps": -1.8,
    "tumble": -1.6, "tumbled": -1.6, "tumbles": -1.6, "slid": -1.0, "sank": -1.5, "losses": -1.5,
    "recession": -2.2, "bankrupt": -2.5, "bankruptcy": -2.5, "layoffs": -2.0, "dead": -3.0,
    "soar": 1.5, "soared": 1.5, "soars": 1.5, "surged": 1.2, "rebound": 1.2, "rebounded": 1.2,
    "record-breaking": 1.8, "recovery": 1.5,
}  # fmt: skip


@functools.cache
def _vader() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(EN_NEWS_TERMS)
    return analyzer


def _squash(total: float) -> float:
    return total / math.sqrt(total * total + ALPHA)


def _is_negated_after(tokens: list[tuple[str, str]], i: int) -> bool:
    for form, tag in tokens[i + 1 : i + 1 + NEGATION_REACH]:
        if (form, tag) in _POST_NEGATORS:
            return True
        if tag in _CLAUSE_END or (tag not in _TRANSPARENT and not (form == "하" and tag == "VV")):
            return False
    return False


def _korean_sentence_scores(text: str) -> list[float]:
    lexicon = ko_lexicon()
    scores: list[float] = []
    sentence: list[tuple[str, str]] = []

    def close() -> None:
        if not sentence:
            return
        total = 0.0
        for i, (form, tag) in enumerate(sentence):
            if tag not in _CONTENT_TAGS or form not in lexicon:
                continue
            value = lexicon[form]
            pre = i > 0 and sentence[i - 1] in _PRE_NEGATORS and tag in ("VV", "VA")
            if pre or _is_negated_after(sentence, i):
                value *= NEGATION_SCALAR
            total += value
        scores.append(_squash(total))
        sentence.clear()

    for form, tag in ko_morphemes(text):
        sentence.append((form, tag))
        if tag in ("EF", "SF"):
            close()
    close()
    return scores


def sentiment(text: str, lang: str) -> float:
    """Mean per-sentence polarity of ``text`` in [-1, 1]; 0.0 for empty or neutral text."""
    text = unicodedata.normalize("NFKC", text)
    if not text.strip():
        return 0.0
    if lang.lower().startswith("ko"):
        scores = _korean_sentence_scores(text)
    else:
        analyzer = _vader()
        scores = [float(analyzer.polarity_scores(s)["compound"]) for s in sentences(text, lang)]
    if not scores:
        return 0.0
    return max(-1.0, min(1.0, sum(scores) / len(scores)))
