"""Rewrite template scripts for the ear with an OpenAI-compatible chat model, under guardrails.

The template script (``briefings.scripts``) is always written first and is always a safe
answer. When ``NEWSTALK_LLM_URL`` is set, ``ScriptRewriter`` asks the model to make a story
script, or a daily briefing's links (greeting, transitions into each story, sign-off),
sound like the character who speaks it, and keeps the rewrite only if it passes every check:

- every number of the template (digits, and English number words such as "fourteen
  outlets") is still there;
- every name is still there: capitalized words inside English sentences and acronyms,
  Kiwi's proper nouns (NNP) in Korean;
- the fact-check verdict survives: its words (``scripts.VERDICT_PHRASES``, e.g. "other
  reporting supports this") are still there, and no verdict word of another kind
  ("supports", "contradict", "disagree"; 뒷받침, 어긋, 엇갈) appears that was not there;
- the length stays in budget: a story script at most 90 s and not under 60 s (or under
  the template when the template is shorter: nothing is invented to fill time); a
  briefing link at most a few seconds longer than the template's.

Anything else (the model is down, slow, answers malformed JSON, fails a check) keeps the
template. Results, kept or rejected, are cached in process by the template's content hash
and the model, so a story whose words did not change is never sent twice; the briefings
stage fills the cache before it opens its database transaction and reads it inside.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from newstalk.briefings.models import BRIEFING
from newstalk.briefings.scripts import (
    STORY_MAX_S,
    VERDICT_PHRASES,
    estimate_seconds,
    script_seconds,
)
from newstalk.kit import metrics
from newstalk.kit.numwords import EN_ONES, EN_TENS
from newstalk.providers.llm import ChatClient
from newstalk.speech.script import Line, Script
from newstalk.speech.voices import get_voice

log = logging.getLogger(__name__)

PROMPT_VERSION = "rewrite-1"
STORY_MIN_S = 60.0
LINK_SLACK_S = 4.0
CACHE_SIZE = 4096
MAX_TOKENS = 1200

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_EN_NUMBER_WORDS = frozenset(w for w in (*EN_ONES, *EN_TENS) if w != "_") | {
    "hundred",
    "thousand",
    "million",
    "billion",
    "trillion",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|[\"“(]\s*)$")
# Words a verdict is said with, per family; the template uses one family per claim.
VERDICT_FAMILIES: dict[str, tuple[str, ...]] = {
    "supported": ("support", "confirm", "뒷받침"),
    "refuted": ("contradict", "refute", "어긋"),
    "disputed": ("disagree", "dispute", "엇갈"),
}
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"lines": {"type": "array", "items": {"type": "string"}}},
    "required": ["lines"],
    "additionalProperties": False,
}


def numbers(text: str) -> list[str]:
    """The numbers a text says: digit groups (separators dropped) and English number words."""
    found = [m.group(0).replace(",", "") for m in _NUMBER.finditer(text)]
    found += [w.lower() for w in _WORD.findall(text) if w.lower() in _EN_NUMBER_WORDS]
    return found


def names(text: str, lang: str) -> set[str]:
    """Names a text mentions: proper nouns (Korean) or mid-sentence capitals and acronyms (English)."""
    if lang == "ko":
        from newstalk.stories.text import kiwi

        return {t.form for t in kiwi().tokenize(text) if t.tag == "NNP"}
    out = set()
    for m in _WORD.finditer(text):
        word = m.group(0).rstrip("'’-")
        if len(word) >= 2 and word.isupper():
            out.add(word)  # an acronym, wherever it stands
        elif word[0].isupper() and not _SENTENCE_START.search(text[: m.start()]):
            out.add(word.removesuffix("'s").removesuffix("’s"))
    return out


def verdicts(text: str) -> set[str]:
    """The verdict families a text uses."""
    low = text.lower()
    return {v for v, stems in VERDICT_FAMILIES.items() if any(s in low for s in stems)}


def check(template: str, rewritten: str, lang: str) -> str | None:
    """Why ``rewritten`` may not replace ``template`` (numbers, names, verdict), or None."""
    have = numbers(rewritten)
    missing_numbers = [n for n in dict.fromkeys(numbers(template)) if have.count(n) < 1]
    if missing_numbers:
        return f"numbers dropped: {', '.join(missing_numbers)}"
    low = rewritten.casefold()
    missing_names = sorted(n for n in names(template, lang) if n.casefold() not in low)
    if missing_names:
        return f"names dropped: {', '.join(missing_names)}"
    for phrase in verdict_phrases(template, lang):
        if phrase not in low:
            return f"verdict changed: {phrase!r} is gone"
    added = verdicts(rewritten) - verdicts(template)
    if added:
        return f"verdict changed: says {', '.join(sorted(added))} where the template did not"
    return None


def verdict_phrases(text: str, lang: str) -> list[str]:
    """The verdict wordings (casefolded, without the full stop) a text contains."""
    low = text.casefold()
    wordings = (p.rstrip(".").casefold() for p in VERDICT_PHRASES.get(lang, {}).values())
    return [p for p in wordings if p in low]


def link_indices(script: Script) -> list[int]:
    """Lines of a briefing that link the stories: intro, each story's opening line, sign-off."""
    out = []
    for i, line in enumerate(script.lines):
        if i == 0 or i == len(script.lines) - 1 or line.chapter != script.lines[i - 1].chapter:
            out.append(i)
    return out


