"""Settings fail at start-up with a message naming the variable; production refuses unsafe values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from newstalk.config import (
    DEV_ADMIN_TOKEN,
    DEV_JWT_SECRET,
    Environment,
    load_settings,
    to_async_url,
    to_sync_url,
)
from newstalk.errors import ConfigError

NEWSTALK = Path(sys.executable).parent / "newstalk"
GOOD_TOKEN = "k3y-" + "x" * 40


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No NEWSTALK_* from the caller's shell and no .env in the working directory."""
    for name in list(os.environ):
        if name.startswith("NEWSTALK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_development_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.environment is Environment.development
    assert s.admin_token.get_secret_value() == DEV_ADMIN_TOKEN
    assert s.database_url.startswith("sqlite")
    assert s.is_sqlite
    assert s.async_database_url.startswith("sqlite+aiosqlite://")
    assert s.allow_private_networks is False
    assert s.fetch_timeout_s == 20.0
    monkeypatch.setenv("NEWSTALK_FETCH_TIMEOUT_S", "7.5")
    monkeypatch.setenv("NEWSTALK_ALLOW_PRIVATE_NETWORKS", "true")
    s = load_settings()
    assert s.fetch_timeout_s == 7.5
    assert s.allow_private_networks is True


def test_production_refuses_the_default_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSTALK_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="NEWSTALK_JWT_SECRET") as info:
        load_settings()
    assert "\n" not in info.value.detail
    assert info.value.detail.startswith("config: ")
    assert "secrets.token_urlsafe" in info.value.detail  # says how to make one


def test_production_refuses_a_short_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSTALK_ENVIRONMENT", "production")
    monkeypatch.setenv("NEWSTALK_JWT_SECRET", "short-but-not-default")
    with pytest.raises(ConfigError, match="NEWSTALK_JWT_SECRET"):
        load_settings()
    monkeypatch.setenv("NEWSTALK_JWT_SECRET", GOOD_TOKEN)
    s = load_settings()
    assert s.environment is Environment.production
    assert s.jwt_secret.get_secret_value() == GOOD_TOKEN


