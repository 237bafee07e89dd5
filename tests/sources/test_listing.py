"""``newstalk sources list`` reads its rows without SQLAlchemy; they must equal the ORM's."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newstalk.config import to_sync_url
from newstalk.kit import dbapi
from newstalk.runtime import Services
from newstalk.sources import repository
from newstalk.sources.listing import list_sources
from newstalk.sources.models import Source

pytestmark = pytest.mark.anyio

FIELDS = ("id", "feed_url", "title", "status", "paused_reason", "fetch_interval_s", "poll_reason")


async def test_rows_equal_the_orms_on_this_database(services: Services) -> None:
    now = datetime.now(UTC)
    async with services.db.unit() as uow:
        uow.session.add_all(
            [
                Source(
                    feed_url="http://127.0.0.1:9/a.xml",
                    title="연합뉴스 경제",
                    fetch_interval_s=300,
                    planned_reason="freshness target",
                    next_fetch_at=now,
                    created_at=now,
                    updated_at=now,
                ),
                Source(
                    feed_url="http://127.0.0.1:9/b.xml",
                    title="Failing",
                    fetch_interval_s=60,
                    planned_reason="busy feed",
                    consecutive_failures=3,
                    next_fetch_at=now,
                    created_at=now,
                    updated_at=now,
                ),
                Source(
                    feed_url="http://127.0.0.1:9/c.xml",
                    title="Paused",
                    status="paused",
                    paused_reason="gone: HTTP 410",
                    fetch_interval_s=3600,
                    next_fetch_at=now,
                    created_at=now,
                    updated_at=now,
                ),
            ]
        )
    async with services.db.read() as session:
        orm = [tuple(getattr(s, f) for f in FIELDS) for s in await repository.list_all(session)]

    plain = [
        tuple(getattr(s, f) for f in FIELDS)
        for s in list_sources(to_sync_url(services.settings.database_url))
    ]

    assert plain == orm
    assert [row[6] for row in plain] == ["freshness target", "error backoff: 3 failures in a row", None]


def test_a_missing_sqlite_file_is_reported_and_not_created(tmp_path: Path) -> None:
    path = f"{tmp_path}/never.db"
    with pytest.raises(dbapi.DatabaseMissing), dbapi.connect(f"sqlite:///{path}"):
        pass
    assert not Path(path).exists()


def test_sources_list_does_not_import_sqlalchemy(database_url: str) -> None:
    code = (
        "import sys\n"
        "sys.argv = ['newstalk', 'sources', 'list']\n"
        "from newstalk.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic', 'aiosqlite')))\n"
    )
    env = {**os.environ, "NEWSTALK_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
