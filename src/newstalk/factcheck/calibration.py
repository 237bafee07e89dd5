"""Verdict confidence that reads as a probability of being right.

``verdicts.aggregate`` computes a raw strength per verdict (a noisy-OR of the outlets'
stance strengths; for ``unverified``, one minus the strongest evidence). That number is not
the chance that the verdict is correct. ``data/calibration.json`` holds, per verdict kind,
a Platt scaling ``sigmoid(a * logit(raw) + b)`` fitted by ``newstalk eval verdicts --fit``
on the calibration half of the shared Climate-FEVER and FNC-1 data, with the verdicts made
on the product path (retrieved evidence). The fit is regularized towards the identity
(a = 1, b = 0) so a kind with few examples stays close to its raw strength, and ``a`` is
kept positive so a stronger verdict never reads as less confident.

Without the file (or for a kind it does not list) the raw strength is returned unchanged.
The fit itself, and the reliability measures, live in
``newstalk.training.factcheck.calibration_fit``.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np

CALIBRATION_PATH = Path(__file__).parent / "data" / "calibration.json"
EPS = 1e-4


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, EPS, 1 - EPS)
    out: np.ndarray = np.log(q / (1 - q))
    return out


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, tuple[float, float]]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: (float(v["a"]), float(v["b"])) for k, v in data.get("platt", {}).items()}


def calibrate(kind: str, raw: float, path: Path = CALIBRATION_PATH) -> float:
    """The calibrated confidence of a verdict of ``kind`` with raw strength ``raw``."""
    params = _load(path).get(kind)
    if params is None:
        return raw
    a, b = params
    z = a * float(logit(np.array([raw]))[0]) + b
    return 1.0 / (1.0 + math.exp(-z))


def forget_cached() -> None:
    """Drop the parameters read so far, so the next :func:`calibrate` reads the file again."""
    _load.cache_clear()
