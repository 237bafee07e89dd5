"""Logs that never carry secrets, and error descriptions that never carry bound values.

``install_redaction`` swaps the process's log record factory so every record, whichever
logger or handler it goes to (uvicorn's access log included), has its message and its
traceback redacted once, when it is made: podcast feed tokens in paths, webhook signing
secrets (``whsec_``), API keys (``ntk_``), bearer credentials, JWTs and argon2 hashes.
``describe_error`` is what dead letters and source health keep of an exception: its class
and first message line, without the SQL statement or parameters SQLAlchemy appends.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["REDACTED", "describe_error", "install_redaction", "redact"]

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
