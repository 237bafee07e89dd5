"""Answers written by a chat model: the protocol against a local OpenAI-compatible stub server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from newstalk.accounts.models import Role
from newstalk.config import Settings
from tests.ask.conftest import app_client, llm_answerer
from tests.ask.stories import article_text, build_story, supercomputer
from tests.conftest import make_settings
from tests.support.accounts import make_account
from tests.support.openai_stub import OpenAIStub, Reply, chat_answer, serve

pytestmark = pytest.mark.anyio


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    yield from serve()


@pytest.fixture
async def llm_client(settings: Settings, stub: OpenAIStub) -> AsyncIterator[httpx.AsyncClient]:
    async for http in app_client(settings, llm_answerer(stub.url)):
        yield http


def passages_in(body: dict[str, Any]) -> list[dict[str, Any]]:
    user = body["messages"][-1]["content"]
    payload: list[dict[str, Any]] = json.loads(user[user.index("{") :])["passages"]
    return payload


def question_in(body: dict[str, Any]) -> str:
    user = body["messages"][-1]["content"]
    return str(json.loads(user[user.index("{") :])["question"])


def citing(word: str, answer: str, *, invented: int | None = 99) -> Any:
    """A model that cites the passages holding ``word`` (and one id it was never given)."""

    def respond(path: str, body: dict[str, Any]) -> Reply:
        ids = [p["id"] for p in passages_in(body) if word in p["text"]]
        if invented is not None:
            ids.append(invented)
        return Reply(200, chat_answer(json.dumps({"answer": answer, "found": bool(ids), "citations": ids})))

    return respond


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], story_id: int, q: str, thread: int | None = None
) -> Any:
    body: dict[str, Any] = {"question": q} if thread is None else {"question": q, "thread_id": thread}
    resp = await client.post(f"/api/v1/stories/{story_id}/ask", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_model_answer_keeps_only_citations_to_given_passages(
    llm_client: httpx.AsyncClient, settings: Settings, stub: OpenAIStub
) -> None:
    me = await make_account(settings, Role.listener)
    story_id, ids = await build_story(settings, supercomputer())
    stub.respond = citing("8,192 microprocessors", "It has 8,192 microprocessors.")
    data = await post(llm_client, me.headers, story_id, "How many microprocessors does it have?")
    turn = data["turn"]
    assert turn["mode"] == "llm"
    assert turn["found"] is True
    assert turn["answer"] == "It has 8,192 microprocessors."
    # The invented passage 99 was dropped; the real one is cited with exact offsets.
    [cited] = turn["citations"]
    assert "8,192 microprocessors" in cited["quote"]
    assert cited["article_id"] == ids["Wire"]
    text = await article_text(settings, cited["article_id"])
    assert text[cited["start"] : cited["end"]] == cited["quote"]

    [req] = stub.bodies("/chat/completions")
    assert req["model"] == "stub-model"
    assert req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["schema"]["required"] == ["answer", "found", "citations"]
    system = req["messages"][0]
    assert system["role"] == "system"
    assert "passage" in system["content"].lower()
    passages = passages_in(req)
    assert 1 <= len(passages) <= 8
    assert [p["id"] for p in passages] == list(range(1, len(passages) + 1))
    assert {p["outlet"] for p in passages} <= {"Wire", "연합뉴스"}
    assert question_in(req) == "How many microprocessors does it have?"
    # Korean passages travel as text, not \\u escapes.
    assert any("연합뉴스" in m["content"] for m in req["messages"][1:])


async def test_model_gets_the_last_five_turns(
    llm_client: httpx.AsyncClient, settings: Settings, stub: OpenAIStub
) -> None:
    me = await make_account(settings, Role.listener)
    story_id, _ = await build_story(settings, supercomputer())
    stub.respond = citing("ASCI", "ASCI White.", invented=None)
    thread = None
    questions = [f"What is ASCI White, part {i}?" for i in range(1, 7)] + ["왜?"]
    for q in questions:
        thread = (await post(llm_client, me.headers, story_id, q, thread))["thread_id"]
    last = stub.bodies("/chat/completions")[-1]
    roles = [m["role"] for m in last["messages"]]
    assert roles == ["system"] + ["user", "assistant"] * 5 + ["user"]
    history = [m["content"] for m in last["messages"][1:-1:2]]
    assert history == questions[1:6]
    assert all(m["content"] == "ASCI White." for m in last["messages"][2:-1:2])
    assert question_in(last) == "왜?"


async def test_model_not_found_invented_only_and_failures(
    llm_client: httpx.AsyncClient, settings: Settings, stub: OpenAIStub
) -> None:
    me = await make_account(settings, Role.listener)
    story_id, _ = await build_story(settings, supercomputer())

    stub.respond = lambda path, body: Reply(
        200,
        chat_answer(json.dumps({"answer": "기사에는 그 내용이 없습니다.", "found": False, "citations": []})),
    )
    turn = (await post(llm_client, me.headers, story_id, "월드컵 결승에서 누가 이겼나?"))["turn"]
    assert (turn["mode"], turn["found"], turn["citations"]) == ("llm", False, [])
    assert turn["answer"] == "기사에는 그 내용이 없습니다."

    # Only invented citations: the answer cannot be tied to the coverage, so the extractive one is given.
    stub.respond = lambda path, body: Reply(
        200, chat_answer(json.dumps({"answer": "It cost a billion.", "found": True, "citations": [42, 0]}))
    )
    turn = (await post(llm_client, me.headers, story_id, "How much did the supercomputer cost?"))["turn"]
    assert turn["mode"] == "extractive"
    assert "$110 million" in turn["citations"][0]["quote"]

    # A server error or a malformed answer degrades to the extractive answer, not a 5xx.
    for reply in (
        Reply(500, {"error": {"message": "down"}}),
        Reply(200, chat_answer('{"answer": 3}')),
        Reply(200, chat_answer("not json at all")),
    ):
        stub.respond = lambda path, body, reply=reply: reply  # type: ignore[misc]
        turn = (await post(llm_client, me.headers, story_id, "How much did the supercomputer cost?"))["turn"]
        assert turn["mode"] == "extractive"
        assert turn["found"] is True


async def test_settings_choose_the_model(
    database_url: str, stub: OpenAIStub, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "llm-key"
    key_file.write_text("sk-ask-secret\n", encoding="utf-8")
    monkeypatch.setenv("NEWSTALK_LLM_API_KEY_FILE", str(key_file))
    settings = make_settings(database_url, llm_url=stub.url, llm_model="served-model")
    me = await make_account(settings, Role.listener)
    story_id, _ = await build_story(settings, supercomputer())
    stub.respond = citing("12.3 trillion", "12.3 trillion calculations a second.", invented=None)
    async for client in app_client(settings, None):
        turn = (await post(client, me.headers, story_id, "How many calculations a second?"))["turn"]
    assert turn["mode"] == "llm"
    assert "12.3 trillion" in turn["citations"][0]["quote"]
    [req] = stub.bodies("/chat/completions")
    assert req["model"] == "served-model"
    assert req["auth"] == "Bearer sk-ask-secret"
