"""A small client for OpenAI-compatible HTTP APIs: chat completions with structured JSON.

One implementation serves OpenAI, vLLM, Ollama and the llama.cpp server, so every feature
that talks to a hosted or self-hosted model (the chat verifier, answers about a story,
script rewriting, remote embeddings) shares the same timeouts, retries and error messages.

- ``OpenAIHTTP`` is the transport: Bearer auth, a timeout, retries on 429 and 5xx with
  exponential backoff that honours ``Retry-After``, and one-line ``Unavailable`` errors that
  name the setting to fix and never echo a key or URL credentials.
- ``ChatClient`` posts ``/chat/completions``; ``complete`` returns the text and
  ``complete_json`` asks for a strict ``json_schema`` response, falling back to
  ``json_object`` once a server rejects the schema with HTTP 400 (Ollama, llama.cpp,
  older vLLM), and parses the object (Markdown fences tolerated).
- ``build_chat_client(settings)`` builds the client ``NEWSTALK_LLM_*`` describe, or None
  when ``NEWSTALK_LLM_URL`` is unset (features then use their offline path).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from newstalk.errors import ConfigError, Unavailable

if TYPE_CHECKING:
    from newstalk.config import Settings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
JSON_OBJECT_FORMAT: dict[str, Any] = {"type": "json_object"}

Message = Mapping[str, str]


def public_url(url: str) -> str:
    """The URL without user:password, query or fragment, safe to show in messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def json_schema_format(name: str, schema: Mapping[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """The ``response_format`` that asks for output matching ``schema`` (OpenAI structured outputs)."""
    return {"type": "json_schema", "json_schema": {"name": name, "strict": strict, "schema": dict(schema)}}


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class ProviderHTTPError(Unavailable):
    """The server answered with an HTTP error status (after any retries); ``status`` says which."""

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status


class OpenAIHTTP:
    """POST JSON to ``{base_url}{path}`` with Bearer auth, retrying 429/5xx; returns the decoded JSON.

    ``component`` starts every message ("factcheck", "embeddings", "ask") and
    ``setting_prefix`` names the settings to fix ("NEWSTALK_VERIFIER" gives
    NEWSTALK_VERIFIER_URL, _API_KEY and _MODEL). A retry waits ``backoff_s * 2**attempt``
    seconds, or what ``Retry-After`` asks for; a server asking for more than
    ``max_wait_s`` is not waited for, since a request thread should not sleep that long.
    Timeouts and refused connections are not retried: the caller's deadline has passed or
    the URL is wrong, and waiting would not help either.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        backoff_s: float = 0.25,
        max_wait_s: float = 30.0,
        component: str = "llm",
        setting_prefix: str = "NEWSTALK_LLM",
        model: str = "",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url:
            raise ConfigError(
                f"{component}: {setting_prefix}_URL must be set to an OpenAI-compatible API base, "
                "e.g. https://api.openai.com/v1, http://vllm:8000/v1 or http://ollama:11434/v1"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.component = component
        self.setting_prefix = setting_prefix
        self.max_retries = max(0, max_retries)
        self._backoff_s = max(0.0, backoff_s)
        self._max_wait_s = max(0.0, max_wait_s)
        self._sleep = sleep
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s), transport=transport)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def shown_url(self, path: str) -> str:
        """``{base_url}{path}`` without credentials, for messages."""
        return public_url(self.base_url + path)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``body`` as JSON and return the decoded JSON answer; raises Unavailable on failure."""
        url, shown = self.base_url + path, self.shown_url(path)
        attempt = 0
        while True:
            resp = self._send(url, shown, body)
            if resp.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                break
            wait = retry_after_s(resp.headers.get("Retry-After"))
            if wait is None:
                wait = self._backoff_s * 2**attempt
            if wait > self._max_wait_s:
                raise ProviderHTTPError(
                    f"{self.component}: {shown} returned HTTP {resp.status_code} and asks to retry "
                    f"after {wait:.0f} s; try again later or raise the server's limits",
                    resp.status_code,
                )
            self._sleep(wait)
            attempt += 1
        self._raise_for_status(resp, shown, attempt)
        try:
            return resp.json()
        except ValueError:
            raise Unavailable(
                f"{self.component}: {shown} answered HTTP {resp.status_code} with a body that is not "
                f"JSON ({resp.headers.get('Content-Type', 'no content type')}); "
                f"check that {self.setting_prefix}_URL is an OpenAI-compatible API base"
            ) from None

    def _send(self, url: str, shown: str, body: Mapping[str, Any]) -> httpx.Response:
        try:
            return self._client.post(url, json=body)
        except httpx.TimeoutException as exc:
            raise Unavailable(
                f"{self.component}: {shown} timed out; check {self.setting_prefix}_URL or the server's load"
            ) from exc
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"{self.component}: cannot reach {shown} ({type(exc).__name__}); "
                f"check {self.setting_prefix}_URL"
            ) from exc

    def _raise_for_status(self, resp: httpx.Response, shown: str, retries: int) -> None:
        status, where, prefix = resp.status_code, f"{self.component}: {shown}", self.setting_prefix
        if status < 400:
            return
        if status in (401, 403):
            raise ProviderHTTPError(
                f"{where} refused the request with HTTP {status}; check {prefix}_API_KEY", status
            )
        if status == 404:
            raise ProviderHTTPError(
                f"{where} returned HTTP 404; {prefix}_URL should be the API base (ending in /v1), "
                f"and {prefix}_MODEL={self.model} a model the server serves",
                status,
            )
        after = f" after {retries} retries" if retries else ""
        snippet = " ".join(resp.text[:200].split())
        raise ProviderHTTPError(
            f"{where} returned HTTP {status}{after}: {snippet!r}; "
            f"check the server and {prefix}_MODEL={self.model}",
            status,
        )


def _strip_fence(text: str) -> str:
    # Some servers wrap JSON in a Markdown fence even in JSON mode.
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").strip()
        text = text.removeprefix("json").strip()
    return text


class ChatClient:
    """Chat completions from one model: ``complete`` for text, ``complete_json`` for an object."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        backoff_s: float = 0.25,
        max_wait_s: float = 30.0,
        temperature: float = 0.0,
        component: str = "llm",
        setting_prefix: str = "NEWSTALK_LLM",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = OpenAIHTTP(
            base_url=base_url,
            api_key=api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_wait_s=max_wait_s,
            component=component,
            setting_prefix=setting_prefix,
            model=model,
            transport=transport,
            sleep=sleep,
        )
        self.model = model
        self.temperature = temperature
        # Flipped for good once the server rejects json_schema: it will not learn it mid-run.
        self.schema_supported = True

    @property
    def base_url(self) -> str:
        """The API base, without a trailing slash."""
        return self.http.base_url

    @property
    def where(self) -> str:
        """Message prefix naming the component, endpoint and model."""
        return f"{self.http.component}: {self.http.shown_url('/chat/completions')} (model {self.model})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> str:
        """The assistant's reply text to ``messages``; raises Unavailable for an empty reply."""
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": self.temperature if temperature is None else temperature,
            "messages": [dict(m) for m in messages],
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if response_format is not None:
            body["response_format"] = dict(response_format)
        return self._content(self.http.post("/chat/completions", body))

    def complete_json(
        self,
        messages: Sequence[Message],
        *,
        schema: Mapping[str, Any],
        name: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> dict[str, Any]:
        """The reply parsed as a JSON object, asked for with ``schema`` where the server supports it.

        The messages must say "JSON" somewhere: OpenAI refuses ``json_object`` mode otherwise.
        The schema is a request, not a guarantee (``json_object`` servers ignore it): callers
        validate the fields they read.
        """
        kwargs: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
        if self.schema_supported:
            try:
                text = self.complete(messages, response_format=json_schema_format(name, schema), **kwargs)
            except ProviderHTTPError as exc:
                if exc.status != 400:
                    raise
                self.schema_supported = False
                text = self.complete(messages, response_format=JSON_OBJECT_FORMAT, **kwargs)
        else:
            text = self.complete(messages, response_format=JSON_OBJECT_FORMAT, **kwargs)
        try:
            value = json.loads(_strip_fence(text))
        except ValueError:
            raise Unavailable(f"{self.where} did not answer with a JSON object") from None
        if not isinstance(value, dict):
            raise Unavailable(f"{self.where} did not answer with a JSON object (got {type(value).__name__})")
        return value

    def _content(self, answer: Any) -> str:
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise Unavailable(f"{self.where} answered without an OpenAI-style choices[0].message") from None
        if not isinstance(content, str) or not content.strip():
            raise Unavailable(f"{self.where} gave no content (a refusal or an empty answer)")
        return content


def build_chat_client(settings: Settings) -> ChatClient | None:
    """The chat model ``NEWSTALK_LLM_*`` configure, or None when ``NEWSTALK_LLM_URL`` is unset."""
    if not settings.llm_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return ChatClient(
        base_url=settings.llm_url,
        model=settings.llm_model,
        api_key=key,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )
