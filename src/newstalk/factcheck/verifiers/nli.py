"""Verifier ``transformers``: a Hugging Face NLI model folder, read with torch; never downloads.

MNLI/XNLI/FEVER-style labels are mapped to stances. ``torch`` and ``transformers`` come from
the ``nli`` extra and are imported on first build, so choosing another provider never
loads them. Setting: ``NEWSTALK_VERIFIER_MODEL_DIR``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from newstalk.errors import ConfigError
from newstalk.factcheck.verify import Judgement, Pair, Stance, Verifier

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.factcheck.features import Encoder

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


def build(settings: Settings, embeddings: Encoder | None = None) -> Verifier:
    """The NLI verifier from ``NEWSTALK_VERIFIER_MODEL_DIR``; ConfigError when it is unset."""
    if not settings.verifier_model_dir:
        raise ConfigError(
            "factcheck: NEWSTALK_VERIFIER_MODEL_DIR must be set when "
            "NEWSTALK_VERIFIER_PROVIDER=transformers: a local NLI model folder "
            f"({NLI_EXTRA_HINT} for torch and transformers)"
        )
    return TransformersNLIVerifier(settings.verifier_model_dir)
