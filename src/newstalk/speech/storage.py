"""Content-addressed audio files: the same text in the same voice is synthesized once.

The key hashes everything that changes the bytes (text, voice, language, format,
engine version), so callers check ``exists(key)`` before synthesizing and a
stored file never changes under its key. The stores are ``kit.objectstore``'s (a local
folder, the default, or an S3-compatible bucket) narrowed to audio keys;
``build_audio_store`` picks one from the settings (``NEWSTALK_AUDIO_STORE=local|s3``).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import TYPE_CHECKING

from newstalk.errors import ConfigError, InvalidInput
from newstalk.kit.objectstore import LocalObjectStore, ObjectStore, S3ObjectStore, sigv4_headers

if TYPE_CHECKING:
    from newstalk.config import Settings

__all__ = [
    "AudioStore",
    "LocalAudioStore",
    "S3AudioStore",
    "audio_key",
    "build_audio_store",
    "public_file_url",
    "sigv4_headers",
]

_KEY = re.compile(r"^[0-9a-f]{64}\.(opus|mp3|vtt|json)$")
EXTENSIONS = {"opus": "opus", "mp3": "mp3", "vtt": "vtt", "chapters": "json"}

# Where rendered audio lives; keys come from ``audio_key``. Speech depends on this interface only.
AudioStore = ObjectStore


def audio_key(text: str, voice_key: str, lang: str, fmt: str, engine_version: str) -> str:
    """The sha256 content address of one rendering, with the format as extension."""
    ext = EXTENSIONS.get(fmt)
    if ext is None:
        raise InvalidInput(f"speech: unknown audio format {fmt!r}; use one of {', '.join(EXTENSIONS)}")
    # NFC and stripped so that visually identical text shares one file.
    canonical = json.dumps(
        [unicodedata.normalize("NFC", text.strip()), voice_key, lang, fmt, engine_version],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return f"{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}.{ext}"


def _check_audio_key(key: str) -> None:
    if not _KEY.match(key):
        raise InvalidInput(f"speech: {key!r} is not an audio key; build keys with audio_key()")


class LocalAudioStore(LocalObjectStore):
    """Audio files in a local folder, sharded by the first two hex digits of the key."""

    place = "speech"

    def check_key(self, key: str) -> None:
        """Only content keys from ``audio_key``."""
        _check_audio_key(key)


class S3AudioStore(S3ObjectStore):
    """Audio in an S3-compatible bucket, under ``prefix`` (``audio/`` by default)."""

    place = "speech"

    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        *,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "audio/",
        timeout_s: float = 30.0,
    ) -> None:
        if not access_key or not secret_key:
            raise ConfigError(
                "speech: the S3 audio store needs NEWSTALK_AUDIO_S3_ACCESS_KEY_ID and "
                "NEWSTALK_AUDIO_S3_SECRET_ACCESS_KEY (or their *_FILE variants)"
            )
        super().__init__(
            endpoint_url,
            bucket,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            prefix=prefix,
            timeout_s=timeout_s,
        )

    def check_key(self, key: str) -> None:
        """Only content keys from ``audio_key``."""
        _check_audio_key(key)


def build_audio_store(settings: Settings) -> AudioStore:
    """The store ``NEWSTALK_AUDIO_STORE`` names: the local folder, or an S3-compatible bucket."""
    if settings.audio_store != "s3":
        return LocalAudioStore(settings.audio_dir)
    assert settings.audio_s3_bucket  # settings validation requires it for s3
    endpoint = settings.audio_s3_endpoint_url or f"https://s3.{settings.audio_s3_region}.amazonaws.com"
    key_id, secret = settings.audio_s3_access_key_id, settings.audio_s3_secret_access_key
    return S3AudioStore(
        endpoint,
        settings.audio_s3_bucket,
        access_key=key_id.get_secret_value() if key_id else "",
        secret_key=secret.get_secret_value() if secret else "",
        region=settings.audio_s3_region,
        prefix=settings.audio_s3_prefix,
    )


def public_file_url(base_url: str, key: str) -> str:
    """Where a CDN in front of the store serves ``key`` (``NEWSTALK_AUDIO_PUBLIC_BASE_URL``)."""
    if not _KEY.match(key):
        raise InvalidInput(f"speech: {key!r} is not an audio key; build keys with audio_key()")
    return f"{base_url.rstrip('/')}/{key}"
