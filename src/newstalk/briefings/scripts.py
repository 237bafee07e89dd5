"""Scripts written for the ear: one per story, and daily briefings solo or as a conversation.

The offline default is extractive: a story's own summary and its outlets' lead sentences,
framed by templates per language and by the characters' template lines
(``speech.voices.Style``). Scripts keep the text as written; numbers, units and acronyms
are turned into words by ``speech.normalize`` right before synthesis, and durations are
estimated on that normalized text at the measured speaking rate of each engine.

A story script aims at 75 seconds and stays under 90: headline, what happened (the
story summary, other outlets' lead sentences, then the lead article read on), how
coverage differs (outlet count with up to four outlets named, outlets whose claims other
reporting confirms or contradicts) and the fact-check verdict when there is one, quoting
the outlet whose reporting contradicts the claim. A story with little text gets a shorter
script (one short article: 15-30 s); nothing is invented to fill time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from newstalk.speech.engines import split_sentences
from newstalk.speech.normalize import normalize_for_speech
from newstalk.speech.normalize_en import cardinal
from newstalk.speech.script import Line, Script
from newstalk.speech.voices import get_voice

# Speaking rates at rate 1.0, measured by tests/briefings/test_scripts.py with real synthesis:
# piper joe says about 3.1 words a second, espeak-ng ko about 5.5 Hangul syllables a second.
EN_WORDS_PER_S = 3.1
KO_SYLLABLES_PER_S = 5.5
SENTENCE_PAUSE_S = 0.25  # speech.audio.render puts this between sentences
LINE_PAUSE_S = 0.25
STORY_TARGET_S = 75.0
STORY_MAX_S = 90.0
# The first edition of a story's audio (docs/speech.md "Short first"): headline, the
# summary's first sentences and the check, so a new version is heard soon.
FIRST_TARGET_S = 20.0
FIRST_MAX_S = 25.0
BRIEFING_STORY_TARGET_S = 60.0
NEAR_REPEAT = 0.5  # word Jaccard at which a lead sentence repeats one already chosen
QUOTE_MAX_WORDS = 35
QUOTE_MAX_KO_CHARS = 90
NAMED_OUTLETS = 4  # a coverage line names at most this many outlets

SUPPORTED, REFUTED, DISPUTED, UNVERIFIED = "supported", "refuted", "disputed", "unverified"

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_WORD = re.compile(r"\w+", re.UNICODE)
_WIRE_PREFIX = re.compile(
    r"^[A-Z][A-Za-z .,'/-]{0,40}\((?:Reuters|AP|AFP|Bloomberg|UPI|CNN)\)\s*[-\u2013\u2014]+\s*"
)


@dataclass(frozen=True)
class ClaimFact:
    """A checked claim of one outlet's article, as the script needs it."""

    source_id: int
    text: str
    language: str
    verdict: str
    confidence: float
    score: float
    kinds: tuple[str, ...] = ()
    # The strongest evidence against the claim from another outlet: its name and its sentence.
    counter_outlet: str = ""
    counter_quote: str = ""


@dataclass(frozen=True)
class StoryInput:
    """What a story script is made from, in one language."""

    story_id: int
    version: int
    lang: str
    title: str
    summary: Sequence[str]
    leads: Sequence[Sequence[str]] = ()  # lead sentences per article, newest coverage first
    outlet_count: int = 1
    claims: Sequence[ClaimFact] = field(default_factory=tuple)
    body: Sequence[str] = ()  # the lead article's sentences in reading order, read after the leads
    outlets: Sequence[str] = ()  # outlet names, most coverage first


def lang_of(text: str) -> str:
    """'ko' for text that is mostly Hangul, else 'en'."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    return "ko" if sum(1 for c in letters if _HANGUL.match(c)) / len(letters) > 0.3 else "en"


def estimate_seconds(text: str, lang: str, rate: float = 1.0) -> float:
    """Seconds a voice at ``rate`` takes to say ``text`` (pauses between sentences included)."""
    spoken = normalize_for_speech(text, lang)
    sentences = max(1, len(split_sentences(spoken)))
    if lang == "ko":
        units = len(_HANGUL.findall(spoken)) + 0.5 * sum(1 for c in spoken if c.isascii() and c.isalnum())
        speaking = units / (KO_SYLLABLES_PER_S * rate)
    else:
        speaking = len(_WORD.findall(spoken)) / (EN_WORDS_PER_S * rate)
    return speaking + SENTENCE_PAUSE_S * (sentences - 1)


def script_seconds(script: Script, rates: dict[str, float] | None = None) -> float:
    """Estimated length of a script, each line at its speaker's rate."""
    total = 0.0
    for line in script.lines:
        rate = (rates or {}).get(line.speaker) or get_voice(line.speaker).rendition(script.lang).rate
        total += estimate_seconds(line.text, script.lang, rate) + LINE_PAUSE_S
    return total


