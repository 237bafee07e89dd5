"""Verifier providers, chosen by ``NEWSTALK_VERIFIER_PROVIDER``; ``build_verifier`` builds one.

- ``local``: NewsTalk's own offline model (``factcheck.local``).
- ``openai``: any OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, vLLM, Ollama,
  llama.cpp server) asked for structured JSON, several pairs per request.
- ``transformers``: a Hugging Face NLI model folder (MNLI/XNLI/FEVER-style labels), read
  with ``transformers`` and ``torch`` from the ``nli`` extra; never downloads anything.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx

from newstalk.errors import ConfigError, Unavailable
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


# Label names NLI checkpoints use (MNLI, XNLI, KLUE-NLI, FEVER, FNC-1), lower case, "_" and
# "-" read as spaces. "unrelated" is kept apart: it feeds ``related``, and its mass is neutral.
LABEL_STANCES: dict[str, Stance | None] = {
    "entailment": Stance.SUPPORTS,
    "entails": Stance.SUPPORTS,
    "supports": Stance.SUPPORTS,
    "support": Stance.SUPPORTS,
    "agree": Stance.SUPPORTS,
    "contradiction": Stance.REFUTES,
    "contradicts": Stance.REFUTES,
    "refutes": Stance.REFUTES,
    "refute": Stance.REFUTES,
    "disagree": Stance.REFUTES,
    "neutral": Stance.NEUTRAL,
    "not enough info": Stance.NEUTRAL,
    "nei": Stance.NEUTRAL,
    "discuss": Stance.NEUTRAL,
    "unrelated": None,
}
NLI_EXTRA_HINT = "pip install 'newstalk[nli]'"


def _import_nli() -> tuple[ModuleType, ModuleType]:
    # Imported by name at first use: the extra is optional, and mypy need not analyse torch.
    try:
        torch = importlib.import_module("torch")
        transformers = importlib.import_module("transformers")
    except ImportError as exc:
        raise ConfigError(
            "factcheck: NEWSTALK_VERIFIER_PROVIDER=transformers needs torch and transformers; "
            f"{NLI_EXTRA_HINT} (CPU torch 2.13), or choose another provider"
        ) from exc
    return torch, transformers


def stance_columns(id2label: dict[int, str], where: str) -> tuple[dict[Stance, list[int]], list[int]]:
    """Map a model's ``id2label`` to the logit columns of each stance and of "unrelated"."""
    columns: dict[Stance, list[int]] = {s: [] for s in Stance}
    unrelated: list[int] = []
    for idx, label in sorted(id2label.items()):
        key = " ".join(str(label).lower().replace("_", " ").replace("-", " ").split())
        if key not in LABEL_STANCES:
            raise ConfigError(
                f"factcheck: {where}/config.json labels class {idx} {label!r}, which is not an NLI "
                "label; set id2label to entailment/neutral/contradiction (or supports/refutes/"
                "neutral) in the order the model was trained with"
            )
        stance = LABEL_STANCES[key]
        (unrelated if stance is None else columns[stance]).append(int(idx))
    if not columns[Stance.SUPPORTS] or len(id2label) < 2:
        raise ConfigError(
            f"factcheck: {where}/config.json has labels {sorted(id2label.values())}; an NLI model "
            "needs an entailment (supports) class and at least one other"
        )
    return columns, unrelated


def _max_tokens(config: Any, tokenizer: Any, wanted: int) -> int:
    """The longest input the model takes: ``wanted``, capped by its tokenizer and position table."""
    limits = [max(8, wanted)]
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and tok_max < 100_000:  # unset is a huge sentinel
        limits.append(tok_max)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-family position ids start after the padding id (XLM-R: 514 rows, 512 tokens).
        offset = int(config.pad_token_id or 0) + 1 if "roberta" in str(config.model_type) else 0
        limits.append(positions - offset)
    return min(limits)


