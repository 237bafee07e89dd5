"""Cue words (negation, direction, attribution, comparison, cause, quotes) and named entities."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from newstalk.factcheck.facts.types import _HANGUL, Cue
from newstalk.stories.text import STOPWORDS, kiwi


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
