"""Text that every database can store: the one cleaning step at the service's input boundaries.

PostgreSQL ``text`` cannot hold U+0000, and a lone UTF-16 surrogate (U+D800..U+DFFF, which
JSON's ``\\ud800`` escape and XML's ``&#xD800;`` both produce) cannot be encoded as UTF-8 at
all. SQLite stores both, so the same input used to work on one database and fail (HTTP 500,
a dead-lettered poll) on the other. Text is cleaned where it enters: everything parsed from
a feed (``newstalk.ingestion.parse``) and every request's JSON body, query string and path
(``CleanTextMiddleware``). Nothing else is changed: other control characters are the
parsers' and validators' business.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CleanTextMiddleware", "clean_text", "clean_value", "needs_cleaning"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ESCAPED = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def needs_cleaning(text: str) -> bool:
    """Tell whether ``text`` holds a character no database column can store."""
    return _UNSTORABLE.search(text) is not None


def clean_text(text: str) -> str:
    """``text`` without NUL and lone surrogates (they are dropped, not replaced)."""
    return _UNSTORABLE.sub("", text) if needs_cleaning(text) else text


def clean_value(value: Any) -> Any:
    """Clean every string inside a JSON-like value (dict keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_value(v) for k, v in value.items()}
    return value


def _clean_query(raw: bytes) -> bytes:
    if b"%" not in raw:
        return raw
    try:
        pairs = parse_qsl(
            raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="surrogateescape"
        )
    except ValueError:
        return raw
    if not any(needs_cleaning(k) or needs_cleaning(v) for k, v in pairs):
        return raw
    cleaned = [(clean_text(k), clean_text(v)) for k, v in pairs]
    return urlencode(cleaned).encode("ascii")


def _clean_json_body(body: bytes) -> bytes:
    # Only a body that spells an unstorable character as an escape needs the round trip;
    # a raw NUL byte or invalid UTF-8 is invalid JSON and the validator answers 422.
    if not _ESCAPED.search(body):
        return body
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return body
    return json.dumps(clean_value(document), ensure_ascii=False).encode("utf-8", "surrogatepass")


class CleanTextMiddleware:
    """Drops NUL and lone surrogates from the path, the query string and JSON bodies before validation."""

    def __init__(self, app: ASGIApp, *, raw_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        # Bodies under these paths are not API input (WebSub pushes: feed documents the
        # endpoint may refuse unread; the feed parser cleans them).
        self.raw_prefixes = raw_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        query = scope.get("query_string", b"")
        cleaned_query = _clean_query(query)
        # The scope is changed in place: outer middleware reads what inner layers leave in it.
        if needs_cleaning(path) or cleaned_query is not query:
            scope["path"], scope["query_string"] = clean_text(path), cleaned_query
            scope.pop("raw_path", None)
        if not _is_json(scope) or scope["path"].startswith(self.raw_prefixes):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before the body ended: let the app see the disconnect.
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = _clean_json_body(b"".join(chunks))
        if len(chunks) != 1 or body is not chunks[0]:
            scope["headers"] = _with_length(scope.get("headers") or [], len(body))
        await self.app(
            scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send
        )


def _is_json(scope: Scope) -> bool:
    if scope.get("method") not in ("POST", "PUT", "PATCH"):
        return False
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return bool(media == b"application/json" or media.endswith(b"+json"))
    return False


def _with_length(headers: Any, length: int) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k not in (b"content-length", b"transfer-encoding")]
    kept.append((b"content-length", str(length).encode()))
    return kept


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