@dataclass(frozen=True)
class Outcome:
    """What became of one template: the script to use and why."""

    script: Script
    rewritten: bool
    reason: str  # "rewritten", or why the template was kept


class ScriptRewriter:
    """Rewrites scripts through one chat client; thread-safe, results cached by content hash."""

    def __init__(self, client: ChatClient, *, cache_size: int = CACHE_SIZE) -> None:
        self.client = client
        self._cache: OrderedDict[str, Outcome] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the chat client (the process is stopping)."""
        self.client.close()

    def cache_key(self, template: Script) -> str:
        """The template's content hash with the model and prompt version."""
        doc = f"{template.content_hash()}\n{self.client.base_url}\n{self.client.model}\n{PROMPT_VERSION}"
        return hashlib.sha256(doc.encode("utf-8")).hexdigest()

    def cached(self, template: Script) -> Outcome | None:
        """The outcome for this template if it was rewritten (or rejected) before."""
        with self._lock:
            hit = self._cache.get(self.cache_key(template))
            if hit is not None:
                self._cache.move_to_end(self.cache_key(template))
            return hit

    def rewrite(self, template: Script) -> Outcome:
        """The rewritten script if it passes every check, else the template (blocking: one HTTP call)."""
        hit = self.cached(template)
        if hit is not None:
            return hit
        try:
            outcome = self._rewrite(template)
        except Exception as exc:  # any failure keeps the template; the next version tries again
            log.warning("briefings: rewrite failed, template kept: %s", exc)
            metrics.SCRIPT_REWRITES.labels(outcome="error").inc()
            return Outcome(template, False, f"error: {type(exc).__name__}")
        metrics.SCRIPT_REWRITES.labels(outcome="rewritten" if outcome.rewritten else "rejected").inc()
        if not outcome.rewritten:
            log.info("briefings: rewrite of %r rejected, template kept: %s", template.title, outcome.reason)
        with self._lock:
            self._cache[self.cache_key(template)] = outcome
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return outcome

    def _rewrite(self, template: Script) -> Outcome:
        targets = link_indices(template) if template.kind == BRIEFING else list(range(len(template.lines)))
        originals = [template.lines[i] for i in targets]
        answer = self.client.complete_json(
            _messages(template, originals),
            schema=_SCHEMA,
            name="script_rewrite",
            max_tokens=MAX_TOKENS,
            temperature=0.4,
        )
        texts = answer.get("lines")
        if not isinstance(texts, list) or len(texts) != len(originals):
            return Outcome(template, False, f"expected {len(originals)} lines in a JSON 'lines' list")
        if not all(isinstance(t, str) and t.strip() for t in texts):
            return Outcome(template, False, "an empty or non-text line")
        lines = list(template.lines)
        for i, text in zip(targets, texts, strict=True):
            lines[i] = Line(lines[i].speaker, " ".join(text.split()), lines[i].chapter)
        candidate = replace(template, lines=tuple(lines))
        before = " ".join(x.text for x in originals)
        after = " ".join(lines[i].text for i in targets)
        problem = check(before, after, template.lang)
        if problem is None:
            problem = _over_budget(template, candidate, targets)
        if problem is not None:
            return Outcome(template, False, problem)
        return Outcome(candidate, True, "rewritten")


def _over_budget(template: Script, candidate: Script, targets: Sequence[int]) -> str | None:
    if template.kind != BRIEFING:
        was, now = script_seconds(template), script_seconds(candidate)
        low = min(STORY_MIN_S, was)
        if not low <= now <= STORY_MAX_S:
            return f"length {now:.0f} s outside {low:.0f}-{STORY_MAX_S:.0f} s"
        return None
    for i in targets:
        old, new = template.lines[i], candidate.lines[i]
        rate = get_voice(old.speaker).rendition(template.lang).rate
        was = estimate_seconds(old.text, template.lang, rate)
        now = estimate_seconds(new.text, template.lang, rate)
        if now > was + LINK_SLACK_S:
            return f"link {i} grew from {was:.0f} s to {now:.0f} s"
    return None


def _messages(template: Script, lines: Sequence[Line]) -> list[dict[str, str]]:
    who = {}
    for line in lines:
        voice = get_voice(line.speaker)
        style = voice.style[template.lang]
        who[voice.key] = (
            f"- {voice.key}: {voice.name}, {voice.description}. "
            f"Sounds like: {style.greeting!r} / {style.transition!r} / {style.sign_off!r}"
        )
    language = "Korean (polite 합니다/해요 speech)" if template.lang == "ko" else "English"
    what = (
        "the lines that link the stories of a daily news briefing (greeting, the opening of each "
        "story, sign-off)"
        if template.kind == BRIEFING
        else "a news story script of 60 to 90 seconds"
    )
    system = (
        f"You rewrite {what} so it sounds natural read aloud by the character who says each line. "
        f"Characters:\n{chr(10).join(who.values())}\n"
        f"Rules: write in {language}. Keep every number, name, place and organisation exactly as given, "
        "and keep the fact check's verdict words exactly as written (for example "
        f"{next(iter(VERDICT_PHRASES[template.lang].values()))!r}). Add no facts, opinions or sources. Short spoken sentences, no lists, no markdown. "
        "Keep each line about as long as the original. "
        'Answer with a JSON object {"lines": [...]} holding one rewritten string per input line, in order.'
    )
    numbered = "\n".join(f"{n + 1}. [{line.speaker}] {line.text}" for n, line in enumerate(lines))
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Rewrite these {len(lines)} lines as JSON:\n{numbered}"},
    ]