def count_words(text: str, lang: str) -> int:
    """Words as a listener hears them (after normalization)."""
    return len(_WORD.findall(normalize_for_speech(text, lang)))


def _tokens(sentence: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(sentence))


def _clean(sentence: str) -> str:
    return " ".join(_WIRE_PREFIX.sub("", sentence).split())


_JONG_N, _JONG_L, _JONG_B = 4, 8, 17


def polite_ko(sentence: str) -> str:
    """Turn the written plain ending of a Korean news sentence into the spoken polite one.

    Newspapers write "인상했다", "전망이다", "한다"; an anchor says "인상했습니다",
    "전망입니다", "합니다". Only a sentence ending in "다." (or "다") changes.
    """
    s = sentence.rstrip()
    end = "." if s.endswith(".") else ""
    core = s[: len(s) - len(end)]
    if not core.endswith("다") or len(core) < 2 or not _HANGUL.match(core[-2]):
        return sentence
    if core.endswith("는다") and len(core) >= 3:
        return core[:-2] + "습니다" + end
    prev = ord(core[-2]) - 0xAC00
    jong = prev % 28
    if jong == 0:
        return core[:-2] + chr(0xAC00 + prev + _JONG_B) + "니다" + end
    if jong in (_JONG_N, _JONG_L):  # 한다 -> 합니다, 길다 -> 깁니다
        return core[:-2] + chr(0xAC00 + prev - jong + _JONG_B) + "니다" + end
    return core[:-1] + "습니다" + end


def _end(sentence: str) -> str:
    s = sentence.strip()
    return s if s[-1:] in ".!?。\"'”’" else s + "."


def _count_en(n: int, noun: str, plural: str | None = None) -> str:
    word = cardinal(n) if 0 <= n <= 20 else str(n)
    return f"{word} {noun if n == 1 else (plural or noun + 's')}"


def happened(story: StoryInput, budget_s: float, rate: float) -> list[str]:
    """Summary sentences, other outlets' lead sentences, then the lead article read on, up to ``budget_s``.

    A sentence that nearly repeats one already chosen (or the headline) is skipped.
    """
    chosen: list[str] = []
    seen: list[frozenset[str]] = [_tokens(story.title)]
    used = 0.0
    pool = [*story.summary, *(s for lead in story.leads for s in lead), *story.body]
    for raw in pool:
        sentence = _clean(raw)
        if not sentence or lang_of(sentence) != story.lang:
            continue
        toks = _tokens(sentence)
        if not toks or any(len(toks & t) / len(toks | t) >= NEAR_REPEAT for t in seen):
            continue
        cost = estimate_seconds(sentence, story.lang, rate) + SENTENCE_PAUSE_S
        if chosen and used + cost > budget_s:
            if used >= budget_s * 0.8:
                break
            continue
        chosen.append(polite_ko(_end(sentence)) if story.lang == "ko" else _end(sentence))
        seen.append(toks)
        used += cost
    return chosen


def _outlets_by_verdict(claims: Sequence[ClaimFact]) -> dict[str, set[int]]:
    by: dict[str, set[int]] = {}
    for c in claims:
        by.setdefault(c.verdict, set()).add(c.source_id)
    return by


