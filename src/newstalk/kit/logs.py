"""Logs that never carry secrets, and error descriptions that never carry bound values.

``install_redaction`` swaps the process's log record factory so every record, whichever
logger or handler it goes to (uvicorn's access log included), has its message and its
traceback redacted once, when it is made: podcast feed tokens in paths, webhook signing
secrets (``whsec_``), API keys (``ntk_``), bearer credentials, JWTs and argon2 hashes.
``describe_error`` is what dead letters and source health keep of an exception: its class
and first message line, without the SQL statement or parameters SQLAlchemy appends.

Correlation: :func:`bind` puts fields (``request_id``, ``listener``, ``stage``, ``job_id``,
``event_id``) in a context variable for the current request or job; the record factory copies
them onto every record made inside it, and :class:`JsonFormatter` writes one JSON object a
line with them and the active trace's ids. A listener appears only as :func:`listener_hash`,
a keyed hash, never as the raw account id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from newstalk.kit import tracing

__all__ = [
    "CONTEXT_FIELDS",
    "REDACTED",
    "JsonFormatter",
    "annotate",
    "bind",
    "bound",
    "describe_error",
    "install_redaction",
    "listener_hash",
    "redact",
]

# The correlation fields a record may carry, in the order JSON lines print them.
CONTEXT_FIELDS = ("request_id", "trace_id", "span_id", "listener", "stage", "job_id", "event_id")
_NOTHING: dict[str, Any] = {}
_context: ContextVar[dict[str, Any]] = ContextVar("newstalk_log_context", default=_NOTHING)

REDACTED = "[redacted]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(/podcasts/)(?!artwork\.png)[^/\s?\"']+(?=/feed\.xml)"), rf"\1{REDACTED}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9_\-]+"), f"whsec_{REDACTED}"),
    (re.compile(r"\bntk_[A-Za-z0-9_\-]+"), f"ntk_{REDACTED}"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]+"), rf"\1{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), f"jwt:{REDACTED}"),
    (re.compile(r"\$argon2(?:id|i|d)\$[^\s'\",)\]]+"), f"$argon2{REDACTED}"),
    (re.compile(r"(?i)\b((?:access_|refresh_)?token|secret|password)=[^&\s'\"]+"), rf"\1={REDACTED}"),
)

_installed = False


def redact(text: str) -> str:
    """``text`` with every secret-looking token replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def install_redaction() -> None:
    """Redact every log record this process makes from now on (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        # Message and arguments are redacted separately, keeping the arguments' shape:
        # formatters such as uvicorn's access log unpack ``record.args`` themselves.
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        fields = dict(_context.get())
        ids = tracing.current_ids()
        if ids is not None:
            fields["trace_id"], fields["span_id"] = ids
        record.newstalk = fields
        return record

    logging.setLogRecordFactory(factory)


def _redact_arg(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    redacted = redact(text)
    # Unchanged non-strings keep their type (so %r and %d still format them as before).
    return value if redacted == text else redacted


def describe_error(exc: BaseException) -> str:
    """``"Class: message"`` for an exception; for a database error, the driver's message only.

    SQLAlchemy's text of a failed statement appends the SQL and (unless hidden) the bound
    values; the driver's first line says what went wrong without either.
    """
    original = getattr(exc, "orig", None)
    if isinstance(original, BaseException):
        lines = str(original).strip().splitlines()
        first = lines[0] if lines else ""
        return redact(f"{type(exc).__name__}: {type(original).__name__}: {first}"[:1000])
    lines = str(exc).strip().splitlines()
    return redact(f"{type(exc).__name__}: {lines[0] if lines else ''}"[:1000])


def bound() -> Mapping[str, Any]:
    """The correlation fields bound in the current context."""
    return _context.get()


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add correlation fields to every record made inside the block (None values are skipped)."""
    _check(fields)
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def annotate(**fields: Any) -> None:
    """Add fields to the innermost :func:`bind` block for the rest of it (a request learns who
    calls once its credential is checked); outside any block it does nothing."""
    _check(fields)
    current = _context.get()
    if current is not _NOTHING:
        current.update((k, v) for k, v in fields.items() if v is not None)


def _check(fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"logs: unknown correlation fields {sorted(unknown)}; known: {CONTEXT_FIELDS}")


def listener_hash(listener_id: int, key: str) -> str:
    """A listener's id as logs show it: keyed (HMAC-SHA256), so the id can't be guessed back."""
    digest = hmac.new(key.encode(), f"listener:{listener_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, correlation fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields: Mapping[str, Any] = getattr(record, "newstalk", None) or {}
        entry.update((name, fields[name]) for name in CONTEXT_FIELDS if name in fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_text or redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)
