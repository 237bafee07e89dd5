"""Every Prometheus metric NewsTalk exports, declared once, namespaced newstalk_, small label sets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily, Metric

REGISTRY = CollectorRegistry(auto_describe=True)
# process_cpu_seconds_total, process_resident_memory_bytes, ...: the system overview dashboard.
REGISTRY.register(PROCESS_COLLECTOR)
REGISTRY.register(PLATFORM_COLLECTOR)

# 600 s is an edge: NewsTalkEndToEndDelayHigh (deploy/monitoring) reads the promised 10 minutes
# as an exact bucket count rather than an interpolation between 300 and 900.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 3600)

HTTP_REQUESTS = Counter(
    "newstalk_http_requests_total",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "newstalk_http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STAGE_LATENCY = Histogram(
    "newstalk_stage_latency_seconds",
    "Time from an article's first sighting to a stage finishing it",
    ["stage"],
    registry=REGISTRY,
    buckets=LATENCY_BUCKETS,
)
STAGE_JOBS = Counter(
    "newstalk_stage_jobs_total",
    "Pipeline jobs handled, by stage and outcome (ok, retry, dead, lease_lost)",
    ["stage", "outcome"],
    registry=REGISTRY,
)
STAGE_BUSY = Counter(
    "newstalk_stage_busy_seconds",
    "Wall time a stage spent handling its claims (waits for its turn excluded)",
    ["stage"],
    registry=REGISTRY,
)
STAGE_DEFERRED = Counter(
    "newstalk_stage_deferred_seconds",
    "Wall time a stage waited before claiming while higher-priority stages had a backlog",
    ["stage"],
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "newstalk_build_info",
    "Always 1; the running NewsTalk version (a new version appearing is a finished deployment)",
    ["version"],
    registry=REGISTRY,
)
QUEUE_OLDEST_AGE = Gauge(
    "newstalk_queue_oldest_pending_age_seconds",
    "Seconds the oldest job due in each stage has waited since it became due (0 when none): the "
    "news processing delay, how long the oldest unprocessed article has waited in that stage",
    ["stage"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "newstalk_queue_depth",
    "Pipeline jobs by stage and status (ready: due; held: waiting for a delay or retry; running; dead)",
    ["stage", "status"],
    registry=REGISTRY,
)
KAFKA_LAG = Gauge(
    "newstalk_kafka_lag_records",
    "Kafka only: records of a stage's partitions assigned to this process not read yet (the "
    "stage's consumer lag is the sum over its processes; the queue table's is newstalk_queue_depth)",
    ["stage"],
    registry=REGISTRY,
)
COLLECT_HELD_BACK = Counter(
    "newstalk_collect_held_back_total",
    "New feed items the collect caps left for later polls (NEWSTALK_COLLECT_MAX_NEW_*)",
    registry=REGISTRY,
)
SOURCE_FETCHES = Counter(
    "newstalk_source_fetches_total",
    "Feed fetch outcomes per source (ok, not_modified, or an error reason)",
    ["source", "outcome"],
    registry=REGISTRY,
)
ARTICLES_STORED = Counter(
    "newstalk_articles_stored_total",
    "New articles stored, by detected language",
    ["language"],
    registry=REGISTRY,
)
WEBSUB_EVENTS = Counter(
    "newstalk_websub_events_total",
    "WebSub verifications, pushes and rejections",
    ["event"],
    registry=REGISTRY,
)
FACTCHECK_AGREEMENT = Gauge(
    "newstalk_factcheck_agreement_ratio",
    "Share of reviewed verdicts that editors confirmed (the rest they overturned)",
    registry=REGISTRY,
)
FACTCHECK_REVIEWED = Gauge(
    "newstalk_factcheck_reviewed_claims",
    "Claims an editor has reviewed (the denominator of the agreement ratio)",
    registry=REGISTRY,
)
FACTCHECK_VERDICTS = Counter(
    "newstalk_factcheck_verdicts_total",
    "Claim verdicts written by the factcheck stage",
    ["verdict"],
    registry=REGISTRY,
)
FACTCHECK_SUPERSEDED = Counter(
    "newstalk_factcheck_superseded_total",
    "Fact-check jobs skipped because their story had moved on to a newer version (that version's job checks it)",
    registry=REGISTRY,
)
FACTCHECK_CONFIDENCE = Histogram(
    "newstalk_factcheck_verdict_confidence_ratio",
    "Calibrated confidence (0-1) of each claim verdict the factcheck stage wrote",
    ["verdict"],
    registry=REGISTRY,
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
SPEECH_SECONDS = Histogram(
    "newstalk_speech_synthesis_seconds",
    "Wall time the speech stage took to synthesize, encode and store one script",
    registry=REGISTRY,
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
AUDIO_SECONDS = Histogram(
    "newstalk_audio_duration_seconds",
    "Length of the audio the speech stage produced, per script",
    registry=REGISTRY,
    buckets=(5, 15, 30, 60, 90, 120, 300, 600, 1200),
)
SCRIPT_REWRITES = Counter(
    "newstalk_script_rewrites_total",
    "Scripts sent to the chat model for rewriting, by outcome (rewritten, rejected by a check, error)",
    ["outcome"],
    registry=REGISTRY,
)
RATELIMIT_REJECTED = Counter(
    "newstalk_ratelimit_rejected_total",
    "Requests refused with 429, by limit bucket (default or a per-route limit)",
    ["bucket"],
    registry=REGISTRY,
)
RATELIMIT_ERRORS = Counter(
    "newstalk_ratelimit_errors_total",
    "Rate-limit checks Redis failed (unreachable or slower than NEWSTALK_REDIS_TIMEOUT_S)",
    registry=REGISTRY,
)
RATELIMIT_FALLBACK = Counter(
    "newstalk_ratelimit_fallback_total",
    "Rate-limit checks counted in process because Redis was unavailable",
    registry=REGISTRY,
)
LIVE_EVENTS = Counter(
    "newstalk_live_events_total",
    "Events written to the live event log by the live stage, by type",
    ["type"],
    registry=REGISTRY,
)
LIVE_STREAMS = Gauge(
    "newstalk_live_streams",
    "Open Server-Sent Events streams in this process",
    registry=REGISTRY,
)
LIVE_PUBLISH_ERRORS = Counter(
    "newstalk_live_publish_errors_total",
    "Live events that could not be published (Redis down); API processes catch up from the log",
    registry=REGISTRY,
)
AUTH_INVALIDATION_PUBLISH_ERRORS = Counter(
    "newstalk_auth_invalidation_publish_errors_total",
    "Principal-cache invalidations not sent to other processes (Redis down or slow); they expire "
    "there within NEWSTALK_AUTH_CACHE_TTL_S",
    registry=REGISTRY,
)
WEBHOOK_ATTEMPTS = Counter(
    "newstalk_webhook_attempts_total",
    "Webhook delivery attempts by outcome (delivered, retry, failed)",
    ["outcome"],
    registry=REGISTRY,
)


class BackupStatus:
    """The last successful base backup, read at scrape time from the file the backup job writes.

    ``scripts/backup.sh`` writes ``{"last_success_timestamp_seconds": ..., "size_bytes": ...}``
    to NEWSTALK_BACKUP_STATUS_FILE after each successful pgBackRest backup (docs/backup.md).
    No file configured: no series (a database backed up elsewhere, such as RDS). A configured
    file that is missing or unreadable reads as never backed up (0), so the age alert fires.
    """

    def __init__(self) -> None:
        self.path: Path | None = None

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        if self.path is None:
            return
        last, size = 0.0, 0.0
        try:
            status = json.loads(self.path.read_text(encoding="utf-8"))
            last = float(status["last_success_timestamp_seconds"])
            size = float(status["size_bytes"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logging.getLogger(__name__).warning("metrics: backup status %s unreadable: %s", self.path, exc)
        yield GaugeMetricFamily(
            "newstalk_backup_last_success_timestamp_seconds",
            "Unix time the last successful base backup finished (0: none recorded)",
            value=last,
        )
        yield GaugeMetricFamily(
            "newstalk_backup_size_bytes",
            "Size of the last successful base backup in the repository",
            value=size,
        )


BACKUP_STATUS = BackupStatus()
REGISTRY.register(BACKUP_STATUS)
FEEDBACK_EVENTS = Counter(
    "newstalk_feedback_events_total",
    "Listener feedback by kind (opened, listened, skipped, liked, disliked, shared); listened is a listen",
    ["kind"],
    registry=REGISTRY,
)
ACTIVE_LISTENERS = Gauge(
    "newstalk_active_listeners",
    "Accounts that sent feedback (opened, listened, ...) within the window, read from the database",
    ["window"],
    registry=REGISTRY,
)
CLIENT_PLATFORMS = ("web", "ios", "android")
CLIENT_STARTS = Counter(
    "newstalk_client_starts_total",
    "App starts the web and mobile apps reported to /api/v1/telemetry",
    ["platform"],
    registry=REGISTRY,
)
CLIENT_START_SECONDS = Histogram(
    "newstalk_client_start_duration_seconds",
    "Time from launch to the first usable screen, as the apps reported it",
    ["platform"],
    registry=REGISTRY,
    buckets=(0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 20),
)
CLIENT_CRASHES = Counter(
    "newstalk_client_crashes_total",
    "Crashes the apps reported (on their next start)",
    ["platform"],
    registry=REGISTRY,
)
CLIENT_PLAYBACK_ERRORS = Counter(
    "newstalk_client_playback_errors_total",
    "Audio playback failures the apps reported",
    ["platform"],
    registry=REGISTRY,
)
CLIENT_EVENTS_REJECTED = Counter(
    "newstalk_client_events_rejected_total",
    "Telemetry events refused (unknown type or platform, out-of-range value)",
    ["reason"],
    registry=REGISTRY,
)
