"""The shared OpenAI-compatible chat client against a real local stub server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from newstalk.config import Settings
from newstalk.errors import ConfigError, Unavailable
from newstalk.providers.llm import (
    JSON_OBJECT_FORMAT,
    ChatClient,
    OpenAIHTTP,
    ProviderHTTPError,
    build_chat_client,
    json_schema_format,
    public_url,
    retry_after_s,
)
from tests.support.openai_stub import OpenAIStub, Reply, chat_answer, serve

KEY = "sk-llm-test-7731"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
MESSAGES = [
    {"role": "system", "content": "Answer in JSON."},
    {"role": "user", "content": "한국은행은 기준금리를 어떻게 했나?"},
]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    yield from serve()


class Sleeps:
    """Records the waits the client asks for instead of sleeping, so retry tests stay fast."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(stub: OpenAIStub, sleeps: Sleeps | None = None, **kw: Any) -> ChatClient:
    return ChatClient(base_url=stub.url + "/", model="m-1", api_key=KEY, sleep=sleeps or Sleeps(), **kw)


def test_complete_sends_model_messages_auth_and_returns_text(stub: OpenAIStub) -> None:
    c = client(stub, temperature=0.2)
    text = c.complete(MESSAGES, max_tokens=64)
    c.close()
    # The stub echoes the last user message: Korean went over the wire as UTF-8 text.
    assert text == "한국은행은 기준금리를 어떻게 했나?"
    [req] = stub.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["auth"] == f"Bearer {KEY}"
    assert req["model"] == "m-1"
    assert req["temperature"] == 0.2
    assert req["max_tokens"] == 64
    assert req["messages"] == MESSAGES
    assert "response_format" not in req


def test_complete_json_asks_for_the_schema_and_parses_the_object(stub: OpenAIStub) -> None:
    stub.respond = lambda path, body: Reply(200, chat_answer(json.dumps({"answer": "인상했다"})))
    c = client(stub)
    assert c.complete_json(MESSAGES, schema=SCHEMA, name="answer") == {"answer": "인상했다"}
    c.close()
    assert stub.requests[0]["response_format"] == json_schema_format("answer", SCHEMA)
    assert stub.requests[0]["response_format"]["json_schema"]["strict"] is True
    assert stub.requests[0]["temperature"] == 0


def test_complete_json_falls_back_to_json_object_once_and_remembers(stub: OpenAIStub) -> None:
    def no_schema(path: str, body: dict[str, Any]) -> Reply:
        if body["response_format"]["type"] == "json_schema":
            return Reply(400, {"error": {"message": "json_schema not supported"}})
        return Reply(200, chat_answer('```json\n{"answer": "raised"}\n```'))

    stub.respond = no_schema
    c = client(stub)
    assert c.complete_json(MESSAGES, schema=SCHEMA, name="answer") == {"answer": "raised"}
    assert c.complete_json(MESSAGES, schema=SCHEMA, name="answer") == {"answer": "raised"}
    c.close()
    assert not c.schema_supported
    assert [r["response_format"]["type"] for r in stub.requests] == [
        "json_schema",
        "json_object",
        "json_object",
    ]
    assert stub.requests[1]["response_format"] == JSON_OBJECT_FORMAT


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("The rate went up.", "did not answer with a JSON object"),
        ("[1, 2]", "got list"),
        (None, "no content"),
        ("   ", "no content"),
    ],
)
def test_complete_json_refuses_what_is_not_an_object(stub: OpenAIStub, content: Any, needle: str) -> None:
    stub.respond = lambda path, body: Reply(200, chat_answer(content))
    c = client(stub, component="ask")
    with pytest.raises(Unavailable) as exc:
        c.complete_json(MESSAGES, schema=SCHEMA, name="answer")
    c.close()
    assert needle in exc.value.detail
    assert exc.value.detail.startswith("ask: ")
    assert "(model m-1)" in exc.value.detail


@pytest.mark.parametrize(
    ("body", "needle"),
    [({"choices": []}, "choices[0]"), ({"error": "x"}, "choices[0]"), (b"<html>proxy</html>", "not JSON")],
)
def test_answers_without_choices_are_unavailable(stub: OpenAIStub, body: Any, needle: str) -> None:
    stub.respond = lambda path, b: Reply(200, body)
    c = client(stub)
    with pytest.raises(Unavailable, match=r"^llm: .*") as exc:
        c.complete(MESSAGES)
    c.close()
    assert needle in exc.value.detail


def test_retries_429_honouring_retry_after_then_succeeds(stub: OpenAIStub) -> None:
    stub.then(
        Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "2"}),
        Reply(503, {"error": {"message": "overloaded"}}),
    )
    sleeps = Sleeps()
    c = client(stub, sleeps, max_retries=2, backoff_s=0.5)
    assert c.complete(MESSAGES) == MESSAGES[-1]["content"]
    c.close()
    # Retry-After's 2 s first, then the backoff's 0.5 * 2**1 for the 503 without one.
    assert sleeps.waits == [2.0, 1.0]
    assert len(stub.requests) == 3


