"""The verifier interface: how a claim–evidence pair is judged, whatever model judges it.

A verifier reads pairs of (claim, evidence) and says, for each, how related the evidence
is to the claim and which stance it takes: it *supports* the claim, *refutes* it, or is
*neutral* (on topic but neither; or unrelated, when ``related`` is low). Verdicts per claim
are aggregated from these judgements elsewhere (``factcheck.verdicts``); a verifier only
judges pairs.

Providers, chosen by ``NEWSTALK_VERIFIER_PROVIDER`` from the registry in ``factcheck.providers``
(one module each under ``factcheck/verifiers/``):

- ``local`` (default): NewsTalk's own model trained by ``newstalk.training.factcheck.train`` on
  public data, over multilingual-e5 embeddings plus lexical, numeric and negation
  features; runs offline.
- ``openai``: an OpenAI-compatible chat endpoint with JSON output (OpenAI, vLLM, Ollama,
  llama.cpp server).
- ``transformers``: a local NLI model directory (Hugging Face format), loaded with
  ``transformers`` and ``torch`` when they are installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


class Stance(StrEnum):
    SUPPORTS = "supports"
    REFUTES = "refutes"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class Pair:
    """One claim and one candidate evidence text; languages are ISO codes ("ko", "en") or ""."""

    claim: str
    evidence: str
    claim_lang: str = ""
    evidence_lang: str = ""


@dataclass(frozen=True)
class Judgement:
    """A verifier's view of one pair.

    ``probs`` holds a probability per stance (summing to 1). ``related`` is the
    probability that the evidence is about the claim at all (FNC-1's related/unrelated).
    ``conflicts`` lists what the structured consistency check found to disagree
    ("number: 12 dead vs 15 dead"), for the reader.
    """

    stance: Stance
    probs: dict[Stance, float]
    related: float
    conflicts: tuple[str, ...] = field(default=())

    @property
    def confidence(self) -> float:
        """Probability of the chosen stance."""
        return self.probs[self.stance]


@runtime_checkable
class Verifier(Protocol):
    """Judges claim–evidence pairs. Synchronous and CPU- or IO-bound: call it in a thread."""

    name: str

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """One judgement per pair, in order; an empty input gives an empty list."""
        ...


def judgement_from_probs(
    probs: dict[Stance, float], related: float, conflicts: Sequence[str] = ()
) -> Judgement:
    """Normalize ``probs`` to sum to 1 and pick the most probable stance."""
    total = sum(max(0.0, p) for p in probs.values())
    if total <= 0:
        norm = {s: 1.0 / len(Stance) for s in Stance}
    else:
        norm = {s: max(0.0, probs.get(s, 0.0)) / total for s in Stance}
    stance = max(norm, key=lambda s: norm[s])
    return Judgement(
        stance=stance, probs=norm, related=min(1.0, max(0.0, related)), conflicts=tuple(conflicts)
    )
