#!/usr/bin/env bash
# Restore drill: back up a seeded NewsTalk PostgreSQL with pgBackRest (WAL archiving + base backup),
# lose the primary while it is being written to, restore it into another scratch cluster by
# point-in-time recovery, start a NewsTalk API on it and print the measured RPO and RTO.
#
#   scripts/restore-drill.sh [--size-mb N] [--write-s S] [--archive-timeout S] [--process-max N]
#
# --size-mb          seed the database until pg_database_size reaches N MiB (default 64; the
#                    measured runs in docs/backup.md use 1024 and 2048)
# --write-s          seconds of writes after the base backup before the primary is lost (default 20)
# --archive-timeout  archive_timeout of the primary: the longest a committed write waits for its
#                    WAL segment to reach the repository, the RPO bound (default 15)
# --process-max      pgBackRest processes for backup and restore (default 2)
#
# Timeline: seed → writer starts (one article a 0.2 s) → full backup → writes go on, and halfway
# through them the PITR target time is taken → failure time: the primary stops at once
# (-m immediate) and its disk counts as lost → restore from the repository alone (base backup +
# archived WAL, to the end of the archive) into a new cluster → NewsTalk API on it until /ready
# answers. RTO is from the start of the restore to /ready. RPO is the failure time minus the
# newest write the restored database holds. Afterwards the lost primary is started from its own
# disk (crash recovery) only to read what was really committed, and the restored database must
# equal it up to its newest article: the same row count in every table, the same newest article.
# Point-in-time recovery last: the restarted primary archives the rest of its WAL (as a live
# primary would have, the case of undoing a bad write), the scratch cluster is restored again
# with --type=time --target=<the target time>, and it must hold exactly the articles committed
# up to the target (commit times from track_commit_timestamp on the primary) and none after.
# Needs root (pg_createcluster) and Debian packages postgresql-common, pgbackrest
# (scripts/system-deps). Everything it creates (two clusters, one directory, the API process)
# is removed on exit, failed or not.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

size_mb=64
write_s=20
archive_timeout=15
process_max=2
while [ $# -gt 0 ]; do
  case $1 in
    --size-mb) size_mb=$2; shift 2 ;;
    --write-s) write_s=$2; shift 2 ;;
    --archive-timeout) archive_timeout=$2; shift 2 ;;
    --process-max) process_max=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "restore-drill: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$size_mb" "$write_s" "$archive_timeout" "$process_max"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "restore-drill: options take whole numbers, got '$n'" >&2; exit 2; }
done
if [ "$(id -u)" != 0 ]; then
  echo "restore-drill: needs root (pg_createcluster, running PostgreSQL as user postgres)" >&2
  exit 2
fi
for tool in pg_createcluster pgbackrest curl; do
  command -v "$tool" >/dev/null || { echo "restore-drill: $tool is missing (scripts/system-deps)" >&2; exit 2; }
done
newstalk=${NEWSTALK_BIN:-$root/.venv/bin/newstalk}
python=${PYTHON_BIN:-$root/.venv/bin/python}
[ -x "$newstalk" ] || { echo "restore-drill: $newstalk is missing (scripts/bootstrap)" >&2; exit 2; }
# The NewsTalk of this checkout, even where the virtualenv's editable install points at another.
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"

# shellcheck disable=SC2012 # the entries are PostgreSQL major versions
version=$(ls /usr/lib/postgresql | sort -n | tail -n1)
tag="drill$$"
src="nt_${tag}_src"
dst="nt_${tag}_dst"
stanza="$tag"
work=$(mktemp -d /tmp/newstalk-drill.XXXXXX)
chmod 755 "$work"
conf="$work/pgbackrest.conf"
writer_pid=""
api_pid=""

