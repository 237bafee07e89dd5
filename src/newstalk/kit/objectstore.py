"""Object storage: the ``ObjectStore`` interface, a local folder, and S3-compatible buckets.

Stores hold immutable objects under flat keys (no slashes); a domain picks its key scheme
and may narrow which keys are valid by overriding ``check_key`` and naming itself in
``place`` so errors say whose object it was (``speech.storage`` does both). The S3 client is
plain httpx with AWS Signature V4 (``sigv4_headers``), path-style URLs, so it works with
AWS, MinIO, R2 and the test stub alike.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from newstalk.errors import ConfigError, InvalidInput, NotFound, Unavailable

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,199}$")


@runtime_checkable
class ObjectStore(Protocol):
    """Where immutable objects live, by key."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        ...

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` atomically; readers never see a partial object."""
        ...

    def size(self, key: str) -> int:
        """Length of the stored bytes."""
        ...

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` inclusive (HTTP Range semantics); ``end=None`` reads to the end."""
        ...


class LocalObjectStore:
    """Files in a local folder, sharded by the first two characters of the key."""

    place = "objectstore"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def check_key(self, key: str) -> None:
        """Refuse keys that could leave the folder; subclasses narrow this to their key scheme."""
        if not _SAFE_KEY.match(key) or ".." in key:
            raise InvalidInput(f"{self.place}: {key!r} is not a valid object key")

    def path(self, key: str) -> Path:
        """Where ``key`` lives on disk; refuses anything ``check_key`` refuses."""
        self.check_key(key)
        return self.root / key[:2] / key

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return self.path(key).is_file()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write to a temporary file in the same folder, fsync, then rename over the key."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # content_type is implied by the extension on disk; object stores keep it as metadata.
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def size(self, key: str) -> int:
        """Length of the stored bytes."""
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"{self.place}: {key} is not stored") from None

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` inclusive, clamped to the file."""
        size = self.size(key)
        last = size - 1 if end is None else min(end, size - 1)
        if start < 0 or start > last:
            raise InvalidInput(f"{self.place}: range {start}-{end} is outside {key} of {size} bytes")
        with self.path(key).open("rb") as fh:
            fh.seek(start)
            return fh.read(last - start + 1)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def sigv4_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload_sha256: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    now: datetime | None = None,
    service: str = "s3",
) -> dict[str, str]:
    """``headers`` plus host, x-amz-date, x-amz-content-sha256 and an AWS Signature V4 Authorization."""
    parts = urlsplit(url)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    out = {**headers, "x-amz-date": stamp, "x-amz-content-sha256": payload_sha256}
    out.setdefault("host", parts.netloc)
    canon = {k.lower(): " ".join(v.split()) for k, v in out.items()}
    signed = ";".join(sorted(canon))
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True))
    )
    request = "\n".join(
        [
            method.upper(),
            quote(parts.path or "/", safe="/-_.~"),
            query,
            "".join(f"{k}:{canon[k]}\n" for k in sorted(canon)),
            signed,
            payload_sha256,
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret_key).encode(), stamp[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return out


class S3ObjectStore:
    """An S3-compatible bucket (AWS, MinIO, R2, ...) over plain HTTP with path-style URLs."""

    place = "objectstore"

    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        *,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "",
        timeout_s: float = 30.0,
    ) -> None:
        if not access_key or not secret_key:
            raise ConfigError(f"{self.place}: an S3 bucket needs an access key id and a secret access key")
        self.base = f"{endpoint_url.rstrip('/')}/{bucket}/{prefix}"
        self._access_key, self._secret_key, self._region = access_key, secret_key, region
        self._client = httpx.Client(timeout=timeout_s)

    def check_key(self, key: str) -> None:
        """Refuse keys that are not plain names; subclasses narrow this to their key scheme."""
        if not _SAFE_KEY.match(key) or ".." in key:
            raise InvalidInput(f"{self.place}: {key!r} is not a valid object key")

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _request(
        self, method: str, key: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        self.check_key(key)
        url = self.base + key
        signed = sigv4_headers(
            method,
            url,
            headers or {},
            hashlib.sha256(body).hexdigest(),
            access_key=self._access_key,
            secret_key=self._secret_key,
            region=self._region,
        )
        try:
            response = self._client.request(method, url, content=body or None, headers=signed)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"{self.place}: object storage at {url} unreachable ({type(exc).__name__})"
            ) from exc
        if response.status_code in (401, 403):
            raise Unavailable(
                f"{self.place}: object storage refused {method} {url} (HTTP {response.status_code}); "
                "check the access key, secret and region"
            )
        if response.status_code >= 500:
            raise Unavailable(
                f"{self.place}: object storage {method} {url} failed with HTTP {response.status_code}"
            )
        return response

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored (HEAD)."""
        return self._request("HEAD", key).status_code == 200

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """PUT the object; S3 makes a PUT visible all at once."""
        response = self._request("PUT", key, data, {"content-type": content_type})
        if response.status_code not in (200, 201, 204):
            raise Unavailable(f"{self.place}: object storage PUT {key} returned HTTP {response.status_code}")

    def size(self, key: str) -> int:
        """Content-Length from HEAD."""
        response = self._request("HEAD", key)
        if response.status_code == 404:
            raise NotFound(f"{self.place}: {key} is not stored")
        return int(response.headers["content-length"])

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """A ranged GET, ``end`` inclusive."""
        spec = f"bytes={start}-" + ("" if end is None else str(end))
        response = self._request("GET", key, headers={"range": spec})
        if response.status_code == 404:
            raise NotFound(f"{self.place}: {key} is not stored")
        if response.status_code == 416:
            raise InvalidInput(f"{self.place}: range {start}-{end} is outside {key}")
        if response.status_code not in (200, 206):
            raise Unavailable(f"{self.place}: object storage GET {key} returned HTTP {response.status_code}")
        return response.content
