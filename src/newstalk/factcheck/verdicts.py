"""From judged evidence to one verdict per claim.

Each outlet other than the claim's own counts once: its strongest sentence for and its
strongest sentence against the claim (stance probability times the probability that the
sentence is about the claim at all). An outlet whose best sentence clears ``THRESHOLD``
supports or refutes the claim. The structured consistency check feeds in two ways:

- a sentence about the same event (it passed the relevance gate of ``relevance.py`` and
  shares a date, a name or a figure with the claim) whose numbers or dates conflict with
  the claim counts as refuting evidence of at least ``CONFLICT_FLOOR``; a negation or
  direction conflict alone refutes only as strongly as the stance model reads it. No
  sentence with a conflict counts as support, and an outlet with one never confirms: a
  claim whose evidence lists a conflict is never ``supported``;
- a sentence that repeats the claim's figure and shares its date or names, or repeats two
  of its figures, with nothing in conflict, corroborates it: supporting evidence of at
  least ``CORROBORATION_FLOOR`` unless the stance model reads it as refuting. (The stance
  model, trained on NLI and stance data, often calls a faithful restatement "neutral".)

- supported: at least one independent outlet confirms, none contradicts;
- refuted: at least one contradicts, none confirms;
- disputed: outlets disagree with each other;
- unverified: only one source, or no evidence either way.

The raw strength combines the outlets' strengths weighted by their credibility (a noisy-OR:
two credible outlets confirming make a verdict surer than one); the confidence reported is
that strength calibrated per verdict kind (``calibration.py``) so that it reads as the
probability that the verdict is right, measured with retrieved evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from newstalk.factcheck.calibration import calibrate
from newstalk.factcheck.models import DISPUTED, REFUTED, SUPPORTED, UNVERIFIED
from newstalk.factcheck.verify import Judgement, Stance

THRESHOLD = 0.5
CONFLICT_FLOOR = 0.6
HARD_CONFLICTS = ("number:", "date:")
CORROBORATION_FLOOR = 0.6


@dataclass(frozen=True)
class Judged:
    """A judgement of one evidence sentence, with the outlet it came from (None: unknown)."""

    outlet: int | None
    judgement: Judgement
    key: str = ""  # tells unknown outlets apart (e.g. the article URL)
    corroborates: bool = False  # repeats the claim's figures about the same event


@dataclass
class Verdict:
    verdict: str
    confidence: float
    explanation: str
    detail: dict[str, Any] = field(default_factory=dict)


def strengths(j: Judgement, corroborates: bool = False) -> tuple[float, float]:
    """(for, against) strength of one judged sentence, the consistency floors applied.

    ``j.conflicts`` must already be limited to sentences about the same event.
    """
    support = j.probs[Stance.SUPPORTS] * j.related
    refute = j.probs[Stance.REFUTES] * j.related
    if j.conflicts:
        # The sentence passed the relevance gate, so what conflicts is about the claim's event:
        # it never confirms the claim, whatever the stance model reads. A conflicting figure or
        # date refutes it; a negation or direction cue alone ("not", "fell") is too often
        # about another clause of the sentence to refute without the stance model agreeing.
        if any(c.startswith(HARD_CONFLICTS) for c in j.conflicts):
            refute = max(refute, CONFLICT_FLOOR)
        return 0.0, refute
    if corroborates and j.stance is not Stance.REFUTES:
        support = max(support, CORROBORATION_FLOOR)
    return support, refute


def _noisy_or(values: Sequence[float]) -> float:
    miss = 1.0
    for v in values:
        miss *= 1.0 - min(1.0, max(0.0, v))
    return 1.0 - miss


def aggregate(
    items: Sequence[Judged],
    *,
    claim_outlet: int | None,
    credibility: Mapping[int, float] | None = None,
    default_credibility: float = 0.7,
) -> Verdict:
    """One verdict for a claim from its judged evidence (see the module docstring).

    ``confidence`` is calibrated (``calibration.py``); ``detail["raw_confidence"]`` keeps the
    strength it was calibrated from.
    """
    verdict = raw_verdict(
        items, claim_outlet=claim_outlet, credibility=credibility, default_credibility=default_credibility
    )
    verdict.detail["raw_confidence"] = round(verdict.confidence, 4)
    verdict.confidence = calibrate(verdict.verdict, verdict.confidence)
    return verdict


def raw_verdict(
    items: Sequence[Judged],
    *,
    claim_outlet: int | None,
    credibility: Mapping[int, float] | None = None,
    default_credibility: float = 0.7,
) -> Verdict:
    """The verdict with its raw (uncalibrated) strength as confidence."""
    credibility = credibility or {}
    best: dict[str, tuple[float, float, int | None]] = {}
    conflicted: set[str] = set()
    for item in items:
        if claim_outlet is not None and item.outlet == claim_outlet:
            continue  # an outlet does not corroborate itself
        name = f"o{item.outlet}" if item.outlet is not None else f"k{item.key}"
        sup, ref = strengths(item.judgement, item.corroborates)
        if item.judgement.conflicts:
            conflicted.add(name)
        old = best.get(name, (0.0, 0.0, item.outlet))
        best[name] = (max(old[0], sup), max(old[1], ref), item.outlet)

    def cred(outlet: int | None) -> float:
        return credibility.get(outlet, default_credibility) if outlet is not None else default_credibility

    supporters: list[float] = []
    refuters: list[float] = []
    for name, (sup, ref, outlet) in best.items():
        # An outlet that says both counts for the side it says more strongly, except that an
        # outlet reporting a conflicting figure, date or name never confirms the claim.
        if name in conflicted:
            if ref >= THRESHOLD:
                refuters.append(ref * cred(outlet) ** 0.5)
        elif sup >= THRESHOLD and sup >= ref:
            supporters.append(sup * cred(outlet) ** 0.5)
        elif ref >= THRESHOLD:
            refuters.append(ref * cred(outlet) ** 0.5)
    p_for, p_against = _noisy_or(supporters), _noisy_or(refuters)
    detail = {
        "outlets_considered": len(best),
        "outlets_supporting": len(supporters),
        "outlets_refuting": len(refuters),
        "support_strength": round(p_for, 4),
        "refute_strength": round(p_against, 4),
    }
    n_for, n_against = len(supporters), len(refuters)
    if n_for and n_against:
        return Verdict(
            DISPUTED,
            min(p_for, p_against),
            f"Outlets disagree: {_outlets(n_for)} confirm{'s' if n_for == 1 else ''} the claim, "
            f"{_outlets(n_against)} contradict{'s' if n_against == 1 else ''} it.",
            detail,
        )
    if n_against:
        return Verdict(
            REFUTED,
            p_against,
            f"Contradicted by {_outlets(n_against)}; no other outlet confirms it.",
            detail,
        )
    if n_for:
        return Verdict(SUPPORTED, p_for, f"Confirmed by {_outlets(n_for)} independent of the source.", detail)
    closest = max((max(sup, ref) for sup, ref, _ in best.values()), default=0.0)
    if not best:
        why = "No other outlet's reporting about the same event was found to check it against."
    else:
        why = f"{_outlets(len(best))} checked; none confirms or contradicts it."
    return Verdict(UNVERIFIED, 1.0 - closest, why, detail)


def _outlets(n: int) -> str:
    return "one outlet" if n == 1 else f"{n} outlets"
