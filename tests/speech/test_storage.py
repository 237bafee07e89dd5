"""Content addressing and the local audio store."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from newstalk.errors import InvalidInput, NotFound, Unavailable
from newstalk.speech.storage import (
    AudioStore,
    LocalAudioStore,
    S3AudioStore,
    audio_key,
    sigv4_headers,
)


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


class _S3Stub(BaseHTTPRequestHandler):
    """A bucket in memory that checks each request's signature like S3 does."""

    objects: ClassVar[dict[str, tuple[bytes, str]]] = {}
    secret = "stub-secret"

    def _authorized(self, body: bytes) -> bool:
        auth = self.headers.get("Authorization", "")
        signed = auth.partition("SignedHeaders=")[2].partition(",")[0].split(";")
        stamp = self.headers["x-amz-date"]
        if hashlib.sha256(body).hexdigest() != self.headers["x-amz-content-sha256"]:
            return False
        expected = sigv4_headers(
            self.command,
            f"http://{self.headers['host']}{self.path}",
            {h: self.headers[h] for h in signed if h not in ("x-amz-date", "x-amz-content-sha256")},
            self.headers["x-amz-content-sha256"],
            access_key="stub-key",
            secret_key=self.secret,
            region="eu-test-1",
            now=datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC),
        )
        return hmac.compare_digest(expected["Authorization"], auth)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not self._authorized(body):
            self._reply(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
            return
        if self.command == "PUT":
            self.objects[self.path] = (body, self.headers["content-type"])
            self._reply(200, b"")
            return
        if self.path not in self.objects:
            self._reply(404, b"")
            return
        data, ctype = self.objects[self.path]
        spec = self.headers.get("range")
        status = 200
        if spec:
            first, _, last = spec.removeprefix("bytes=").partition("-")
            start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
            if start >= len(data):
                self._reply(416, b"")
                return
            data, status = data[start : end + 1], 206
        self._reply(status, data, ctype)

    def _reply(self, status: int, body: bytes, ctype: str = "application/xml") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = _handle

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    _S3Stub.objects.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _S3Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


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
        assert _S3Stub.objects[f"/news/audio/{key}"] == (b"0123456789", "audio/ogg")
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
