"""deploy/backup/newstalk-backup.cron: one backup a day at 03:00 UTC whatever the host's time zone.

Debian's cron (3.0pl1) ignores CRON_TZ and reads the schedule in the host's zone, so the entry
wakes every quarter hour and a guard in the command lets only the 03:00 UTC wake-up through.
The guard is run here by a real shell with a stand-in ``date``; the schedule is walked minute by
minute through days with daylight-saving changes in zones with odd offsets.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

CRON = Path(__file__).resolve().parents[2] / "deploy" / "backup" / "newstalk-backup.cron"


def entry() -> tuple[list[str], str, str]:
    """(the five time fields, the user, the command as cron hands it to /bin/sh)."""
    lines = [ln for ln in CRON.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert not [ln for ln in lines if re.match(r"\s*\w+\s*=", ln)], (
        "no environment lines (CRON_TZ is ignored)"
    )
    (line,) = lines
    fields = line.split(None, 6)
    command = fields[6]
    assert not re.search(r"(?<!\\)%", command), "a bare % ends the command in a crontab"
    return fields[:5], fields[5], command.replace("\\%", "%")


def runs(command: str, utc_hhmm: str, tmp_path: Path) -> bool:
    """Whether the command's guard lets the backup through when `date -u` says ``utc_hhmm``."""
    guard, _backup = command.split(" || ", 1)
    fake = tmp_path / "date"
    fake.write_text(f'#!/bin/sh\n[ "$1" = -u ] && [ "$2" = +%H%M ] && echo {utc_hhmm}\n')
    fake.chmod(0o755)
    done = subprocess.run(["/bin/sh", "-c", guard], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, check=False)
    return done.returncode != 0


def test_the_entry_runs_backup_sh_as_postgres_and_its_guard_passes_only_at_0300_utc(tmp_path: Path) -> None:
    fields, user, command = entry()
    assert user == "postgres"
    assert fields[1:] == ["*", "*", "*", "*"]
    assert "scripts/backup.sh --stanza newstalk --type full" in command
    assert runs(command, "0300", tmp_path)
    for other in ("0245", "0315", "1500", "0000", "0330"):
        assert not runs(command, other, tmp_path), other


@pytest.mark.parametrize(
    ("zone", "around"),
    [
        ("UTC", "2026-06-01"),
        ("Asia/Seoul", "2026-06-01"),
        ("Asia/Kolkata", "2026-06-01"),  # +05:30
        ("Asia/Kathmandu", "2026-06-01"),  # +05:45
        ("America/New_York", "2026-03-08"),  # daylight saving starts
        ("America/New_York", "2026-11-01"),  # and ends
        ("Australia/Lord_Howe", "2026-04-05"),  # a 30-minute daylight-saving change
        ("America/St_Johns", "2026-11-01"),  # -03:30, daylight saving ends
    ],
)
def test_exactly_one_backup_a_utc_day_at_0300_in_any_host_zone(zone: str, around: str) -> None:
    fields, _user, command = entry()
    minutes = {int(m) for m in fields[0].split(",")}
    (passes,) = re.findall(r"!= (\d{4})", command)
    start = datetime.fromisoformat(around).replace(tzinfo=UTC) - timedelta(days=1)
    started: list[datetime] = []
    for step in range(3 * 24 * 60):
        at = start + timedelta(minutes=step)
        if at.astimezone(ZoneInfo(zone)).minute in minutes and at.strftime("%H%M") == passes:
            started.append(at)
    assert [t.strftime("%d %H:%M") for t in started] == [
        (start + timedelta(days=d)).strftime("%d 03:00") for d in range(3)
    ]