log() { printf 'restore-drill: %s\n' "$*" >&2; }
now() { date +%s.%N; }
as_pg() { runuser -u postgres -- "$@"; }
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$api_pid" ] && { kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; }
  [ -n "$writer_pid" ] && { kill "$writer_pid" 2>/dev/null || true; wait "$writer_pid" 2>/dev/null || true; }
  for cluster in "$src" "$dst"; do
    if [ -d "/etc/postgresql/$version/$cluster" ]; then
      pg_dropcluster --stop "$version" "$cluster" 2>/dev/null || pg_dropcluster "$version" "$cluster" 2>/dev/null || true
    fi
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$work"/api.log "$work"/log/*.log "/var/log/postgresql/postgresql-$version-$dst.log"; do
      [ -f "$f" ] && { log "last lines of $f:"; tail -n 15 "$f" >&2; }
    done
  fi
  rm -rf "$work" "/var/log/postgresql/postgresql-$version-$src.log" "/var/log/postgresql/postgresql-$version-$dst.log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

src_port=$(free_port)
dst_port=$(free_port)
psql_src() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$src_port" -d newstalk "$@"; }
psql_dst() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$dst_port" -d newstalk "$@"; }

mkdir -p "$work/repo" "$work/log" "$work/lock" "$work/spool"
cat > "$conf" <<EOF
[global]
repo1-path=$work/repo
repo1-retention-full-type=time
repo1-retention-full=7
compress-type=lz4
process-max=$process_max
start-fast=y
log-path=$work/log
lock-path=$work/lock
spool-path=$work/spool
log-level-console=warn
log-level-file=info

[$stanza]
pg1-path=$work/src
pg1-port=$src_port
pg1-socket-path=/var/run/postgresql
EOF
chown -R postgres:postgres "$work"

log "PostgreSQL $version, scratch clusters $src (port $src_port) and $dst (port $dst_port) under $work"
pg_createcluster --quiet "$version" "$src" -p "$src_port" -d "$work/src" --locale C.UTF-8 \
  -o wal_level=replica -o archive_mode=on \
  -o "archive_command=pgbackrest --config=$conf --stanza=$stanza archive-push %p" \
  -o "archive_timeout=${archive_timeout}" -o max_wal_size=2GB -o checkpoint_timeout=5min \
  -o track_commit_timestamp=on \
  -- --auth-local=trust --auth-host=trust >/dev/null
pg_ctlcluster "$version" "$src" start
as_pg createdb -h /var/run/postgresql -p "$src_port" newstalk
as_pg pgbackrest --config="$conf" --stanza="$stanza" stanza-create

t_seed=$(now)
url_src="postgresql://postgres@127.0.0.1:$src_port/newstalk"
(cd "$work" && NEWSTALK_DATABASE_URL="$url_src" "$newstalk" db upgrade >/dev/null)
psql_src <<'SQL'
INSERT INTO sources (feed_url, title, language, full_text, status, fetch_interval_s, next_fetch_at,
  consecutive_failures, fetch_count, not_modified_count, article_count, created_at, updated_at)
SELECT 'https://drill.example/' || g || '/feed.xml', 'Drill source ' || g, CASE WHEN g % 2 = 0 THEN 'ko' ELSE 'en' END,
       false, 'paused', 900, now(), 0, 0, 0, 0, now(), now()
FROM generate_series(1, 40) g;
SQL
# One batch: up to 20,000 articles with ~2.4 KB of text each (hex digests, so TOAST compresses
# them about as little as real text); repeated until the database reaches --size-mb.
batch_sql="INSERT INTO articles (source_id, url, content_hash, title, summary, content_html, content_text,
  language, full_text_extracted, published_at, first_seen_at, stored_at)
SELECT 1 + (n % 40), 'https://drill.example/a/' || n, md5(n::text) || md5((n + 1)::text),
  'Drill article ' || n, left(body, 300), '', body, CASE WHEN n % 2 = 0 THEN 'ko' ELSE 'en' END, false,
  now() - make_interval(secs => n), now() - make_interval(secs => n), now() - make_interval(secs => n)
