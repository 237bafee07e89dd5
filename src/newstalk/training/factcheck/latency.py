"""Latency of the local verifier's ``judge()`` on a labelled data file, cold and warm cache.

python -m newstalk.training.factcheck.latency ../shared/data/factcheck/climate-fever/climate-fever.jsonl
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from newstalk.factcheck.verifiers.local import LocalVerifier
from newstalk.factcheck.verify import Pair
from newstalk.training.factcheck.datasets import FORMATS, load


def main(argv: list[str] | None = None) -> int:
    """Latency of judge(): one call per claim with all of its evidence, on a labelled data file."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="climate-fever")
    parser.add_argument("--claims", type=int, default=100)
    args = parser.parse_args(argv)
    by_claim: dict[str, list[Pair]] = {}
    for p in load(args.path, args.fmt).pairs:
        if p.claim in by_claim or len(by_claim) < args.claims:
            by_claim.setdefault(p.claim, []).append(Pair(p.claim, p.evidence, p.lang, p.lang))
    verifier = LocalVerifier()
    verifier.judge([Pair("warm-up claim", "warm-up evidence")])
    n_pairs = sum(len(v) for v in by_claim.values())
    # First pass: every text is new (cold cache); second pass: all embeddings are cached.
    for cache in ("cold", "warm"):
        times = []
        for pairs in by_claim.values():
            started = time.perf_counter()
            verifier.judge(pairs)
            times.append((time.perf_counter() - started) * 1000)
        ms = np.array(times)
        print(
            f"{len(ms)} claims, {n_pairs / len(ms):.1f} evidence texts each, {cache} embedding cache: "
            f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms per judge() call"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