def coverage_sentences(story: StoryInput) -> list[str]:
    """How coverage differs: outlet count, then outlets confirmed or contradicted by other reporting."""
    n = story.outlet_count
    by = _outlets_by_verdict(story.claims)
    confirm = len(by.get(SUPPORTED, set()))
    differ = len(by.get(REFUTED, set()))
    disputed = len(by.get(DISPUTED, set()) - by.get(REFUTED, set()))
    numbers = any("number" in c.kinds for c in story.claims if c.verdict in (SUPPORTED, REFUTED))
    # An English voice cannot say a Hangul name; a Korean one reads Latin names letter by letter.
    sayable = [x.strip() for x in story.outlets if x.strip() and (story.lang == "ko" or lang_of(x) == "en")]
    names = list(dict.fromkeys(sayable))[:NAMED_OUTLETS]
    if story.lang == "ko":
        if n <= 1:
            first = (
                f"아직 {names[0]} 한 곳만 이 소식을 전했습니다."
                if names
                else "아직 한 곳의 언론사만 이 소식을 전했습니다."
            )
        elif names and n == len(names):
            first = f"{', '.join(names)}, 이렇게 {n}개 언론사가 이 소식을 보도했습니다."
        elif names:
            first = f"{', '.join(names)} 등 {n}개 언론사가 이 소식을 보도했습니다."
        else:
            first = f"이 소식은 {n}개 언론사가 보도했습니다."
        out = [first]
        topic, obj = ("수치는", "수치를") if numbers else ("핵심 내용은", "내용을")
        parts = []
        if confirm:
            parts.append(f"{confirm}곳의 {topic} 다른 보도로 확인됐고")
        if differ:
            parts.append(f"{differ}곳은 다른 {obj} 보도했습니다")
        if parts:
            sentence = ", ".join(parts)
            out.append(sentence + "." if differ else sentence.removesuffix("고") + "습니다.")
        if disputed:
            out.append(f"{disputed}곳의 보도는 다른 언론과 엇갈립니다.")
        return out
    if n <= 1:
        first = (
            f"So far, only {names[0]} has reported this."
            if names
            else "So far, only one outlet has reported this."
        )
    elif names:
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        among = "" if n == len(names) else "among them "
        first = f"{_count_en(n, 'outlet').capitalize()} are covering this story, {among}{listed}."
    else:
        first = f"{_count_en(n, 'outlet').capitalize()} are covering this story."
    out = [first]
    what = "figure" if numbers else "main facts"
    clauses = []
    if confirm:
        verb = "confirms" if confirm == 1 else "confirm"
        clauses.append(f"{_count_en(confirm, 'outlet')} {verb} the {what}")
    if differ:
        verb = "reports" if differ == 1 else "report"
        thing = "a different number" if numbers else "it differently"
        # "three outlets confirm the figure; one reports a different number"
        who = _count_en(differ, "outlet") if not confirm else _count_en(differ, "outlet").split()[0]
        clauses.append(f"{who} {verb} {thing}")
    if clauses:
        sentence = _end("; ".join(clauses))
        out.append(sentence[0].upper() + sentence[1:])
    if disputed:
        verb = "disagrees" if disputed == 1 else "disagree"
        out.append(f"{_count_en(disputed, 'outlet').capitalize()} {verb} with the others on the details.")
    return out


def _quotable(text: str, lang: str) -> bool:
    if lang == "ko":
        return len(text.replace(" ", "")) <= QUOTE_MAX_KO_CHARS
    return len(text.split()) <= QUOTE_MAX_WORDS


# How a verdict is said; an LLM rewrite must keep these words (briefings/rewrite.py checks).
VERDICT_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        SUPPORTED: "other reporting supports this.",
        REFUTED: "other reports contradict this.",
        DISPUTED: "reports disagree on this.",
    },
    "ko": {
        SUPPORTED: "다른 보도로 뒷받침됩니다.",
        REFUTED: "다른 보도와 어긋납니다.",
        DISPUTED: "보도마다 엇갈립니다.",
    },
}


def verdict_sentences(story: StoryInput, already_said: Sequence[str]) -> list[str]:
    """The fact-check verdict on the story's most check-worthy decided claim, if any."""
    decided = [c for c in story.claims if c.verdict in (SUPPORTED, REFUTED, DISPUTED)]
    if not decided:
        return []
    top = max(decided, key=lambda c: (c.score, c.confidence))
    said = {_tokens(s) for s in already_said}
    claim = _clean(top.text)
    repeated = any(len(_tokens(claim) & t) / max(1, len(_tokens(claim) | t)) >= NEAR_REPEAT for t in said)
    quote = claim if (top.language == story.lang and _quotable(claim, story.lang) and not repeated) else None
    counter = _clean(top.counter_quote)
    against = (
        top.verdict in (REFUTED, DISPUTED)
        and top.counter_outlet.strip()
        and counter
        and lang_of(counter) == story.lang
        and _quotable(counter, story.lang)
    )
    if story.lang == "ko":
        endings = VERDICT_PHRASES["ko"]
        if quote:
            out = ["팩트체크 결과입니다.", polite_ko(_end(quote)), f"이 내용은 {endings[top.verdict]}"]
        else:
            out = [f"팩트체크 결과, 이 소식의 핵심 주장은 {endings[top.verdict]}"]
        if against:
            out += [f"{top.counter_outlet.strip()}의 보도는 이렇습니다.", polite_ko(_end(counter))]
        return out
    endings_en = VERDICT_PHRASES["en"]
    if quote:
        out = ["Fact check.", _end(quote), endings_en[top.verdict].capitalize()]
    else:
        out = [f"Our fact check of the key claim: {endings_en[top.verdict]}"]
    if against:
        out.append(f"{top.counter_outlet.strip()} reports: {_end(counter)}")
    return out