FROM (SELECT n, (SELECT string_agg(md5((n * 100 + k)::text), ' ') FROM generate_series(1, 72) k) AS body
      FROM generate_series(:start + 1, :start + :rows) n) s;"
rows=$(( size_mb >= 256 ? 20000 : 4000 ))
start=0
while :; do
  size=$(psql_src -c "SELECT pg_database_size('newstalk') / 1048576")
  [ "$size" -ge "$size_mb" ] && break
  psql_src -v start="$start" -v rows="$rows" <<<"$batch_sql"
  start=$((start + rows))
done
psql_src -c "VACUUM ANALYZE" >/dev/null
seeded_mb=$(psql_src -c "SELECT pg_database_size('newstalk') / 1048576")
log "seeded $start articles, ${seeded_mb} MiB in $(printf '%.0f' "$(echo "$(now) - $t_seed" | bc)") s"

# The writer: one new article every 0.2 s, each in its own transaction, stamped with the time it
# committed (clock_timestamp), until the primary is lost under it.
psql_src >/dev/null 2>&1 <<'SQL' &
DO $$
DECLARE i bigint := 0;
BEGIN
  LOOP
    i := i + 1;
    INSERT INTO articles (source_id, url, content_hash, title, summary, content_html, content_text,
      language, full_text_extracted, published_at, first_seen_at, stored_at)
    VALUES (1, 'https://drill.example/live/' || i, md5('live' || i) || md5('live' || i || 'x'),
      'Live article ' || i, '', '', repeat(md5(i::text), 20), 'en', false,
      clock_timestamp(), clock_timestamp(), clock_timestamp());
    COMMIT;
    PERFORM pg_sleep(0.2);
  END LOOP;
END $$;
SQL
writer_pid=$!

t_backup=$(now)
as_pg "$root/scripts/backup.sh" --config "$conf" --stanza "$stanza" --type full --status-file "$work/backup-status.json" >/dev/null
backup_s=$(echo "$(now) - $t_backup" | bc)
repo_mb=$(du -sm "$work/repo" | cut -f1)
log "full backup in $(printf '%.1f' "$backup_s") s (repository ${repo_mb} MiB with WAL)"

