"""LLM rewriting of scripts against a real local OpenAI-compatible server: guardrails, fallback, cache."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from newstalk.briefings.rewrite import ScriptRewriter, check, link_indices, names, numbers, verdicts
from newstalk.briefings.scripts import daily_briefing, script_seconds, story_script
from newstalk.providers.llm import ChatClient
from tests.briefings.test_scripts import RATES_EN, RATES_KO
from tests.support.openai_stub import OpenAIStub, Reply, chat_answer, serve

_LINE = re.compile(r"^\d+\. \[(\w+)\] (.*)$")


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    yield from serve()


@pytest.fixture
def rewriter(stub: OpenAIStub) -> Iterator[ScriptRewriter]:
    client = ChatClient(base_url=stub.url, model="stub-model", api_key="sk-test", max_retries=0, timeout_s=5)
    yield ScriptRewriter(client)
    client.close()


def sent_lines(body: dict[str, Any]) -> list[str]:
    """The lines the rewriter sent, without their numbers and speakers."""
    user = body["messages"][-1]["content"]
    return [m.group(2) for line in user.splitlines() if (m := _LINE.match(line))]


def answering(edit: Callable[[list[str]], list[str]]) -> Callable[[str, dict[str, Any]], Reply]:
    def respond(_path: str, body: dict[str, Any]) -> Reply:
        return Reply(200, chat_answer(json.dumps({"lines": edit(sent_lines(body))})))

    return respond


def test_guardrail_pieces() -> None:
    text = "Fourteen outlets report it. The Bank of England raised rates to 3.5% in LONDON. Other reporting supports this."
    assert numbers(text) == ["3.5", "fourteen"]
    assert {"Bank", "England", "LONDON"} <= names(text, "en")
    assert "Fourteen" not in names(text, "en")  # a capital at a sentence start is not a name
    assert verdicts(text) == {"supported"}
    assert check(text, text.replace("3.5%", "three and a half percent"), "en") == "numbers dropped: 3.5"
    assert check(text, text.replace("England", "Britain"), "en") == "names dropped: England"
    assert check(text, text.replace("supports", "contradicts"), "en") == (
        "verdict changed: 'other reporting supports this' is gone"
    )
    assert "이창용" in names("이창용 한국은행 총재는 결정이 만장일치였다고 밝혔다.", "ko")


def test_a_good_rewrite_is_kept_and_cached(stub: OpenAIStub, rewriter: ScriptRewriter) -> None:
    template = story_script(RATES_EN, "host")
    stub.respond = answering(lambda lines: ["Here's one for you. " + lines[0], *lines[1:]])
    out = rewriter.rewrite(template)
    assert out.rewritten, out.reason
    assert out.script.lines[0].text.startswith("Here's one for you.")
    assert out.script.lines[1:] == template.lines[1:]
    assert [x.speaker for x in out.script.lines] == [x.speaker for x in template.lines]
    body = stub.bodies("/chat/completions")[0]
    assert stub.requests[0]["auth"] == "Bearer sk-test"
    assert body["model"] == "stub-model"
    assert body["response_format"]["type"] == "json_schema"
    assert "JSON" in body["messages"][-1]["content"]
    assert "- host:" in body["messages"][0]["content"]  # the character's style is in the prompt
    # Same template: answered from the cache, no second request.
    assert rewriter.rewrite(template) == out
    assert len(stub.requests) == 1
    assert rewriter.cached(template) == out


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda lines: [x.replace("3.5", "three and a half") for x in lines], "numbers dropped"),
        (lambda lines: [x.replace("Fourteen", "Many") for x in lines], "numbers dropped: fourteen"),
        (lambda lines: [x.replace("supports this", "settles it") for x in lines], "verdict changed"),
        (lambda lines: [*lines[:2], lines[2] + " Others contradict it."], "verdict changed: says refuted"),
        (lambda lines: [x.replace("Thursday", "Tuesday") for x in lines], "names dropped: Thursday"),
        (lambda lines: [*lines, "An extra line."], "expected 3 lines"),
        (lambda lines: [lines[0], lines[1] + " " + lines[1] * 2, lines[2]], "length"),
        (lambda lines: ["", *lines[1:]], "empty"),
    ],
)
def test_a_rewrite_that_fails_a_check_keeps_the_template(
    stub: OpenAIStub, rewriter: ScriptRewriter, edit: Callable[[list[str]], list[str]], reason: str
) -> None:
    template = story_script(RATES_EN, "anchor")
    stub.respond = answering(edit)
    out = rewriter.rewrite(template)
    assert not out.rewritten
    assert out.script == template
    assert reason in out.reason
    assert script_seconds(out.script) <= 90


def test_any_error_keeps_the_template_and_is_not_cached(stub: OpenAIStub, rewriter: ScriptRewriter) -> None:
    template = story_script(RATES_EN, "anchor")
    stub.then(Reply(500, {"error": {"message": "overloaded"}}))
    out = rewriter.rewrite(template)
    assert (out.rewritten, out.script) == (False, template)
    assert out.reason.startswith("error")
    stub.then(Reply(200, chat_answer("not json at all")))
    assert rewriter.rewrite(template).script == template
    # Errors are not cached: once the server is well, the rewrite happens.
    stub.respond = answering(lambda lines: ["Now then. " + lines[0], *lines[1:]])
    assert rewriter.rewrite(template).rewritten
    stub.stop()
    fresh = story_script(RATES_EN, "reporter")
    assert rewriter.rewrite(fresh).script == fresh  # connection refused: the template


def test_briefing_links_only_are_rewritten(stub: OpenAIStub, rewriter: ScriptRewriter) -> None:
    template = daily_briefing([RATES_EN], voice="storyteller", lang="en", date="2026-11-26")
    stub.respond = answering(lambda lines: [f"{x} Indeed." for x in lines])
    out = rewriter.rewrite(template)
    assert out.rewritten, out.reason
    links = link_indices(template)
    assert links[0] == 0
    assert links[-1] == len(template.lines) - 1
    assert len(sent_lines(stub.bodies()[0])) == len(links)
    for i, (before, after) in enumerate(zip(template.lines, out.script.lines, strict=True)):
        assert (after.text == before.text + " Indeed.") == (i in links)
        assert after.chapter == before.chapter


def test_korean_names_are_checked(stub: OpenAIStub, rewriter: ScriptRewriter) -> None:
    template = story_script(RATES_KO, "anchor")
    assert "이창용" in template.text
    stub.respond = answering(lambda lines: [x.replace("이창용", "총재") for x in lines])
    out = rewriter.rewrite(template)
    assert (out.rewritten, out.script) == (False, template)
    assert out.reason == "names dropped: 이창용"
    polite = {"이 소식은": "이번 소식은"}
    stub.respond = answering(lambda lines: [x.replace(*next(iter(polite.items()))) for x in lines])
    kept = rewriter.rewrite(story_script(RATES_KO, "host"))
    assert kept.rewritten, kept.reason
    assert "이번 소식은" in kept.script.text
