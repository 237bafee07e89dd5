"""/metrics exports the backup job's status file: the last good base backup's time and size."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from newstalk.kit import metrics
from newstalk.main import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio
NAMES = ("newstalk_backup_last_success_timestamp_seconds", "newstalk_backup_size_bytes")


async def scrape(http: httpx.AsyncClient) -> dict[str, float]:
    text = (await http.get("/metrics")).text
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in NAMES
    }


async def test_backup_status_file_becomes_two_gauges(database_url: str, tmp_path: Path) -> None:
    status = tmp_path / "backup-status.json"
    app = create_app(make_settings(database_url, backup_status_file=status))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                assert await scrape(http) == dict.fromkeys(NAMES, 0.0)  # none yet: the age alert fires
                status.write_text(
                    json.dumps({"last_success_timestamp_seconds": 1764820800, "size_bytes": 123456789})
                )
                assert await scrape(http) == {NAMES[0]: 1764820800.0, NAMES[1]: 123456789.0}
                status.write_text("{not json")
                assert await scrape(http) == dict.fromkeys(NAMES, 0.0)
                metrics.BACKUP_STATUS.path = None  # as create_app leaves it without the setting
                assert await scrape(http) == {}  # backed up elsewhere (RDS): no series
    finally:
        metrics.BACKUP_STATUS.path = None
