"""Answers to a listener's question from a story's articles, in memory (no database here).

Retrieval reuses the fact-checker's pieces: ``Checker.sentences`` (``claims.sentence_spans``,
Kiwi for Korean, so offsets slice the article text exactly), ``Checker.tokens`` (Kiwi
content morphemes for Korean, stopword-free words otherwise) and its cached multilingual-e5
encoder, so a Korean question finds English coverage too. Each sentence gets

    relevance = cosine(query, sentence) + LEXICAL_WEIGHT * lexical + KIND_BONUS * [kind asked for]

where ``lexical`` is the IDF-weighted share of the query's content words in the sentence
(IDF over the story's sentences) and the kind bonus rewards a sentence carrying what the
question word asks for ("why"/"왜" a cause, "how many"/"몇" a number; read with
``factcheck.facts``). Nothing at or above ``THRESHOLD``: the coverage doesn't say. The
thresholds were set by hand from probe questions on real articles; ``benchmarks/ask.py``
checks them against a labelled set derived from real data (docs/ask.md says how).

A follow-up ("why?", "그 이유는?", or a question leaning on "it"/"그") is read against the
previous turn: its question and answer join the query (their words weigh half), and the
sentences cited in the context window are demoted a little so a follow-up brings new facts.

With a chat model the retrieved passages and the last ``CONTEXT_TURNS`` turns go to the
model, which must cite passage ids; ids that are not among the passages are dropped, and an
answer left with no valid citation falls back to the extractive one.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from newstalk.errors import Unavailable
from newstalk.factcheck.checker import Checker, Document, same_script
from newstalk.factcheck.claims import kinds_of
from newstalk.factcheck.facts import extract, resolve_lang
from newstalk.providers.llm import ChatClient
from newstalk.stories.text import normalize_text

log = logging.getLogger(__name__)

CONTEXT_TURNS = 5
MAX_CITATIONS = 3
# Set by hand from probe questions; benchmarks/ask.py reports the best cut on its calibration half.
THRESHOLD = 0.86
# A sentence in the other script shares no words with the question (lexical is 0), so it
# needs its own, lower bar.
CROSS_THRESHOLD = 0.84
LEXICAL_WEIGHT = 0.15
KIND_BONUS = 0.02
CONTEXT_WEIGHT = 0.5  # weight of the previous turn's words in a bare follow-up's query
WEAK_CONTEXT_WEIGHT = 0.2  # ... in a follow-up that has words of its own
REPEAT_PENALTY = 0.03  # a follow-up prefers sentences not cited in the context window yet
EXTRA_MARGIN = 0.04  # a second or third citation must score within this of the best
EMBED_ALL_BELOW = 80  # stories with fewer sentences have every sentence embedded
LEXICAL_SHORTLIST = 40
LEAD_SENTENCES = 3
LLM_PASSAGES = 8

NOT_FOUND = {
    "en": "The coverage doesn't say.",
    "ko": "보도된 기사에는 그 내용이 나오지 않습니다.",
}

_INTENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("causal", re.compile(r"\bwhy\b|\breasons?\b|\bcause[sd]?\b|왜|이유|원인|때문", re.I)),
    (
        "number",
        re.compile(
            r"\bhow (?:many|much|big|large|long|far|old)\b|\bwhat (?:percentage|share)\b|몇|얼마|규모|수치",
            re.I,
        ),
    ),
    ("date", re.compile(r"\bwhen\b|\bwhat (?:day|date|year|time)\b|언제|며칠|몇\s?년", re.I)),
    ("attribution", re.compile(r"\bwho (?:said|says|told)\b|\baccording to whom\b|누가 (?:말|밝)", re.I)),
    ("entity", re.compile(r"\bwho\b|\bwhich (?:company|country|team|party)\b|누가|누구|어느", re.I)),
)
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|so|why|how come|what about|what else|and then)\b"
    r"|\b(?:it|its|they|them|their|this|that|these|those|he|she|his|her|there)\b"
    r"|^\s*(?:그|이|저)\s?(?:것|이유|사람|곳|때|후|뒤|결과|회사|나라|분)|^\s*(?:왜|그럼|그렇다면|그러면)"
    r"|그는|그녀|그들|이들|거기",
    re.I,
)


@dataclass(frozen=True)
class PastTurn:
    """A saved turn as context: its words and the sentences it cited (article id, start, end)."""

    position: int
    question: str
    answer: str
    cited: tuple[tuple[int | None, int, int], ...] = ()


@dataclass(frozen=True)
class Passage:
    """One sentence of one article: ``quote == doc.text[start:end]``."""

    doc: Document
    start: int
    end: int
    quote: str
    relevance: float = 0.0

    @property
    def key(self) -> tuple[int | None, int, int]:
        return (self.doc.article_id, self.start, self.end)


@dataclass
class Answer:
    text: str
    language: str
    found: bool
    mode: str  # "extractive" or "llm"
    citations: list[Passage] = field(default_factory=list)
    context: list[int] = field(default_factory=list)  # positions of the turns it read
    follow_up: bool = False
    dropped_citations: int = 0  # ids a model cited that were not among its passages


def question_language(question: str) -> str:
    """ "ko" when the question has Hangul, else "en"."""
    return resolve_lang(question, "")


def intents(question: str) -> set[str]:
    """The sentence kinds (``factcheck.claims.KINDS``) the question word asks for."""
    return {kind for kind, pattern in _INTENTS if pattern.search(question)}


def _lang(code: str) -> str:
    return "ko" if code.lower().startswith("ko") else "en"


class Answerer:
    """Retrieves and answers; CPU-bound (Kiwi, e5) and, with a model, IO-bound: run it in a thread."""

    def __init__(
        self,
        checker: Checker,
        chat: ChatClient | None = None,
        *,
        threshold: float = THRESHOLD,
        cross_threshold: float = CROSS_THRESHOLD,
    ) -> None:
        self.checker = checker
        self.chat = chat
        self.threshold = threshold
        self.cross_threshold = cross_threshold

    def close(self) -> None:
        """Close the chat client, if any (the process is stopping)."""
        if self.chat is not None:
            self.chat.close()

    def is_follow_up(self, question: str, history: Sequence[PastTurn]) -> bool:
        """Whether the question leans on the previous turn (few own words, or "it", "why", "그")."""
        if not history:
            return False
        own = self.checker.tokens(question, question_language(question))
        return len(own) <= 2 or bool(_FOLLOW_UP.search(question))

    def rank(
        self, question: str, docs: Sequence[Document], history: Sequence[PastTurn] = ()
    ) -> tuple[list[Passage], bool]:
        """The story's sentences best answering ``question``, most relevant first, and whether it is a follow-up."""
        qlang = question_language(question)
        follow_up = self.is_follow_up(question, history)
        last = history[-1] if history else None
        q_tokens = self.checker.tokens(question, qlang)
        # A bare follow-up ("why?") is read through the previous turn; one with words of its
        # own ("and how many subscribers did AOL lose?") mostly stands on them.
        leans = follow_up and len(q_tokens) <= 2
        context_weight = CONTEXT_WEIGHT if leans else WEAK_CONTEXT_WEIGHT
        context_text = f"{last.question} {last.answer}" if follow_up and last else ""
        pool = [(doc, s, e, t) for doc in docs for s, e, t in self.checker.sentences(doc)]
        if not pool:
            return [], follow_up
        ctx_tokens = self.checker.tokens(context_text, qlang) - q_tokens if context_text else frozenset()
        sent_tokens = [self.checker.tokens(t, d.language) for d, _, _, t in pool]
        df: Counter[str] = Counter()
        wanted = q_tokens | ctx_tokens
        for toks in sent_tokens:
            df.update(toks & wanted)
        n = len(pool)
        idf = {t: math.log(1 + n / (1 + df[t])) for t in wanted}
        norm = sum(idf[t] for t in q_tokens) + context_weight * sum(idf[t] for t in ctx_tokens) or 1.0
        lexical = [
            (sum(idf[t] for t in toks & q_tokens) + context_weight * sum(idf[t] for t in toks & ctx_tokens))
            / norm
            if same_script(d.language, qlang)
            else 0.0
            for toks, (d, *_rest) in zip(sent_tokens, pool, strict=True)
        ]
        if n <= EMBED_ALL_BELOW:
            shortlist = list(range(n))
        else:
            leads: list[int] = []
            seen: Counter[int] = Counter()
            for i, (d, *_rest) in enumerate(pool):
                if seen[id(d)] < LEAD_SENTENCES:
                    seen[id(d)] += 1
                    leads.append(i)
            best = sorted(range(n), key=lambda i: -lexical[i])[:LEXICAL_SHORTLIST]
            shortlist = sorted(set(best) | set(leads))
        query = f"{last.question} {question}" if leans and last else question
        vectors = self.checker.embeddings.encode([query] + [pool[i][3] for i in shortlist])
        cosine = vectors[1:] @ vectors[0]
        asked = intents(question)
        cited = {k for turn in history for k in turn.cited} if follow_up else set()
        out: list[Passage] = []
        for k, i in enumerate(shortlist):
            doc, s, e, text = pool[i]
            score = float(cosine[k]) + LEXICAL_WEIGHT * lexical[i]
            if asked and asked & set(kinds_of(extract(text, doc.language))):
                score += KIND_BONUS
            if (doc.article_id, s, e) in cited:
                score -= REPEAT_PENALTY
            out.append(Passage(doc, s, e, text, round(score, 4)))
        out.sort(key=lambda p: -p.relevance)
        return out, follow_up

    def answer(self, question: str, docs: Sequence[Document], history: Sequence[PastTurn] = ()) -> Answer:
        """Answer from the story's articles; the model's answer when one is configured and it cites well."""
        history = list(history)[-CONTEXT_TURNS:]
        ranked, follow_up = self.rank(question, docs, history)
        extractive = self._extractive(question, docs, ranked)
        extractive.follow_up = follow_up
        extractive.context = [t.position for t in history]
        if self.chat is None:
            return extractive
        try:
            llm = self._llm(question, ranked[:LLM_PASSAGES], history)
        except Unavailable as exc:
            log.warning("ask: the chat model failed, answering extractively: %s", exc.detail)
            return extractive
        if llm is None:
            return extractive
        llm.follow_up = follow_up
        llm.context = [t.position for t in history]
        return llm

    def _extractive(self, question: str, docs: Sequence[Document], ranked: Sequence[Passage]) -> Answer:
        qlang = question_language(question)
        good = [
            p
            for p in ranked
            if p.relevance >= (self.threshold if same_script(p.doc.language, qlang) else self.cross_threshold)
        ]
        if not good:
            return Answer(NOT_FOUND[qlang], qlang, found=False, mode="extractive")
        # The question's language first, when the story has a relevant sentence in it.
        same = [p for p in good if _lang(p.doc.language) == qlang]
        ordered = same + [p for p in good if _lang(p.doc.language) != qlang] if same else good
        best = ordered[0]
        chosen = [best]
        outlets = {_outlet_key(best.doc)}
        texts = {normalize_text(best.quote)}
        for p in ordered[1:]:
            if len(chosen) >= MAX_CITATIONS or p.relevance < best.relevance - EXTRA_MARGIN:
                continue
            if _outlet_key(p.doc) in outlets or normalize_text(p.quote) in texts:
                continue
            if _lang(p.doc.language) != _lang(best.doc.language):
                continue  # the answer reads in one language; other coverage is cited only if it leads
            chosen.append(p)
            outlets.add(_outlet_key(p.doc))
            texts.add(normalize_text(p.quote))
        text = " ".join(p.quote for p in chosen)
        return Answer(text, _lang(best.doc.language), found=True, mode="extractive", citations=chosen)

    def _llm(self, question: str, passages: Sequence[Passage], history: Sequence[PastTurn]) -> Answer | None:
        assert self.chat is not None
        qlang = question_language(question)
        messages = llm_messages(question, passages, history)
        reply = self.chat.complete_json(messages, schema=ANSWER_SCHEMA, name="story_answer", max_tokens=600)
        text, found, ids = parse_llm_answer(reply)
        by_id = dict(enumerate(passages, start=1))
        valid = [by_id[i] for i in dict.fromkeys(ids) if i in by_id]
        dropped = len([i for i in ids if i not in by_id])
        if not found:
            return Answer(text or NOT_FOUND[qlang], qlang, found=False, mode="llm", dropped_citations=dropped)
        if not valid:
            # An answer we cannot tie to the coverage is not given as the coverage's.
            log.warning("ask: the chat model cited no passage it was given; answering extractively")
            return None
        return Answer(
            text, qlang, found=True, mode="llm", citations=valid[:MAX_CITATIONS], dropped_citations=dropped
        )


