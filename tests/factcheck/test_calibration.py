"""Verdict confidence calibration: Platt fit, its file, reliability and ECE."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from newstalk.factcheck import calibration
from newstalk.training.factcheck import calibration_fit


def test_platt_fit_moves_an_overconfident_kind_down_and_keeps_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.6, 1.0, 400)
    # Right about half as often as the raw strength claims.
    correct = rng.uniform(0, 1, 400) < raw / 2
    a, b = calibration_fit.fit_platt(raw.tolist(), correct.tolist())
    assert a > 0
    path = tmp_path / "calibration.json"
    calibration_fit.save({"supported": (a, b)}, {"fitted_on": "test"}, path)
    low, high = calibration.calibrate("supported", 0.7, path), calibration.calibrate("supported", 0.95, path)
    assert low < high < 0.95
    before = calibration_fit.expected_calibration_error(raw.tolist(), correct.tolist())
    after = calibration_fit.expected_calibration_error(
        [calibration.calibrate("supported", float(r), path) for r in raw], correct.tolist()
    )
    assert after < before / 2
    # A kind the file does not list keeps its raw strength; so does a missing file.
    assert calibration.calibrate("refuted", 0.8, path) == 0.8
    assert calibration.calibrate("supported", 0.8, tmp_path / "none.json") == 0.8


def test_reliability_bins_and_ece() -> None:
    rows = calibration_fit.reliability([0.05, 0.15, 0.95, 0.95], [False, True, True, False])
    assert [r["bin"] for r in rows] == ["0.0-0.1", "0.1-0.2", "0.9-1.0"]
    assert [r["n"] for r in rows] == [1, 1, 2]
    assert rows[2]["accuracy"] == 0.5
    ece = calibration_fit.expected_calibration_error([0.05, 0.15, 0.95, 0.95], [False, True, True, False])
    assert abs(ece - (0.25 * 0.05 + 0.25 * 0.85 + 0.5 * 0.45)) < 1e-9
