"""Verifier ``openai``: any OpenAI-compatible ``/chat/completions`` endpoint asked for JSON.

OpenAI, vLLM, Ollama and the llama.cpp server all work; several pairs go in one request.
Settings: ``NEWSTALK_VERIFIER_URL``, ``NEWSTALK_VERIFIER_MODEL``, ``NEWSTALK_VERIFIER_API_KEY``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from newstalk.errors import Unavailable
from newstalk.factcheck.verify import Judgement, Pair, Stance, Verifier
from newstalk.providers.llm import ChatClient, json_schema_format

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.factcheck.features import Encoder

SYSTEM_PROMPT = """\
You are the fact-checking assistant of a news service. Each pair holds a CLAIM taken from \
a news article and a piece of EVIDENCE taken from another outlet's article. Either text may be \
in Korean or English, and the two may be in different languages: judge what they mean, not \
their wording.

Decide the stance of the evidence toward the claim:
- "supports": the evidence states or directly implies what the claim says: the same event \
with the same numbers, units, dates, people, organizations and direction of change. A \
paraphrase or a translation supports.
- "refutes": the evidence says the claim is false for the same event: a different number or \
date ("12 dead" vs "15 dead", "3월 5일" vs "3월 7일"), the opposite direction ("raised" vs \
"cut", "인상" vs "인하"), a denial, or another person or organization doing it.
- "neutral": the evidence neither confirms nor contradicts the claim: the same topic without \
the claimed fact, or a different subject altogether.
Judge only from the evidence text, never from what you know about the world. An attributed \
statement ("X said Y", "X는 Y라고 말했다") is supported by evidence that X said Y, not by \
evidence that Y is true. Missing detail is neutral, not refuting.

For each pair give:
- "related": probability from 0 to 1 that the evidence is about the same event or subject as \
the claim (near 0 for an unrelated sentence; high whenever it supports or refutes);
- "confidence": probability from 0 to 1 that your stance is correct.

Answer with one JSON object and nothing else:
{"results": [{"index": <the pair's index>, "stance": "supports" | "refutes" | "neutral", \
"related": <0..1>, "confidence": <0..1>}, ...]}
with exactly one result for every pair index you were given."""

RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "stance": {"type": "string", "enum": [s.value for s in Stance]},
                    "related": {"type": "number"},
                    "confidence": {"type": "number"},
                },
                "required": ["index", "stance", "related", "confidence"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["results"],
    "additionalProperties": False,
}
JSON_SCHEMA_FORMAT: dict[str, Any] = json_schema_format("stance_judgements", RESULT_SCHEMA)


def _probs_from_confidence(stance: Stance, confidence: float) -> dict[Stance, float]:
    # The chosen stance gets the confidence and the others split the rest. Below 1/3 the
    # chosen stance would no longer be the most probable, so 1/3 is the floor.
    others = len(Stance) - 1
    rest = min((1.0 - confidence) / others, 1.0 / len(Stance))
    return {s: (1.0 - others * rest if s is stance else rest) for s in Stance}


class OpenAIChatVerifier:
    """Judges pairs with a chat model through ``providers.llm.ChatClient``, several pairs a request.

    Pairs go ``batch_size`` to a request. The client asks for a strict ``json_schema``
    response and falls back to ``json_object`` for servers that reject it (Ollama,
    llama.cpp, older vLLM); it retries HTTP 429 and 5xx. Errors name NEWSTALK_VERIFIER_*.
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 8,
        timeout_s: float = 60.0,
        max_chars: int = 2000,
        max_retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._chat = ChatClient(
            base_url=base_url,
            model=model,
            api_key=api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            component="factcheck",
            setting_prefix="NEWSTALK_VERIFIER",
            transport=transport,
        )
        self.base_url = self._chat.base_url
        self.model = model
        self._batch_size = max(1, batch_size)
        self._max_chars = max(1, max_chars)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._chat.close()

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """One judgement per pair, in order, from ``ceil(len(pairs) / batch_size)`` requests."""
        out: list[Judgement] = []
        for start in range(0, len(pairs), self._batch_size):
            out.extend(self._judge_batch(pairs[start : start + self._batch_size]))
        return out

    def _messages(self, batch: Sequence[Pair]) -> list[dict[str, str]]:
        items = []
        for i, p in enumerate(batch):
            item: dict[str, Any] = {
                "index": i,
                "claim": p.claim[: self._max_chars],
                "evidence": p.evidence[: self._max_chars],
            }
            if p.claim_lang:
                item["claim_lang"] = p.claim_lang
            if p.evidence_lang:
                item["evidence_lang"] = p.evidence_lang
            items.append(item)
        user = f"Judge these {len(batch)} pairs; answer in JSON.\n" + json.dumps(
            {"pairs": items}, ensure_ascii=False, indent=1
        )
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def _judge_batch(self, batch: Sequence[Pair]) -> list[Judgement]:
        answer = self._chat.complete_json(
            self._messages(batch), schema=RESULT_SCHEMA, name="stance_judgements"
        )
        return self._parse(answer, len(batch))

    def _parse(self, answer: dict[str, Any], n: int) -> list[Judgement]:
        where = self._chat.where
        if "results" not in answer:
            raise Unavailable(f"{where} did not answer with a JSON object holding 'results'")
        results = answer["results"]
        if not isinstance(results, list):
            raise Unavailable(f"{where} answered 'results' that is not a list")
        found: dict[int, Judgement] = {}
        for item in results:
            index, judgement = self._item(item, n, where)
            if index in found:
                raise Unavailable(f"{where} judged pair {index} twice")
            found[index] = judgement
        missing = [i for i in range(n) if i not in found]
        if missing:
            raise Unavailable(f"{where} left out pairs {missing} of {n}")
        return [found[i] for i in range(n)]

    @staticmethod
    def _item(item: Any, n: int, where: str) -> tuple[int, Judgement]:
        if not isinstance(item, dict):
            raise Unavailable(f"{where} answered a result that is not an object")
        index = item.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise Unavailable(f"{where} answered index {index!r}, not one of 0..{n - 1}")
        raw = item.get("stance")
        try:
            stance = Stance(str(raw).strip().lower())
        except ValueError:
            raise Unavailable(
                f"{where} answered stance {raw!r} for pair {index}; expected supports, refutes or neutral"
            ) from None
        values: dict[str, float] = {}
        for key in ("confidence", "related"):
            v = item.get(key)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
                raise Unavailable(f"{where} answered {key} {v!r} for pair {index}; expected 0..1")
            values[key] = float(v)
        probs = _probs_from_confidence(stance, values["confidence"])
        return index, Judgement(stance=stance, probs=probs, related=values["related"])


def build(settings: Settings, embeddings: Encoder | None = None) -> Verifier:
    """The chat verifier from ``NEWSTALK_VERIFIER_URL`` / ``_MODEL`` / ``_API_KEY``."""
    key = settings.verifier_api_key.get_secret_value() if settings.verifier_api_key else None
    return OpenAIChatVerifier(
        base_url=settings.verifier_url or "", model=settings.verifier_model, api_key=key
    )
