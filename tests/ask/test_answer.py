"""The pure parts of answering: what a question asks for, follow-ups, the model's answer format."""

from __future__ import annotations

import json

import pytest

from newstalk.ask.answer import (
    ANSWER_SCHEMA,
    Answerer,
    Passage,
    PastTurn,
    intents,
    llm_messages,
    parse_llm_answer,
    question_language,
)
from newstalk.errors import Unavailable
from newstalk.factcheck.checker import Document
from tests.ask.conftest import shared_checker

DOC = Document(
    7, 3, "연합뉴스", "https://example.org/a/7", "ko", "", "미국은 1992년에 지하 핵실험을 중지시켰다."
)


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("Why did profits fall?", {"causal"}),
        ("그 이유는?", {"causal"}),
        ("How many subscribers did AOL lose?", {"number"}),
        ("수퍼컴퓨터는 초당 몇 번 계산하나?", {"number"}),
        ("When did the tests stop?", {"date"}),
        ("누가 설계했나?", {"entity"}),
        ("What is ASCI White?", set()),
    ],
)
def test_intents_read_the_question_word(question: str, kinds: set[str]) -> None:
    assert intents(question) == kinds


def test_question_language() -> None:
    assert question_language("그 이유는?") == "ko"
    assert question_language("Why?") == "en"
    assert question_language("ASCI White는 누가 만들었나?") == "ko"


def test_follow_ups_need_a_previous_turn_and_lean_on_it() -> None:
    answerer = Answerer(shared_checker())
    past = [PastTurn(1, "When did the US stop nuclear tests?", "In 1992.")]
    assert not answerer.is_follow_up("Why?", [])
    for q in ("Why?", "그 이유는?", "How many?", "And what did it cost?", "그는 뭐라고 했나?"):
        assert answerer.is_follow_up(q, past), q
    for q in (
        "How much did Time Warner's quarterly profits jump?",
        "수퍼컴퓨터는 초당 몇 번의 계산을 수행하나?",
    ):
        assert not answerer.is_follow_up(q, past), q


def test_llm_messages_hold_five_turns_passages_and_the_question() -> None:
    history = [PastTurn(i, f"question {i}", f"answer {i}") for i in range(1, 8)]
    passages = [Passage(DOC, 0, len(DOC.text), DOC.text)]
    messages = llm_messages("왜?", passages, history)
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 5 + ["user"]
    assert messages[1]["content"] == "question 3"
    payload = json.loads(messages[-1]["content"].split("\n", 1)[1])
    assert payload == {
        "passages": [{"id": 1, "outlet": "연합뉴스", "language": "ko", "text": DOC.text}],
        "question": "왜?",
    }
    assert "JSON" in messages[0]["content"]
    assert set(ANSWER_SCHEMA["required"]) == {"answer", "found", "citations"}


def test_parse_llm_answer_accepts_the_format_and_refuses_others() -> None:
    assert parse_llm_answer(
        {"answer": " It  cost $110 million. ", "found": True, "citations": [2, "3", True, 1]}
    ) == (
        "It cost $110 million.",
        True,
        [2, 1],
    )
    for bad in (
        {"answer": 3, "found": True, "citations": []},
        {"answer": "x", "found": "yes", "citations": []},
        {"answer": "x", "citations": 1},
    ):
        with pytest.raises(Unavailable, match="'answer'"):
            parse_llm_answer(bad)