@dataclass(frozen=True)
class StoryParts:
    headline: str
    happened: list[str]
    coverage: list[str]
    verdict: list[str]


def story_parts(story: StoryInput, *, target_s: float, max_s: float, rate: float) -> StoryParts:
    """The four parts of a story script, with 'what happened' filling the time the others leave."""
    headline = _end(_clean(story.title))
    coverage = coverage_sentences(story)
    verdict = verdict_sentences(story, [*story.summary])
    fixed = sum(
        estimate_seconds(s, story.lang, rate) + SENTENCE_PAUSE_S for s in [headline, *coverage, *verdict]
    )
    body = happened(story, max(0.0, min(target_s, max_s) - fixed), rate)
    # The verdict quotes a claim only if "what happened" did not just say it.
    verdict = verdict_sentences(story, [*body])
    return StoryParts(headline, body, coverage, verdict)


def story_script(
    story: StoryInput, voice: str = "anchor", *, target_s: float = STORY_TARGET_S, max_s: float = STORY_MAX_S
) -> Script:
    """A script of about 75 s (at most 90) for one story in one voice; shorter when the story has little text."""
    rate = get_voice(voice).rendition(story.lang).rate
    p = story_parts(story, target_s=target_s, max_s=max_s, rate=rate)
    chapter = _clean(story.title)
    lines = [Line(voice, p.headline, chapter)]
    if p.happened:
        lines.append(Line(voice, " ".join(p.happened), chapter))
    lines.append(Line(voice, " ".join([*p.coverage, *p.verdict]), chapter))
    return Script("story", story.lang, "solo", chapter, tuple(lines), (story.story_id,))


def first_story_script(story: StoryInput, voice: str = "anchor") -> Script:
    """The short first edition of a story's script (about 20 s): the headline, the summary's
    first sentences and the fact-check; who reports it waits for the full script."""
    rate = get_voice(voice).rendition(story.lang).rate
    headline = _end(_clean(story.title))
    verdict = verdict_sentences(story, [*story.summary])
    fixed = sum(estimate_seconds(s, story.lang, rate) + SENTENCE_PAUSE_S for s in [headline, *verdict])
    body = happened(story, max(0.0, FIRST_TARGET_S - fixed), rate)
    verdict = verdict_sentences(story, [*body])
    chapter = _clean(story.title)
    lines = [Line(voice, headline, chapter)]
    if body:
        lines.append(Line(voice, " ".join(body), chapter))
    if verdict:
        lines.append(Line(voice, " ".join(verdict), chapter))
    return Script("story", story.lang, "solo", chapter, tuple(lines), (story.story_id,))


def _date_phrase(date: str, lang: str) -> str:
    _year, m, d = (int(x) for x in date.split("-"))
    if lang == "ko":
        return f"{m}월 {d}일"
    months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    return f"{months[m - 1]} {d}"


INTRO_EN, OUTRO_EN = "Intro", "Outro"
INTRO_KO, OUTRO_KO = "오프닝", "클로징"


def _intro_outro(lang: str) -> tuple[str, str]:
    return (INTRO_KO, OUTRO_KO) if lang == "ko" else (INTRO_EN, OUTRO_EN)


def _count_line(n: int, date: str, lang: str) -> str:
    if lang == "ko":
        return f"{_date_phrase(date, lang)}, 주요 뉴스 {n}건을 전해 드립니다."
    return f"It's {_date_phrase(date, lang)}, and we have {_count_en(n, 'story', 'stories')} for you."


