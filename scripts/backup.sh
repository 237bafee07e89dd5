#!/usr/bin/env bash
# Base backup of NewsTalk's PostgreSQL with pgBackRest, then the status file /metrics exports.
#
#   scripts/backup.sh [--stanza NAME] [--type full|diff|incr] [--status-file PATH] [--config PATH]
#
# Run it as the PostgreSQL OS user (postgres) every night at 03:00 UTC (deploy/backup/newstalk-backup.cron).
# pgBackRest expires what the retention in its config no longer needs (deploy/backup/pgbackrest.conf:
# 7 days, so any point of the last 7 days can be restored). After a successful backup it writes
# {"last_success_timestamp_seconds", "size_bytes", "label", "type"} atomically to the status file;
# a NewsTalk API with NEWSTALK_BACKUP_STATUS_FILE pointing at it exports the two numbers as
# newstalk_backup_last_success_timestamp_seconds and newstalk_backup_size_bytes. A failed
# backup leaves the file as it was, so the age keeps growing and NewsTalkBackupTooOld fires.
set -euo pipefail

stanza=${PGBACKREST_STANZA:-newstalk}
type=full
status=${NEWSTALK_BACKUP_STATUS_FILE:-/var/lib/newstalk/backup-status.json}
config=${PGBACKREST_CONFIG:-/etc/pgbackrest/pgbackrest.conf}
while [ $# -gt 0 ]; do
  case $1 in
    --stanza) stanza=$2; shift 2 ;;
    --type) type=$2; shift 2 ;;
    --status-file) status=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "backup: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $type in full|diff|incr) ;; *) echo "backup: --type must be full, diff or incr, got '$type'" >&2; exit 2 ;; esac
command -v pgbackrest >/dev/null || { echo "backup: pgbackrest is missing (apt-get install pgbackrest)" >&2; exit 2; }

pgbackrest --config="$config" --stanza="$stanza" --type="$type" backup
info=$(pgbackrest --config="$config" --stanza="$stanza" --output=json info)
mkdir -p "$(dirname "$status")"
tmp=$(mktemp "$status.XXXXXX")
python3 -c "$(cat <<'PY'
import json, sys
stanzas = json.loads(sys.argv[2])
backups = [b for s in stanzas for b in s.get("backup", []) if not b.get("error")]
if not backups:
    sys.exit("backup: pgbackrest info lists no successful backup")
last = max(backups, key=lambda b: b["timestamp"]["stop"])
status = {
    "last_success_timestamp_seconds": last["timestamp"]["stop"],
    "size_bytes": last["info"]["repository"]["size"],
    "label": last["label"],
    "type": last["type"],
}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(status, f)
PY
)" "$tmp" "$info" || { rm -f "$tmp"; exit 1; }
chmod 644 "$tmp"
mv "$tmp" "$status"
echo "backup: $type backup of stanza $stanza done; status in $status"
