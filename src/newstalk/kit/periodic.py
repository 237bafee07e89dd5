"""Periodic jobs: work the scheduler runs about once a minute, declared by whoever owns it.

The scheduler (``sources.tasks.run_scheduler``) only ticks; it does not import the domains
whose jobs it runs. The pipeline layer lists them (``pipeline.periodic.periodic_jobs``) and
hands the list to the scheduler, so a domain adds a job with one line there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

S = TypeVar("S")


@dataclass(frozen=True)
class PeriodicJob(Generic[S]):
    """One named job; ``run`` gets the process's services, must be safe to repeat, and what it
    returns (a count, say) is ignored."""

    name: str
    run: Callable[[S], Awaitable[object]]