def daily_briefing(
    stories: Sequence[StoryInput],
    *,
    voice: str = "anchor",
    lang: str,
    date: str,
    story_target_s: float = BRIEFING_STORY_TARGET_S,
) -> Script:
    """A solo daily briefing: the character's greeting, each story with transitions, sign-off."""
    character = get_voice(voice)
    style = character.style[lang]
    rate = character.rendition(lang).rate
    intro, outro = _intro_outro(lang)
    picked = [s for s in stories if s.lang == lang]
    lines = [Line(voice, f"{style.greeting} {_count_line(len(picked), date, lang)}", intro)]
    for i, story in enumerate(picked):
        p = story_parts(story, target_s=story_target_s, max_s=STORY_MAX_S, rate=rate)
        chapter = _clean(story.title)
        opening = f"{style.transition} {p.headline}" if i else p.headline
        lines.append(Line(voice, opening, chapter))
        if p.happened:
            lines.append(Line(voice, " ".join(p.happened), chapter))
        lines.append(Line(voice, " ".join([*p.coverage, *p.verdict]), chapter))
    lines.append(Line(voice, style.sign_off, outro))
    title = _briefing_title(date, lang)
    return Script("briefing", lang, "solo", title, tuple(lines), tuple(s.story_id for s in picked))


def _briefing_title(date: str, lang: str) -> str:
    return f"{date} 오늘의 뉴스 브리핑" if lang == "ko" else f"Daily briefing, {date}"


_ASK = {
    "en": ("What do we know so far?", "What happened?", "Tell us more."),
    "ko": ("어떤 내용인가요?", "자세히 전해 주시죠.", "무슨 일이 있었나요?"),
}
_COVERAGE_CUE = {"en": "And the coverage?", "ko": "보도는 어떻게 나오고 있나요?"}
_WELCOME = {
    "en": ("Great to be here.", "Hello, everyone."),
    "ko": ("네, 반갑습니다.", "안녕하세요, 함께합니다."),
}


def _say(lines: list[Line], speaker: str, text: str, chapter: str) -> None:
    """Append a turn; a speaker who already has the floor in this chapter just keeps talking."""
    if lines and lines[-1].speaker == speaker and lines[-1].chapter == chapter:
        lines[-1] = Line(speaker, f"{lines[-1].text} {text}", chapter)
    else:
        lines.append(Line(speaker, text, chapter))


def conversation_briefing(
    stories: Sequence[StoryInput],
    *,
    voices: Sequence[str],
    lang: str,
    date: str,
    story_target_s: float = BRIEFING_STORY_TARGET_S,
) -> Script:
    """A daily briefing as a conversation of two or three characters taking turns story by story."""
    if not 2 <= len(voices) <= 3 or len(set(voices)) != len(voices):
        raise ValueError("briefings: a conversation needs two or three different characters")
    chars = [get_voice(v) for v in voices]
    intro, outro = _intro_outro(lang)
    picked = [s for s in stories if s.lang == lang]
    host = chars[0]
    lines = [
        Line(host.key, f"{host.style[lang].greeting} {_count_line(len(picked), date, lang)}", intro),
        *(Line(c.key, _WELCOME[lang][i], intro) for i, c in enumerate(chars[1:])),
    ]
    n = len(chars)
    for i, story in enumerate(picked):
        lead, teller = chars[i % n], chars[(i + 1) % n]
        analyst = chars[(i + 2) % n] if n == 3 else lead
        rate = min(c.rendition(lang).rate for c in chars)
        p = story_parts(story, target_s=story_target_s, max_s=STORY_MAX_S, rate=rate)
        chapter = _clean(story.title)
        opening = f"{lead.style[lang].transition} {p.headline}" if i else p.headline
        if p.happened:
            _say(lines, lead.key, f"{opening} {_ASK[lang][i % 3]}", chapter)
            _say(lines, teller.key, " ".join(p.happened), chapter)
        else:
            _say(lines, lead.key, opening, chapter)
        if analyst.key != lead.key:
            _say(lines, lead.key, _COVERAGE_CUE[lang], chapter)
        _say(lines, analyst.key, " ".join([*p.coverage, *p.verdict]), chapter)
    # Whoever did not speak last signs off, so the turns keep alternating.
    closer = chars[1] if lines[-1].speaker == host.key else host
    lines.append(Line(closer.key, closer.style[lang].sign_off, outro))
    title = _briefing_title(date, lang)
    return Script("briefing", lang, "conversation", title, tuple(lines), tuple(s.story_id for s in picked))


def text_script(text: str, *, voice: str, lang: str, title: str = "") -> Script:
    """A caller's own text as a one-line script (POST /api/v1/voice)."""
    clean = text.strip()
    return Script("text", lang, "solo", title or clean[:80], (Line(voice, clean, title or "Text"),))
