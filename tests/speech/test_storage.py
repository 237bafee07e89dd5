"""Content addressing and the local audio store."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newstalk.config import load_settings
from newstalk.errors import ConfigError, InvalidInput, NotFound, Unavailable
from newstalk.speech.storage import (
    AudioStore,
    LocalAudioStore,
    S3AudioStore,
    audio_key,
    build_audio_store,
    public_file_url,
    sigv4_headers,
)
from tests.speech.s3stub import S3Stub, s3_endpoint

__all__ = ["s3_endpoint"]


def test_key_is_stable_and_covers_every_input() -> None:
    key = audio_key("Hello.", "anchor", "en", "opus", "piper-1.8.0")
    assert key == audio_key("  Hello.\n", "anchor", "en", "opus", "piper-1.8.0")
    assert len(key) == 64 + len(".opus")
    assert key.endswith(".opus")
    others = {
        audio_key("Hello!", "anchor", "en", "opus", "piper-1.8.0"),
        audio_key("Hello.", "host", "en", "opus", "piper-1.8.0"),
        audio_key("Hello.", "anchor", "ko", "opus", "piper-1.8.0"),
        audio_key("Hello.", "anchor", "en", "mp3", "piper-1.8.0"),
        audio_key("Hello.", "anchor", "en", "opus", "piper-1.9.0"),
    }
    assert key not in others
    assert len(others) == 5
    # Composed and decomposed Hangul are the same text.
    assert audio_key("한", "anchor", "ko", "opus", "v") == audio_key(
        "\u1112\u1161\u11ab", "anchor", "ko", "opus", "v"
    )
    with pytest.raises(InvalidInput, match="unknown audio format"):
        audio_key("x", "anchor", "en", "wav", "v")


def test_put_exists_size_and_ranges(tmp_path: Path) -> None:
    store = LocalAudioStore(tmp_path / "audio")
    assert isinstance(store, AudioStore)
    key = audio_key("a", "anchor", "en", "mp3", "v")
    assert not store.exists(key)
    store.put(key, b"0123456789", "audio/mpeg")
    assert store.exists(key)
    assert store.size(key) == 10
    assert store.open_range(key) == b"0123456789"
    assert store.open_range(key, 2, 4) == b"234"
    assert store.open_range(key, 8, 100) == b"89"
    assert store.path(key).parent.name == key[:2]
    with pytest.raises(InvalidInput, match="outside"):
        store.open_range(key, 10, 12)
    store.put(key, b"new", "audio/mpeg")
    assert store.open_range(key) == b"new"
    assert [p.name for p in store.path(key).parent.iterdir()] == [key]


def test_missing_and_malformed_keys(tmp_path: Path) -> None:
    store = LocalAudioStore(tmp_path)
    with pytest.raises(NotFound, match="not stored"):
        store.size("0" * 64 + ".opus")
    for bad in ("../etc/passwd", "0" * 64, "0" * 64 + ".opus/../x", "A" * 64 + ".mp3"):
        with pytest.raises(InvalidInput, match="not an audio key"):
            store.exists(bad)


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalAudioStore(tmp_path)
    key = audio_key("a", "anchor", "en", "opus", "v")

    def boom(_src: str, _dst: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="No space"):
        store.put(key, b"data", "audio/ogg")
    assert not store.exists(key)
    assert list(store.path(key).parent.iterdir()) == []


def test_sigv4_matches_the_aws_documented_example() -> None:
    # "GET Object" example from the AWS Signature Version 4 documentation for S3.
    headers = sigv4_headers(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        hashlib.sha256(b"").hexdigest(),
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_s3_store_round_trip(s3_endpoint: str) -> None:
    store = S3AudioStore(
        s3_endpoint, "news", access_key="stub-key", secret_key="stub-secret", region="eu-test-1"
    )
    try:
        assert isinstance(store, AudioStore)
        key = audio_key("a", "anchor", "en", "opus", "v")
        assert not store.exists(key)
        store.put(key, b"0123456789", "audio/ogg")
        assert store.exists(key)
        assert S3Stub.objects[f"/news/audio/{key}"] == (b"0123456789", "audio/ogg")
        assert store.size(key) == 10
        assert store.open_range(key) == b"0123456789"
        assert store.open_range(key, 2, 4) == b"234"
        with pytest.raises(InvalidInput, match="outside"):
            store.open_range(key, 20, 30)
        with pytest.raises(NotFound):
            store.size(audio_key("b", "anchor", "en", "opus", "v"))
    finally:
        store.close()


def test_s3_store_wrong_secret_is_clear(s3_endpoint: str) -> None:
    store = S3AudioStore(s3_endpoint, "news", access_key="stub-key", secret_key="wrong", region="eu-test-1")
    try:
        with pytest.raises(Unavailable, match="check the access key, secret and region"):
            store.put(audio_key("a", "anchor", "en", "mp3", "v"), b"x", "audio/mpeg")
    finally:
        store.close()


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in list(os.environ):
        if name.startswith("NEWSTALK_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(f"NEWSTALK_{name.upper()}", value)


def test_settings_choose_the_store(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, audio_dir=str(tmp_path / "a"))
    local = build_audio_store(load_settings(_env_file=None))
    assert isinstance(local, LocalAudioStore)
    assert local.root == tmp_path / "a"

    # The secret from a *_FILE, as Docker and Kubernetes secrets are mounted.
    secret_file = tmp_path / "s3-secret"
    secret_file.write_text("stub-secret\n")
    _env(
        monkeypatch,
        audio_store="s3",
        audio_s3_bucket="news",
        audio_s3_endpoint_url=s3_endpoint,
        audio_s3_region="eu-test-1",
        audio_s3_access_key_id="stub-key",
        audio_s3_secret_access_key_file=str(secret_file),
    )
    store = build_audio_store(load_settings(_env_file=None))
    assert isinstance(store, S3AudioStore)
    try:
        key = audio_key("b", "anchor", "en", "opus", "v")
        store.put(key, b"abc", "audio/ogg")  # the stub checks the signature made with the file's secret
        assert S3Stub.objects[f"/news/audio/{key}"] == (b"abc", "audio/ogg")
    finally:
        store.close()


def test_settings_refuse_an_unusable_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, audio_store="s3")
    with pytest.raises(ConfigError, match="NEWSTALK_AUDIO_S3_BUCKET must be set"):
        load_settings(_env_file=None)
    _env(monkeypatch, audio_store="s3", audio_s3_bucket="news", environment="production")
    monkeypatch.setenv("NEWSTALK_JWT_SECRET", "x" * 40)
    with pytest.raises(ConfigError, match="needs NEWSTALK_AUDIO_S3_ACCESS_KEY_ID"):
        load_settings(_env_file=None)
    # Development starts, but the store names what is missing when it is first built.
    _env(monkeypatch, audio_store="s3", audio_s3_bucket="news")
    with pytest.raises(ConfigError, match="NEWSTALK_AUDIO_S3_SECRET_ACCESS_KEY"):
        build_audio_store(load_settings(_env_file=None))
    _env(monkeypatch, audio_store="ftp")
    with pytest.raises(ConfigError, match="NEWSTALK_AUDIO_STORE"):
        load_settings(_env_file=None)


def test_public_url_is_the_key_under_the_cdn_base() -> None:
    key = audio_key("a", "anchor", "en", "mp3", "v")
    assert public_file_url("https://cdn.example.org/audio/", key) == f"https://cdn.example.org/audio/{key}"
    with pytest.raises(InvalidInput):
        public_file_url("https://cdn.example.org", "../secret")
