"""The periodic jobs the scheduler runs, wired here so that sources need not import their owners."""

from __future__ import annotations

from typing import TYPE_CHECKING

from newstalk.kit.periodic import PeriodicJob

if TYPE_CHECKING:
    from newstalk.pipeline.context import StageServices


def periodic_jobs() -> tuple[PeriodicJob[StageServices], ...]:
    """Every periodic job, in the order one scheduler tick runs them."""
    from newstalk.briefings.tasks import schedule_daily_briefings
    from newstalk.stories.tasks import refresh_trending

    return (
        PeriodicJob("stories.trending", refresh_trending),
        PeriodicJob("briefings.daily", schedule_daily_briefings),
    )
