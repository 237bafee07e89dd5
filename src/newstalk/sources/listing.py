"""The rows ``newstalk sources list`` prints, read without SQLAlchemy.

One query through the plain driver (:mod:`newstalk.kit.dbapi`), so the command starts in
well under half a second; the columns are the :class:`~newstalk.sources.models.Source`
table's, and ``tests/sources/test_listing.py`` checks the rows equal the ORM's.
"""

from __future__ import annotations

from dataclasses import dataclass

from newstalk.kit import dbapi
from newstalk.sources.schedule import poll_reason

_QUERY = (
    "SELECT id, feed_url, title, status, paused_reason, fetch_interval_s, poll_reason,"
    " consecutive_failures FROM sources ORDER BY id"
)


@dataclass(frozen=True, slots=True)
class SourceRow:
    id: int
    feed_url: str
    title: str
    status: str
    paused_reason: str | None
    fetch_interval_s: int
    planned_reason: str | None
    consecutive_failures: int

    @property
    def poll_reason(self) -> str | None:
        return poll_reason(self.consecutive_failures, self.planned_reason)


def list_sources(sync_url: str) -> list[SourceRow]:
    """Every source, oldest first (the database must be migrated)."""
    with dbapi.connect(sync_url) as conn:
        return [SourceRow(*row) for row in dbapi.fetch_all(conn, _QUERY)]