class TransformersNLIVerifier:
    """A sequence-classification NLI model from a local folder, run on the CPU with torch.

    The folder is what ``save_pretrained`` writes for a model and its tokenizer
    (config.json, weights, tokenizer files); nothing is downloaded. The evidence is the
    premise and the claim the hypothesis, the order NLI and FEVER models are trained in.
    ``related`` is 1 - p(unrelated) when the model has an "unrelated" class, else
    1 - p(neutral).
    """

    name = "transformers"

    def __init__(
        self,
        model_dir: str | Path,
        *,
        batch_size: int = 16,
        max_length: int = 256,
    ) -> None:
        path = Path(model_dir).expanduser()
        where = f"NEWSTALK_VERIFIER_MODEL_DIR={path}"
        if not path.is_dir():
            raise ConfigError(f"factcheck: {where} is not a folder; point it at an NLI model folder")
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"factcheck: {where} has no config.json; it should be a Hugging Face model folder "
                "written by save_pretrained (config, weights and tokenizer files)"
            )
        torch, transformers = _import_nli()
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = transformers.AutoModelForSequenceClassification.from_pretrained(
                str(path), local_files_only=True
            )
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"factcheck: {where} does not hold a sequence-classification model and its tokenizer "
                f"({first}); save both there with save_pretrained"
            ) from None
        model.eval()
        id2label = {int(k): str(v) for k, v in model.config.id2label.items()}
        self._columns, self._unrelated = stance_columns(id2label, str(path))
        self.labels = id2label
        self._torch = torch
        self._tokenizer = tokenizer
        self._model = model
        self._batch_size = max(1, batch_size)
        self._max_length = _max_tokens(model.config, tokenizer, max_length)
        # One forward pass at a time: torch already uses every core for one batch.
        self._lock = threading.Lock()

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """One judgement per pair, in order; batches of similar length, truncated to ``max_length``."""
        if not pairs:
            return []
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].claim) + len(pairs[i].evidence))
        rows: list[list[float]] = [[] for _ in pairs]
        torch = self._torch
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self._batch_size):
                idx = order[start : start + self._batch_size]
                claims = [pairs[i].claim or "." for i in idx]
                evidence = [pairs[i].evidence or "." for i in idx]
                enc = self._tokenizer(
                    evidence,
                    claims,
                    padding=True,
                    truncation=True,
                    max_length=self._max_length,
                    return_tensors="pt",
                )
                logits = self._model(**enc).logits
                probs = torch.softmax(logits.float(), dim=-1).tolist()
                for i, p in zip(idx, probs, strict=True):
                    rows[i] = p
        return [self._judgement(p) for p in rows]

    def _judgement(self, p: list[float]) -> Judgement:
        unrelated = sum(p[c] for c in self._unrelated)
        probs = {s: sum(p[c] for c in cols) for s, cols in self._columns.items()}
        if self._unrelated:
            related = 1.0 - unrelated
            probs[Stance.NEUTRAL] += unrelated
        else:
            related = 1.0 - probs[Stance.NEUTRAL]
        stance = max(probs, key=lambda s: probs[s])
        total = sum(probs.values()) or 1.0
        return Judgement(
            stance=stance,
            probs={s: v / total for s, v in probs.items()},
            related=min(1.0, max(0.0, related)),
        )


def build_verifier(settings: Settings, embeddings: Encoder | None = None) -> Verifier:
    """Build the verifier the settings name; missing settings raise ConfigError at start-up.

    ``embeddings`` lets the local verifier share the caller's (cached) embedding provider.
    """
    provider = settings.verifier_provider
    if provider == "local":
        # Imported at call time: the trained model and its features load only when chosen.
        from newstalk.factcheck.local import LocalVerifier

        return LocalVerifier(embeddings)
    if provider == "openai":
        key = settings.verifier_api_key.get_secret_value() if settings.verifier_api_key else None
        return OpenAIChatVerifier(
            base_url=settings.verifier_url or "", model=settings.verifier_model, api_key=key
        )
    if provider == "transformers":
        if not settings.verifier_model_dir:
            raise ConfigError(
                "factcheck: NEWSTALK_VERIFIER_MODEL_DIR must be set when "
                "NEWSTALK_VERIFIER_PROVIDER=transformers: a local NLI model folder "
                f"({NLI_EXTRA_HINT} for torch and transformers)"
            )
        return TransformersNLIVerifier(settings.verifier_model_dir)
    raise ConfigError(
        f"factcheck: NEWSTALK_VERIFIER_PROVIDER={provider!r} is unknown; use local, openai or transformers"
    )
