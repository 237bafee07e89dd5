"""OpenTelemetry traces: off by default, a no-op without the ``otel`` extra, one trace per article.

:func:`configure` turns tracing on when ``NEWSTALK_OTEL_ENDPOINT`` (or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set: spans go to
that OTLP/HTTP collector in batches. Until then every function here costs one ``None`` check.

A trace follows work across processes in the event payload: :func:`inject` gives the W3C
``traceparent`` of the active span, the queue stores it with the event, and the worker that
takes the job opens its span under it (:func:`span` with ``parent``). So an API request that
subscribes a source, the collect job it queues, and the stories, factcheck, briefings and
speech jobs that follow one article are one trace.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "configure",
    "current_ids",
    "enabled",
    "endpoint_of",
    "failed",
    "inject",
    "shutdown",
    "span",
    "use_provider",
]

_provider: TracerProvider | None = None
_tracer: Tracer | None = None

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class TracingUnavailable(RuntimeError):
    """Tracing was asked for but the ``otel`` extra is not installed."""


def endpoint_of(configured: str | None) -> str | None:
    """Where spans go: NEWSTALK_OTEL_ENDPOINT, else the standard OTLP variables, else None (off)."""
    if configured:
        return configured
    for name in ENDPOINT_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


def configure(endpoint: str | None, *, service: str, role: str) -> bool:
    """Export spans to an OTLP/HTTP collector at ``endpoint`` (base URL); False when it is None."""
    if not endpoint:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable(
            "tracing: an OTLP endpoint is set but the OpenTelemetry SDK is missing; "
            "install it with: pip install 'newstalk[otel]' (or unset NEWSTALK_OTEL_ENDPOINT)"
        ) from exc
    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": service, "newstalk.role": role}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    use_provider(provider)
    return True


def use_provider(provider: TracerProvider | None) -> None:
    """Send this process's spans to ``provider`` (tests pass one with an in-memory exporter); None: off."""
    global _provider, _tracer
    _provider = provider
    _tracer = provider.get_tracer("newstalk") if provider is not None else None


def enabled() -> bool:
    return _tracer is not None


def shutdown() -> None:
    """Flush and stop the exporter (process exit)."""
    if _provider is not None:
        _provider.shutdown()
    use_provider(None)


def inject() -> dict[str, str]:
    """The active span's context as W3C trace headers (empty when tracing is off)."""
    if _tracer is None:
        return {}
    from opentelemetry.propagate import inject as otel_inject

    carrier: dict[str, str] = {}
    otel_inject(carrier)
    return carrier


@contextmanager
def span(
    name: str,
    *,
    parent: Mapping[str, Any] | None = None,
    links: Sequence[Mapping[str, Any]] = (),
    kind: str = "internal",
    attributes: Mapping[str, str | int | float | bool] | None = None,
) -> Iterator[Span | None]:
    """A span around the block, child of ``parent`` (trace headers) or of the active span.

    ``links`` are more trace headers the work also continues (a batch of jobs). Yields None
    when tracing is off.
    """
    if _tracer is None:
        yield None
        return
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    context = extract(dict(parent)) if parent is not None else None
    span_links = []
    for carrier in links:
        linked = trace.get_current_span(extract(dict(carrier))).get_span_context()
        if linked.is_valid:
            span_links.append(trace.Link(linked))
    with _tracer.start_as_current_span(
        name,
        context=context,
        kind=getattr(trace.SpanKind, kind.upper()),
        attributes=dict(attributes or {}),
        links=span_links,
    ) as current:
        yield current


def failed(current: Span | None, exc: BaseException) -> None:
    """Mark a span failed with ``exc`` (the caller handled the exception itself)."""
    if current is None:
        return
    from opentelemetry.trace import Status, StatusCode

    current.record_exception(exc)
    current.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def current_ids() -> tuple[str, str] | None:
    """The active span's (trace id, span id) in hex, for log lines; None when there is none."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
