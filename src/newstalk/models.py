"""Imports every table module so metadata is complete for Alembic and tests."""

from __future__ import annotations


def import_all_models() -> None:
    """Register every table on ``Base.metadata``."""
    import newstalk.accounts.models
    import newstalk.articles.models
    import newstalk.ask.models
    import newstalk.briefings.models
    import newstalk.delivery.live_models
    import newstalk.delivery.push_models
    import newstalk.factcheck.models
    import newstalk.feed.models
    import newstalk.kit.bus.dbqueue
    import newstalk.kit.bus.outbox
    import newstalk.kit.lease
    import newstalk.listeners.models
    import newstalk.search.models
    import newstalk.sources.models
    import newstalk.speech.models
    import newstalk.stories.models  # noqa: F401