def test_retry_after_really_waits(stub: OpenAIStub) -> None:
    stub.then(Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}))
    c = ChatClient(base_url=stub.url, model="m")
    started = time.monotonic()
    assert c.complete(MESSAGES) == MESSAGES[-1]["content"]
    c.close()
    assert time.monotonic() - started >= 1.0
    assert len(stub.requests) == 2


def test_gives_up_after_max_retries_with_the_status(stub: OpenAIStub) -> None:
    stub.respond = lambda path, body: Reply(502, b"bad gateway\n<html>")
    sleeps = Sleeps()
    c = client(stub, sleeps, max_retries=3, backoff_s=0.1)
    with pytest.raises(ProviderHTTPError) as exc:
        c.complete(MESSAGES)
    c.close()
    assert exc.value.status == 502
    assert exc.value.status_code == 503
    assert "HTTP 502 after 3 retries" in exc.value.detail
    assert "NEWSTALK_LLM_MODEL=m-1" in exc.value.detail
    assert "\n" not in exc.value.detail
    assert sleeps.waits == pytest.approx([0.1, 0.2, 0.4])
    assert len(stub.requests) == 4


def test_does_not_wait_longer_than_max_wait(stub: OpenAIStub) -> None:
    stub.respond = lambda path, body: Reply(429, {"error": {}}, {"Retry-After": "3600"})
    sleeps = Sleeps()
    c = client(stub, sleeps, max_wait_s=10)
    with pytest.raises(ProviderHTTPError, match="retry after 3600 s"):
        c.complete(MESSAGES)
    c.close()
    assert sleeps.waits == []
    assert len(stub.requests) == 1


@pytest.mark.parametrize(
    ("status", "needle"),
    [
        (401, "NEWSTALK_LLM_API_KEY"),
        (403, "NEWSTALK_LLM_API_KEY"),
        (404, "NEWSTALK_LLM_URL"),
        (400, "HTTP 400"),
    ],
)
def test_client_errors_are_not_retried_and_name_the_setting(
    stub: OpenAIStub, status: int, needle: str
) -> None:
    stub.respond = lambda path, body: Reply(status, {"error": {"message": "no"}})
    c = ChatClient(base_url=f"http://u:{KEY}@127.0.0.1:{stub.port}/v1", model="m", api_key=KEY, max_retries=3)
    with pytest.raises(ProviderHTTPError) as exc:
        c.complete(MESSAGES)
    c.close()
    assert needle in exc.value.detail
    assert KEY not in exc.value.detail
    assert len(stub.requests) == 1


def test_timeout_and_refused_connection_say_so(stub: OpenAIStub) -> None:
    stub.delay_s = 0.5
    c = client(stub, timeout_s=0.1)
    with pytest.raises(Unavailable, match="timed out; check NEWSTALK_LLM_URL"):
        c.complete(MESSAGES)
    c.close()
    assert len(stub.requests) == 1
    port = stub.port
    stub.stop()
    gone = ChatClient(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout_s=1)
    with pytest.raises(Unavailable, match=r"cannot reach .*NEWSTALK_LLM_URL"):
        gone.complete(MESSAGES)
    gone.close()


def test_the_transport_serves_other_paths_with_its_own_setting_names(stub: OpenAIStub) -> None:
    http = OpenAIHTTP(base_url=stub.url, component="embeddings", setting_prefix="NEWSTALK_EMBEDDING")
    answer = http.post("/embeddings", {"model": "e", "input": ["ab"]})
    assert answer["data"][0]["embedding"][0] == 2.0
    with pytest.raises(ProviderHTTPError, match=r"^embeddings: .*NEWSTALK_EMBEDDING_URL"):
        http.post("/nowhere", {})
    http.close()


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert retry_after_s("7", now=now) == 7.0
    assert retry_after_s(" 0 ", now=now) == 0.0
    assert retry_after_s(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert retry_after_s(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert retry_after_s("soon", now=now) is None
    assert retry_after_s(None) is None


def test_public_url_drops_credentials() -> None:
    assert (
        public_url(f"https://user:{KEY}@llm.example:8443/v1/chat?key={KEY}")
        == "https://llm.example:8443/v1/chat"
    )


def test_build_chat_client_follows_settings_and_reads_the_key_file(
    stub: OpenAIStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert build_chat_client(Settings(_env_file=None)) is None
    key_file = tmp_path / "llm-key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    monkeypatch.setenv("NEWSTALK_LLM_API_KEY_FILE", str(key_file))
    settings = Settings(
        _env_file=None, llm_url=stub.url, llm_model="served", llm_timeout_s=5, llm_max_retries=0
    )
    c = build_chat_client(settings)
    assert c is not None
    assert c.http.max_retries == 0
    stub.then(Reply(500, {"error": {}}))
    with pytest.raises(ProviderHTTPError, match="HTTP 500"):
        c.complete(MESSAGES)
    assert c.complete(MESSAGES) == MESSAGES[-1]["content"]
    c.close()
    assert stub.requests[-1]["auth"] == f"Bearer {KEY}"
    assert stub.requests[-1]["model"] == "served"


def test_missing_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="NEWSTALK_LLM_URL must be set"):
        ChatClient(base_url="", model="m")
