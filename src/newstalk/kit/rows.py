"""Rows a data-file reader skipped: one malformed line is counted and warned about, never fatal.

Evaluation readers (``newstalk eval ...``) read large shared files in which a line may be
cut, mis-quoted or missing a field. Such a row is skipped with a warning on the
``newstalk.eval`` logger and counted; the evaluation reports ``skipped_rows`` (and the
first few reasons as ``skipped_examples``) beside its numbers. A file that is not in the
format at all (missing, not UTF-8, no header, no usable row) still fails as a whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("newstalk.eval")

EXAMPLES = 5


@dataclass
class SkippedRows:
    """How many rows were skipped, and why the first few were."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def skip(self, where: str, why: str) -> None:
        """Count one skipped row at ``where`` (e.g. ``file.jsonl:12``) and warn once per row."""
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(f"{where}: {why}")
        log.warning("eval: skipped %s: %s", where, why)

    def merge(self, other: SkippedRows) -> None:
        """Add another reader's skips to these."""
        self.count += other.count
        self.examples.extend(other.examples[: max(0, EXAMPLES - len(self.examples))])

    def report(self) -> dict[str, Any]:
        """``skipped_rows`` (always) and ``skipped_examples`` (when any) for an evaluation's result."""
        out: dict[str, Any] = {"skipped_rows": self.count}
        if self.examples:
            out["skipped_examples"] = list(self.examples)
        return out
