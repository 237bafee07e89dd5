"""A real HTTP server on 127.0.0.1 that acts as an S3 bucket and checks Signature V4 like S3.

S3 is a paid external service, so the S3 audio store and the audio endpoints in front of
it are tested against this: PUT, HEAD and ranged GET, with each request's signature
recomputed from what arrived (credentials ``stub-key`` / ``stub-secret``, region
``eu-test-1``). ``S3Stub.requests`` records (method, path, range) for the tests to read.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from newstalk.speech.storage import sigv4_headers


class S3Stub(BaseHTTPRequestHandler):
    """A bucket in memory that checks each request's signature like S3 does."""

    objects: ClassVar[dict[str, tuple[bytes, str]]] = {}
    requests: ClassVar[list[tuple[str, str, str | None]]] = []
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
        self.requests.append((self.command, self.path, self.headers.get("range")))
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
    S3Stub.objects.clear()
    S3Stub.requests.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), S3Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()