def _outlet_key(doc: Document) -> str:
    return str(doc.source_id) if doc.source_id is not None else doc.url


SYSTEM_PROMPT = """\
You answer a listener's questions about one news story, using only the numbered PASSAGES \
quoted from the outlets' articles. Passages may be in Korean or English.

Rules:
- Answer only with what the passages say; never add facts from your own knowledge.
- Answer in the language of the question (Korean or English), in one to three sentences.
- Cite the ids of the passages your answer relies on in "citations" (at least one when you \
answer).
- When the passages do not answer the question, set "found" to false, say so in one short \
sentence in the question's language, and cite nothing.
- Earlier turns of the conversation are context for follow-up questions such as "why?" or \
"그 이유는?".

Answer with one JSON object and nothing else:
{"answer": "<text>", "found": true | false, "citations": [<passage id>, ...]}"""

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "found": {"type": "boolean"},
        "citations": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["answer", "found", "citations"],
    "additionalProperties": False,
}


def llm_messages(
    question: str, passages: Sequence[Passage], history: Sequence[PastTurn]
) -> list[dict[str, str]]:
    """System rules, the context turns as user/assistant messages, then the passages and the question."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for turn in history[-CONTEXT_TURNS:]:
        messages.append({"role": "user", "content": turn.question})
        messages.append({"role": "assistant", "content": turn.answer})
    payload = {
        "passages": [
            {"id": i, "outlet": p.doc.outlet, "language": _lang(p.doc.language), "text": p.quote}
            for i, p in enumerate(passages, start=1)
        ],
        "question": question,
    }
    messages.append(
        {
            "role": "user",
            "content": "Answer the question from these passages, in JSON.\n"
            + json.dumps(payload, ensure_ascii=False, indent=1),
        }
    )
    return messages


def parse_llm_answer(reply: dict[str, Any]) -> tuple[str, bool, list[int]]:
    """(answer text, found, cited ids) from the model's object; malformed fields are Unavailable."""
    text = reply.get("answer")
    found = reply.get("found", True)
    ids = reply.get("citations", [])
    if not isinstance(text, str) or not isinstance(found, bool) or not isinstance(ids, list):
        raise Unavailable(
            "ask: the chat model's answer lacks 'answer' (text), 'found' (true/false) or 'citations' (list)"
        )
    clean = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
    return " ".join(text.split()), found, clean