# The PITR target: halfway through the writes, in the primary's own clock (what its commit
# records carry), as pgBackRest's --target wants it.
sleep "$((write_s / 2))"
t_target=$(now)
pitr_target=$(psql_src -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep "$((write_s - write_s / 2))"
t_fail=$(now)
pg_ctlcluster --mode immediate "$version" "$src" stop
wait "$writer_pid" 2>/dev/null || true
writer_pid=""
log "failure at $(date -u -d "@$t_fail" +%H:%M:%S.%N | cut -c1-12) UTC: primary stopped at once, its disk counts as lost"

# Restore: only the repository is used (base backup + archived WAL).
t_restore=$(now)
pg_createcluster --quiet "$version" "$dst" -p "$dst_port" -d "$work/dst" --locale C.UTF-8 \
  -o max_wal_size=2GB -- --auth-local=trust --auth-host=trust >/dev/null
find "$work/dst" -mindepth 1 -delete
as_pg pgbackrest --config="$conf" --stanza="$stanza" --pg1-path="$work/dst" --type=default \
  --process-max="$process_max" restore
pg_ctlcluster "$version" "$dst" start
for _ in $(seq 1 600); do
  [ "$(psql_dst -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
  sleep 0.5
done
[ "$(psql_dst -c 'SELECT pg_is_in_recovery()')" = f ] || { log "the restored cluster did not finish recovery"; exit 1; }
t_promoted=$(now)
api_port=$(free_port)
(cd "$work" && NEWSTALK_DATABASE_URL="postgresql://postgres@127.0.0.1:$dst_port/newstalk" \
  NEWSTALK_AUDIO_DIR="$work/audio" NEWSTALK_BACKUP_STATUS_FILE="$work/backup-status.json" \
  exec "$newstalk" api --port "$api_port" > "$work/api.log" 2>&1) &
api_pid=$!
for _ in $(seq 1 600); do
  curl -fsS -o /dev/null "http://127.0.0.1:$api_port/ready" 2>/dev/null && break
  kill -0 "$api_pid" 2>/dev/null || { log "the NewsTalk API on the restored database exited"; exit 1; }
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$api_port/ready" || { log "/ready never answered"; exit 1; }
t_ready=$(now)
served=$(curl -fsS "http://127.0.0.1:$api_port/api/v1/news?limit=1" | "$python" -c \
  'import json, sys; body = json.load(sys.stdin); items = body.get("items", body) if isinstance(body, dict) else body; print(len(items))')
[ "$served" -ge 1 ] || { log "the API on the restored database served no article"; exit 1; }
# The backup's status as /metrics exports it (scripts/backup.sh wrote it).
curl -fsS "http://127.0.0.1:$api_port/metrics" > "$work/metrics.txt"
awk -v t="$t_backup" '$1 == "newstalk_backup_last_success_timestamp_seconds" && $2 + 0 > t + 0 {ok = 1} END {exit !ok}' \
  "$work/metrics.txt" || { log "/metrics lacks newstalk_backup_last_success_timestamp_seconds of this backup"; exit 1; }
kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; api_pid=""

# Ground truth: what the lost primary had committed (its own disk, crash recovery).
counts_sql="SELECT table_name || ' ' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', table_name), false, true, '')))[1]::text
FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'articles' ORDER BY 1"
newest_sql="SELECT id || ' ' || content_hash || ' ' || extract(epoch FROM stored_at) FROM articles ORDER BY id DESC LIMIT 1"
restored_counts=$(psql_dst -c "$counts_sql")
restored_newest=$(psql_dst -c "$newest_sql")
restored_articles=$(psql_dst -c "SELECT count(*) FROM articles")
read -r newest_id _ newest_at <<<"$restored_newest"
pg_ctlcluster "$version" "$src" start
source_counts=$(psql_src -c "$counts_sql")
source_newest_same=$(psql_src -c "SELECT id || ' ' || content_hash || ' ' || extract(epoch FROM stored_at) FROM articles WHERE id = $newest_id")
source_articles_upto=$(psql_src -c "SELECT count(*) FROM articles WHERE id <= $newest_id")
source_articles=$(psql_src -c "SELECT count(*) FROM articles")
source_last_at=$(psql_src -c "SELECT extract(epoch FROM max(stored_at)) FROM articles")

ok=1
[ "$restored_counts" = "$source_counts" ] || { log "row counts differ from the source:"; diff <(echo "$source_counts") <(echo "$restored_counts") >&2 || true; ok=0; }
[ "$restored_newest" = "$source_newest_same" ] || { log "newest restored article $restored_newest differs from the source's $source_newest_same"; ok=0; }
[ "$restored_articles" = "$source_articles_upto" ] || { log "restored $restored_articles articles, the source had $source_articles_upto up to id $newest_id"; ok=0; }
[ "$ok" = 1 ] || exit 1

# Point-in-time recovery. The restarted primary pushes the WAL it had not archived yet;
# `pgbackrest check` switches to a new segment and waits until it (so every earlier one) is in
# the repository. Ground truth: the live articles committed up to the target and after it.
as_pg pgbackrest --config="$conf" --stanza="$stanza" check
live="url LIKE 'https://drill.example/live/%'"
pitr_before=$(psql_src -c "SELECT count(*) FROM articles WHERE $live AND pg_xact_commit_timestamp(xmin) <= '$pitr_target'")
pitr_after=$(psql_src -c "SELECT count(*) FROM articles WHERE $live AND pg_xact_commit_timestamp(xmin) > '$pitr_target'")
pitr_last_id=$(psql_src -c "SELECT coalesce(max(id), 0) FROM articles WHERE $live AND pg_xact_commit_timestamp(xmin) <= '$pitr_target'")
pitr_upto=$(psql_src -c "SELECT count(*) FROM articles WHERE id <= $pitr_last_id")
if [ "$pitr_before" -lt 1 ] || [ "$pitr_after" -lt 1 ]; then
  log "PITR target $pitr_target has $pitr_before live articles before it and $pitr_after after; both must be > 0"
  exit 1
fi
pg_ctlcluster "$version" "$dst" stop
find "$work/dst" -mindepth 1 -delete
t_pitr=$(now)
as_pg pgbackrest --config="$conf" --stanza="$stanza" --pg1-path="$work/dst" --type=time \
  --target="$pitr_target" --target-action=promote --process-max="$process_max" restore
pg_ctlcluster "$version" "$dst" start
for _ in $(seq 1 600); do
  [ "$(psql_dst -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
  pg_ctlcluster "$version" "$dst" status >/dev/null 2>&1 || { log "the PITR cluster stopped during recovery"; exit 1; }
  sleep 0.5
done
[ "$(psql_dst -c 'SELECT pg_is_in_recovery()')" = f ] || { log "the PITR cluster did not finish recovery"; exit 1; }
pitr_s=$(echo "$(now) - $t_pitr" | bc)
pitr_got_before=$(psql_dst -c "SELECT count(*) FROM articles WHERE $live AND id <= $pitr_last_id")
pitr_got_after=$(psql_dst -c "SELECT count(*) FROM articles WHERE id > $pitr_last_id")
pitr_got_all=$(psql_dst -c "SELECT count(*) FROM articles")
[ "$pitr_got_before" = "$pitr_before" ] && [ "$pitr_got_after" = 0 ] && [ "$pitr_got_all" = "$pitr_upto" ] || {
  log "PITR to $pitr_target: $pitr_got_before of $pitr_before live articles committed before it," \
    "$pitr_got_after of $pitr_after after it (must be 0), $pitr_got_all articles in all (the primary had $pitr_upto)"
  exit 1
}
log "PITR to $pitr_target: $pitr_before live articles before it present, $pitr_after after it absent"

rpo=$(echo "$t_fail - $newest_at" | bc)
rto_s=$(echo "$t_ready - $t_restore" | bc)
tables=$(wc -l <<<"$source_counts")
printf '\n| measure | value |\n|---|---|\n'
printf '| database seeded | %s MiB (%s articles) |\n' "$seeded_mb" "$restored_articles"
printf '| full backup (pgBackRest, lz4, %s processes) | %.1f s |\n' "$process_max" "$backup_s"
printf '| writes after the backup | %s s, one article every 0.2 s |\n' "$write_s"
printf '| archive_timeout | %s s |\n' "$archive_timeout"
printf '| rows lost at the failure | %s of %s articles (last commit on the source %+.1f s from the failure time) |\n' \
  "$((source_articles - restored_articles))" "$source_articles" "$(echo "$source_last_at - $t_fail" | bc)"
printf '| checks | %s other tables same row count, newest article id %s same hash |\n' "$tables" "$newest_id"
printf '| restore (pgBackRest) + recovery until promoted | %.1f s |\n' "$(echo "$t_promoted - $t_restore" | bc)"
printf '| NewsTalk API start until /ready | %.1f s |\n' "$(echo "$t_ready - $t_promoted" | bc)"
printf '| **RPO** (failure time - newest restored write) | **%.1f s** |\n' "$rpo"
printf '| **RTO** (start of restore - API serving) | **%.2f min** (%.1f s) |\n' "$(echo "$rto_s / 60" | bc -l)" "$rto_s"
printf '| **PITR** (--type=time, target %.1f s after the backup finished) | %s live articles committed before the target present, %s after it absent; restore + recovery %.1f s |\n' \
  "$(echo "$t_target - $t_backup - $backup_s" | bc)" \
  "$pitr_before" "$pitr_after" "$pitr_s"