def test_production_refuses_the_development_admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts replace the static token: production refuses to start while it is set, however strong."""
    monkeypatch.setenv("NEWSTALK_ENVIRONMENT", "production")
    monkeypatch.setenv("NEWSTALK_JWT_SECRET", GOOD_TOKEN)
    monkeypatch.setenv("NEWSTALK_ADMIN_TOKEN", GOOD_TOKEN)
    with pytest.raises(ConfigError, match="NEWSTALK_ADMIN_TOKEN is a development credential") as info:
        load_settings()
    assert "newstalk users create-admin" in info.value.detail
    monkeypatch.delenv("NEWSTALK_ADMIN_TOKEN")
    assert load_settings().environment is Environment.production


def test_production_refuses_private_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSTALK_ENVIRONMENT", "production")
    monkeypatch.setenv("NEWSTALK_JWT_SECRET", GOOD_TOKEN)
    monkeypatch.setenv("NEWSTALK_ALLOW_PRIVATE_NETWORKS", "true")
    with pytest.raises(ConfigError, match="NEWSTALK_ALLOW_PRIVATE_NETWORKS=true is refused in production"):
        load_settings()


def test_secrets_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "jwt_secret"
    secret.write_text(GOOD_TOKEN + "\n", encoding="utf-8")
    monkeypatch.setenv("NEWSTALK_ENVIRONMENT", "production")
    monkeypatch.setenv("NEWSTALK_JWT_SECRET_FILE", str(secret))
    assert load_settings().jwt_secret.get_secret_value() == GOOD_TOKEN
    # The file wins over a plain variable, so a stale default can't shadow the mounted secret.
    monkeypatch.setenv("NEWSTALK_JWT_SECRET", DEV_JWT_SECRET)
    assert load_settings().jwt_secret.get_secret_value() == GOOD_TOKEN
    monkeypatch.setenv("NEWSTALK_ENVIRONMENT", "development")
    token_file = tmp_path / "admin_token"
    token_file.write_text("from-a-file-0123456789\n", encoding="utf-8")
    monkeypatch.setenv("NEWSTALK_ADMIN_TOKEN_FILE", str(token_file))
    assert load_settings().admin_token.get_secret_value() == "from-a-file-0123456789"


def test_database_and_redis_urls_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    database = tmp_path / "database-url"
    database.write_text("postgresql://newstalk:s3cret@db.internal:5432/newstalk\n", encoding="utf-8")
    redis = tmp_path / "redis-url"
    redis.write_text("rediss://:token@cache.internal:6379/0\n", encoding="utf-8")
    monkeypatch.setenv("NEWSTALK_DATABASE_URL", "sqlite:///./stale.db")
    monkeypatch.setenv("NEWSTALK_DATABASE_URL_FILE", str(database))
    monkeypatch.setenv("NEWSTALK_REDIS_URL_FILE", str(redis))
    settings = load_settings()
    assert settings.database_url == "postgresql://newstalk:s3cret@db.internal:5432/newstalk"
    assert settings.async_database_url.startswith("postgresql+psycopg://")
    assert settings.redis_url == "rediss://:token@cache.internal:6379/0"
    monkeypatch.setenv("NEWSTALK_REDIS_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"NEWSTALK_REDIS_URL_FILE=.* cannot be read"):
        load_settings()


def test_rate_limit_routes_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSTALK_RATE_LIMIT_ROUTES", '{"GET /api/v1/news": 300}')
    assert load_settings().rate_limit_routes == {"GET /api/v1/news": 300}
    monkeypatch.setenv("NEWSTALK_RATE_LIMIT_ROUTES", '{"/api/v1/news": 300}')
    with pytest.raises(ConfigError, match="NEWSTALK_RATE_LIMIT_ROUTES"):
        load_settings()


def test_an_unreadable_secret_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"
    monkeypatch.setenv("NEWSTALK_ADMIN_TOKEN_FILE", str(missing))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert f"NEWSTALK_ADMIN_TOKEN_FILE={missing} cannot be read" in info.value.detail
    assert "No such file" in info.value.detail


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEWSTALK_FETCH_TIMEOUT_S", "abc"),
        ("NEWSTALK_FETCH_TIMEOUT_S", "0"),
        ("NEWSTALK_QUEUE_BATCH_SIZE", "many"),
        ("NEWSTALK_ALLOW_PRIVATE_NETWORKS", "perhaps"),
        ("NEWSTALK_ENVIRONMENT", "staging"),
        ("NEWSTALK_LOG_LEVEL", "loud"),
    ],
)
def test_wrong_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.detail.startswith(f"config: {variable}: ")
    assert "\n" not in info.value.detail


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSTALK_FETCH_TIMEOUT_S", "abc")
    monkeypatch.setenv("NEWSTALK_QUEUE_BATCH_SIZE", "0")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "NEWSTALK_FETCH_TIMEOUT_S" in info.value.detail
    assert "NEWSTALK_QUEUE_BATCH_SIZE" in info.value.detail


def test_poll_bounds_must_be_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSTALK_POLL_MIN_S", "7200")
    monkeypatch.setenv("NEWSTALK_POLL_MAX_S", "3600")
    with pytest.raises(ConfigError, match="NEWSTALK_POLL_MIN_S must not exceed NEWSTALK_POLL_MAX_S"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "async_url", "sync_url"),
    [
        ("sqlite:///./data/x.db", "sqlite+aiosqlite:///./data/x.db", "sqlite:///./data/x.db"),
        ("sqlite+aiosqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db", "sqlite:////abs/x.db"),
        (
            "postgresql://u:p@db:5432/nt",
            "postgresql+psycopg://u:p@db:5432/nt",
            "postgresql+psycopg://u:p@db:5432/nt",
        ),
        ("postgres://u@db/nt", "postgresql+psycopg://u@db/nt", "postgresql+psycopg://u@db/nt"),
        (
            "postgresql+asyncpg://u@db/nt?sslmode=require",
            "postgresql+psycopg://u@db/nt?sslmode=require",
            "postgresql+psycopg://u@db/nt?sslmode=require",
        ),
    ],
)
def test_database_url_drivers(url: str, async_url: str, sync_url: str) -> None:
    assert to_async_url(url) == async_url
    assert to_sync_url(url) == sync_url


@pytest.mark.parametrize("url", ["mysql://u@db/nt", "redis://localhost", "not a url"])
def test_unsupported_database_urls_are_refused(url: str) -> None:
    for convert in (to_async_url, to_sync_url):
        with pytest.raises(ConfigError, match="NEWSTALK_DATABASE_URL has unsupported scheme"):
            convert(url)


def test_cli_refuses_production_defaults_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    env["NEWSTALK_ENVIRONMENT"] = "production"
    proc = subprocess.run(
        [str(NEWSTALK), "api"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("newstalk: config: NEWSTALK_JWT_SECRET must be set")
    assert not (tmp_path / "data").exists()  # refused before touching the database


def test_kafka_settings_are_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSTALK_BUS", "kafka")
    with pytest.raises(ConfigError, match="NEWSTALK_KAFKA_BOOTSTRAP_SERVERS"):
        load_settings()
    monkeypatch.setenv("NEWSTALK_KAFKA_BOOTSTRAP_SERVERS", "b-1.msk.example:9096,b-2.msk.example:9096")
    assert load_settings().kafka_security_protocol == "PLAINTEXT"  # development: a local broker
    monkeypatch.setenv("NEWSTALK_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigError, match="NEWSTALK_KAFKA_SASL_USERNAME and NEWSTALK_KAFKA_SASL_PASSWORD"):
        load_settings()
    password = tmp_path / "kafka_password"
    password.write_text("scram-secret\n", encoding="utf-8")
    monkeypatch.setenv("NEWSTALK_KAFKA_SASL_USERNAME", "newstalk")
    monkeypatch.setenv("NEWSTALK_KAFKA_SASL_PASSWORD_FILE", str(password))
    monkeypatch.setenv("NEWSTALK_ENVIRONMENT", "production")
    monkeypatch.setenv("NEWSTALK_JWT_SECRET", GOOD_TOKEN)
    settings = load_settings()
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == "scram-secret"
    assert "scram-secret" not in repr(settings)
    # IAM on MSK: OAUTHBEARER needs a token provider; production refuses anything but SASL_SSL.
    monkeypatch.setenv("NEWSTALK_KAFKA_SASL_MECHANISM", "OAUTHBEARER")
    with pytest.raises(ConfigError, match="NEWSTALK_KAFKA_OAUTH_TOKEN_PROVIDER"):
        load_settings()
    monkeypatch.setenv("NEWSTALK_KAFKA_OAUTH_TOKEN_PROVIDER", "mypackage.msk:token_provider")
    assert load_settings().kafka_sasl_mechanism == "OAUTHBEARER"
    monkeypatch.setenv("NEWSTALK_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    with pytest.raises(ConfigError, match="needs NEWSTALK_KAFKA_SECURITY_PROTOCOL=SASL_SSL"):
        load_settings()
