"""Fitting verdict calibration: Platt scaling per verdict kind, and how well calibrated a set is.

``newstalk eval verdicts --fit`` fits ``factcheck/data/calibration.json`` with
:func:`fit_platt` on the calibration half of the product-path verdicts and writes it with
:func:`save`; the service reads it back with ``factcheck.calibration.calibrate``. The fit is
regularized towards the identity (a = 1, b = 0) so a kind with few examples stays close to
its raw strength, and ``a`` is kept positive so a stronger verdict never reads as less
confident.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newstalk.factcheck.calibration import CALIBRATION_PATH, forget_cached, logit

L2 = 1.0  # pull towards the identity mapping, in units of one example's log loss
BINS = 10


def _platt_loss(a: float, b: float, x: np.ndarray, y: np.ndarray) -> float:
    z = a * x + b
    return float(np.sum(np.logaddexp(0.0, z) - y * z) + L2 * ((a - 1) ** 2 + b**2))


def fit_platt(raw: Sequence[float], correct: Sequence[bool], steps: int = 100) -> tuple[float, float]:
    """(a, b) minimizing log loss of sigmoid(a*logit(raw)+b) plus L2 * ((a-1)^2 + b^2); a >= 0.05.

    Newton steps with backtracking on a convex 2-parameter problem; the projection onto
    a >= 0.05 never increases the loss it is accepted at.
    """
    x = logit(np.asarray(raw, np.float64))
    y = np.asarray(correct, np.float64)
    a, b = 1.0, 0.0
    current = _platt_loss(a, b, x, y)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(a * x + b)))
        w = p * (1 - p)
        g = np.array([np.sum((p - y) * x) + 2 * L2 * (a - 1), np.sum(p - y) + 2 * L2 * b])
        h = np.array([[np.sum(w * x * x) + 2 * L2, np.sum(w * x)], [np.sum(w * x), np.sum(w) + 2 * L2]])
        step = np.linalg.solve(h, g)
        t = 1.0
        while t > 1e-8:
            na, nb = max(0.05, a - t * float(step[0])), b - t * float(step[1])
            trial = _platt_loss(na, nb, x, y)
            if trial <= current:
                break
            t /= 2
        else:
            break
        done = abs(na - a) + abs(nb - b) < 1e-10
        a, b, current = na, nb, trial
        if done:
            break
    return a, b


def expected_calibration_error(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = BINS
) -> float:
    """ECE over equal-width confidence bins: sum over bins of share * |accuracy - mean confidence|."""
    rows = reliability(confidence, correct, bins)
    n = sum(r["n"] for r in rows)
    return sum(r["n"] / n * abs(r["accuracy"] - r["confidence"]) for r in rows) if n else 0.0


def reliability(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = BINS
) -> list[dict[str, Any]]:
    """Per non-empty bin: its range, how many verdicts, their mean confidence and their accuracy."""
    conf = np.asarray(confidence, np.float64)
    ok = np.asarray(correct, np.float64)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    out = []
    for k in range(bins):
        rows = idx == k
        if rows.any():
            out.append(
                {
                    "bin": f"{k / bins:.1f}-{(k + 1) / bins:.1f}",
                    "n": int(rows.sum()),
                    "confidence": round(float(conf[rows].mean()), 4),
                    "accuracy": round(float(ok[rows].mean()), 4),
                }
            )
    return out


def save(params: dict[str, tuple[float, float]], meta: dict[str, Any], path: Path = CALIBRATION_PATH) -> None:
    """Write the fitted parameters (read back by ``calibration.calibrate`` in a fresh process)."""
    data = {"platt": {k: {"a": round(a, 6), "b": round(b, 6)} for k, (a, b) in sorted(params.items())}}
    data.update(meta)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    forget_cached()
