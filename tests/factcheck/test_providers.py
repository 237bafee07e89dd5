"""Verifier providers: the chat verifier against a local stub server, the NLI verifier on a tiny model."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newstalk.config import Settings
from newstalk.errors import ConfigError, Unavailable
from newstalk.factcheck.providers import build_verifier
from newstalk.factcheck.verifiers.nli import TransformersNLIVerifier
from newstalk.factcheck.verifiers.openai import JSON_SCHEMA_FORMAT, OpenAIChatVerifier
from newstalk.factcheck.verify import Judgement, Pair, Stance, Verifier
from newstalk.providers.llm import JSON_OBJECT_FORMAT
from tests.support.openai_stub import OpenAIStub, Reply, chat_answer, serve

KEY = "sk-test-secret-4242"

PAIRS = [
    Pair(
        "한국은행이 기준금리를 0.25%포인트 인상했다.",
        "The Bank of Korea raised its benchmark rate by 0.25 percentage points.",
        "ko",
        "en",
    ),
    Pair(
        "The flood left 12 dead in the province.", "Officials said 15 people died in the flood.", "en", "en"
    ),
    Pair("삼성전자가 새 반도체 공장을 짓는다.", "태풍이 제주도에 상륙해 항공편이 결항됐다.", "ko", "ko"),
]


def pairs_in(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The pairs a chat request carries, read back from its user message."""
    user = body["messages"][1]["content"]
    payload: list[dict[str, Any]] = json.loads(user[user.index("{") :])["pairs"]
    return payload


def rule_stance(pair: dict[str, Any]) -> str:
    # The stub's "model": a fixed rule, so tests can tell which answer belongs to which pair.
    if "15 people" in pair["evidence"]:
        return "refutes"
    if "raised" in pair["evidence"] or "supports" in pair["evidence"]:
        return "supports"
    return "neutral"


def rule_answer(path: str, body: dict[str, Any]) -> Reply:
    results = [
        {"index": p["index"], "stance": rule_stance(p), "related": 0.9, "confidence": 0.8}
        for p in pairs_in(body)
    ]
    # Answered in reverse order: the client must match by index, not position.
    return Reply(200, chat_answer(json.dumps({"results": results[::-1]}, ensure_ascii=False)))


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    for s in serve():
        s.respond = rule_answer
        yield s


def well_formed(j: Judgement) -> None:
    assert set(j.probs) == set(Stance)
    assert math.isclose(sum(j.probs.values()), 1.0, abs_tol=1e-6)
    assert all(0.0 <= p <= 1.0 for p in j.probs.values())
    assert j.probs[j.stance] == max(j.probs.values())
    assert 0.0 <= j.related <= 1.0


def test_chat_request_carries_model_auth_schema_and_pairs(stub: OpenAIStub) -> None:
    v = OpenAIChatVerifier(base_url=stub.url + "/", model="judge-1", api_key=KEY)
    out = v.judge(PAIRS)
    v.close()
    assert isinstance(v, Verifier)
    assert [j.stance for j in out] == [Stance.SUPPORTS, Stance.REFUTES, Stance.NEUTRAL]
    for j in out:
        well_formed(j)
        assert j.related == pytest.approx(0.9)
    assert out[0].probs == pytest.approx({Stance.SUPPORTS: 0.8, Stance.REFUTES: 0.1, Stance.NEUTRAL: 0.1})
    [req] = stub.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["auth"] == f"Bearer {KEY}"
    assert req["model"] == "judge-1"
    assert req["temperature"] == 0
    assert req["response_format"] == JSON_SCHEMA_FORMAT
    schema = req["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["results"]["items"]["properties"]["stance"]["enum"] == [
        "supports",
        "refutes",
        "neutral",
    ]
    system, user = req["messages"]
    assert system["role"] == "system"
    assert all(word in system["content"] for word in ('"supports"', '"refutes"', '"neutral"', "Korean"))
    assert user["role"] == "user"
    sent = pairs_in(req)
    assert [(p["index"], p["claim"], p["evidence"]) for p in sent] == [
        (i, p.claim, p.evidence) for i, p in enumerate(PAIRS)
    ]
    assert sent[0]["claim_lang"] == "ko"
    assert sent[0]["evidence_lang"] == "en"
    # Korean goes over the wire as text, not \\u escapes the model would have to decode.
    assert "한국은행" in user["content"]


def test_chat_batches_pairs_and_keeps_order(stub: OpenAIStub) -> None:
    pairs = [
        Pair(f"claim {i}", f"evidence {i} supports" if i % 3 == 0 else f"evidence {i}") for i in range(19)
    ]
    v = OpenAIChatVerifier(base_url=stub.url, model="m", batch_size=8)
    out = v.judge(pairs)
    assert v.judge([]) == []
    v.close()
    assert [len(pairs_in(r)) for r in stub.requests] == [8, 8, 3]
    assert [p["claim"] for r in stub.requests for p in pairs_in(r)] == [p.claim for p in pairs]
    assert [j.stance for j in out] == [
        Stance.SUPPORTS if i % 3 == 0 else Stance.NEUTRAL for i in range(len(pairs))
    ]
    assert stub.requests[0]["auth"] is None


def test_chat_falls_back_to_json_object_when_json_schema_is_rejected(stub: OpenAIStub) -> None:
    def no_schema(path: str, body: dict[str, Any]) -> Reply:
        if body["response_format"]["type"] == "json_schema":
            return Reply(400, {"error": {"message": "response_format type json_schema is not supported"}})
        return rule_answer(path, body)

    stub.respond = no_schema
    v = OpenAIChatVerifier(base_url=stub.url, model="llama3", batch_size=2)
    out = v.judge(PAIRS)
    v.close()
    assert [j.stance for j in out] == [Stance.SUPPORTS, Stance.REFUTES, Stance.NEUTRAL]
    # One retry for the first batch; the second batch goes straight to json_object.
    assert [r["response_format"] for r in stub.requests] == [
        JSON_SCHEMA_FORMAT,
        JSON_OBJECT_FORMAT,
        JSON_OBJECT_FORMAT,
    ]
    assert pairs_in(stub.requests[0]) == pairs_in(stub.requests[1])
    # json_object mode needs the word JSON in the messages (OpenAI refuses it otherwise).
    assert "JSON" in stub.requests[1]["messages"][0]["content"]


def test_chat_gives_up_when_json_object_is_rejected_too(stub: OpenAIStub) -> None:
    stub.respond = lambda path, body: Reply(400, {"error": {"message": "bad request"}})
    v = OpenAIChatVerifier(base_url=stub.url, model="m", api_key=KEY)
    with pytest.raises(Unavailable, match="HTTP 400") as exc:
        v.judge(PAIRS[:1])
    v.close()
    assert len(stub.requests) == 2
    assert KEY not in exc.value.detail


def test_chat_accepts_fenced_json_and_floors_low_confidence(stub: OpenAIStub) -> None:
    answer = {"results": [{"index": 0, "stance": "Refutes", "related": 1, "confidence": 0.2}]}
    stub.respond = lambda path, body: Reply(200, chat_answer("```json\n" + json.dumps(answer) + "\n```"))
    v = OpenAIChatVerifier(base_url=stub.url, model="m")
    [j] = v.judge(PAIRS[:1])
    v.close()
    assert j.stance is Stance.REFUTES
    well_formed(j)
    assert j.probs == pytest.approx(dict.fromkeys(Stance, 1 / 3))
    assert j.related == 1.0


def item(**over: Any) -> dict[str, Any]:
    return {"index": 0, "stance": "supports", "related": 0.5, "confidence": 0.7, **over}


MALFORMED: dict[str, tuple[Any, str]] = {
    "not json": (chat_answer("The evidence supports the claim."), "JSON object"),
    "no results": (chat_answer(json.dumps({"answer": []})), "JSON object"),
    "results not a list": (chat_answer(json.dumps({"results": {"0": "supports"}})), "not a list"),
    "missing index": (chat_answer(json.dumps({"results": [item()]})), "left out pairs [1]"),
    "index out of range": (chat_answer(json.dumps({"results": [item(), item(index=2)]})), "index 2"),
    "index as text": (chat_answer(json.dumps({"results": [item(), item(index="1")]})), "index '1'"),
    "twice": (chat_answer(json.dumps({"results": [item(), item()]})), "twice"),
    "unknown stance": (
        chat_answer(json.dumps({"results": [item(), item(index=1, stance="maybe")]})),
        "'maybe'",
    ),
    "confidence above 1": (
        chat_answer(json.dumps({"results": [item(), item(index=1, confidence=87)]})),
        "confidence 87",
    ),
    "related below 0": (
        chat_answer(json.dumps({"results": [item(), item(index=1, related=-0.1)]})),
        "related -0.1",
    ),
    "confidence missing": (
        chat_answer(json.dumps({"results": [item(), {"index": 1, "stance": "neutral", "related": 0.1}]})),
        "confidence None",
    ),
    "result not an object": (chat_answer(json.dumps({"results": [item(), "neutral"]})), "not an object"),
    "null content": (chat_answer(None), "no content"),
    "no choices": ({"choices": []}, "choices[0]"),
    "html body": (b"<html>gateway</html>", "body that is not JSON"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_chat_malformed_answers_are_unavailable(stub: OpenAIStub, case: str) -> None:
    answer, needle = MALFORMED[case]
    stub.respond = lambda path, body: Reply(200, answer)
    v = OpenAIChatVerifier(base_url=stub.url, model="m", api_key=KEY)
    with pytest.raises(Unavailable) as exc:
        v.judge(PAIRS[:2])
    v.close()
    detail = exc.value.detail
    assert needle in detail
    assert detail.startswith("factcheck: ")
    assert "\n" not in detail
    assert KEY not in detail


@pytest.mark.parametrize(
    ("status", "needle", "sent"),
    [
        (500, "HTTP 500 after 1 retries", 2),
        (503, "HTTP 503 after 1 retries", 2),
        (429, "HTTP 429 after 1 retries", 2),
        (401, "NEWSTALK_VERIFIER_API_KEY", 1),
        (404, "NEWSTALK_VERIFIER_URL", 1),
    ],
)
def test_chat_http_errors_name_the_setting(stub: OpenAIStub, status: int, needle: str, sent: int) -> None:
    # Only 429 and 5xx are worth a retry (through the shared client, with Retry-After: 0 here).
    stub.respond = lambda path, body: Reply(
        status, {"error": {"message": "upstream\nfailed"}}, {"Retry-After": "0"}
    )
    v = OpenAIChatVerifier(base_url=stub.url, model="m", api_key=KEY, max_retries=1)
    with pytest.raises(Unavailable) as exc:
        v.judge(PAIRS[:1])
    v.close()
    assert needle in exc.value.detail
    assert "\n" not in exc.value.detail
    assert KEY not in exc.value.detail
    assert len(stub.requests) == sent


def test_chat_timeout_and_refused_connection(stub: OpenAIStub) -> None:
    stub.delay_s = 0.5
    v = OpenAIChatVerifier(base_url=stub.url, model="m", timeout_s=0.1)
    with pytest.raises(Unavailable, match="timed out"):
        v.judge(PAIRS[:1])
    v.close()
    port = stub.port
    stub.stop()
    gone = OpenAIChatVerifier(base_url=f"http://user:{KEY}@127.0.0.1:{port}/v1", model="m", timeout_s=1)
    with pytest.raises(Unavailable, match="NEWSTALK_VERIFIER_URL") as exc:
        gone.judge(PAIRS[:1])
    gone.close()
    assert KEY not in exc.value.detail


def test_build_verifier_openai_reads_url_model_and_key_file(
    stub: OpenAIStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    monkeypatch.setenv("NEWSTALK_VERIFIER_API_KEY_FILE", str(key_file))
    settings = Settings(
        _env_file=None, verifier_provider="openai", verifier_url=stub.url, verifier_model="served-model"
    )
    v = build_verifier(settings)
    assert isinstance(v, OpenAIChatVerifier)
    assert v.judge(PAIRS[1:2])[0].stance is Stance.REFUTES
    v.close()
    assert stub.requests[-1]["auth"] == f"Bearer {KEY}"
    assert stub.requests[-1]["model"] == "served-model"


def test_build_verifier_names_the_missing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSTALK_VERIFIER_URL", raising=False)
    monkeypatch.delenv("NEWSTALK_VERIFIER_MODEL_DIR", raising=False)
    with pytest.raises(ConfigError, match="NEWSTALK_VERIFIER_URL"):
        build_verifier(Settings(_env_file=None, verifier_provider="openai"))
    with pytest.raises(ConfigError, match="NEWSTALK_VERIFIER_MODEL_DIR"):
        build_verifier(Settings(_env_file=None, verifier_provider="transformers"))


# A tiny NLI model, built here: a WordPiece vocabulary for the test sentences, a 2-layer BERT.
VOCAB_WORDS = (
    "the bank of korea raised cut its benchmark rate by percentage points flood left dead in province "
    "officials said people died 12 15 0 25 . , % 한국은행이 한국은행 ##이 기준금리를 인상했다 인하했다 "
    "삼성전자가 새 반도체 공장을 짓는다 태풍이 제주도에 상륙해 항공편이 결항됐다 포인트 ##포인트"
)


def build_tiny_nli(
    folder: Path, id2label: dict[int, str], dominant: str | None = None, max_positions: int = 64
) -> Path:
    """Save a random 2-layer BERT classifier and its tokenizer; ``dominant`` gets a large bias."""
    # the nli extra, which scripts/bootstrap installs; without it the NLI tests skip
    torch = pytest.importorskip("torch", reason="the transformers verifier needs torch (the nli extra)")
    transformers = pytest.importorskip("transformers", reason="the transformers verifier needs the nli extra")

    vocab_dir = folder / "vocab"
    vocab_dir.mkdir(parents=True)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(VOCAB_WORDS.split())]
    (vocab_dir / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    # strip_accents=False: stripping would decompose Hangul syllables into jamo.
    tokenizer = transformers.BertTokenizer.from_pretrained(
        str(vocab_dir), local_files_only=True, strip_accents=False
    )
    config = transformers.BertConfig(
        vocab_size=len(tokens),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    if dominant is not None:
        with torch.no_grad():
            model.classifier.bias.zero_()
            model.classifier.bias[config.label2id[dominant]] = 12.0
    out = folder / "model"
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


MNLI = {0: "entailment", 1: "neutral", 2: "contradiction"}


@pytest.fixture(scope="module")
def tiny_nli(tmp_path_factory: pytest.TempPathFactory) -> TransformersNLIVerifier:
    folder = build_tiny_nli(tmp_path_factory.mktemp("nli"), MNLI)
    return TransformersNLIVerifier(folder, batch_size=2)


def test_nli_judges_korean_and_english_pairs(tiny_nli: TransformersNLIVerifier) -> None:
    assert isinstance(tiny_nli, Verifier)
    assert tiny_nli.labels == MNLI
    long = Pair("The bank raised its rate.", "the bank of korea raised " * 400)
    pairs = [*PAIRS, long, Pair("", "")]
    out = tiny_nli.judge(pairs)
    assert len(out) == len(pairs)
    for j in out:
        well_formed(j)
        assert j.related == pytest.approx(1.0 - j.probs[Stance.NEUTRAL], abs=1e-6)
    assert tiny_nli.judge([]) == []
    # Length-sorted batches with padding give each pair what it gets alone, in input order.
    alone = [tiny_nli.judge([p])[0] for p in pairs]
    for together, single in zip(out, alone, strict=True):
        assert together.stance is single.stance
        for s in Stance:
            assert together.probs[s] == pytest.approx(single.probs[s], abs=1e-4)
    # The random model still reads its input: different pairs get different probabilities.
    assert len({round(j.probs[Stance.SUPPORTS], 6) for j in out}) > 1


@pytest.mark.parametrize(
    ("id2label", "dominant", "stance", "related_high"),
    [
        (MNLI, "entailment", Stance.SUPPORTS, True),
        (MNLI, "contradiction", Stance.REFUTES, True),
        (MNLI, "neutral", Stance.NEUTRAL, False),
        ({0: "CONTRADICTION", 1: "ENTAILMENT", 2: "NEUTRAL"}, "ENTAILMENT", Stance.SUPPORTS, True),
        ({0: "SUPPORTS", 1: "REFUTES", 2: "NOT ENOUGH INFO"}, "REFUTES", Stance.REFUTES, True),
        ({0: "agree", 1: "disagree", 2: "discuss", 3: "unrelated"}, "discuss", Stance.NEUTRAL, True),
        ({0: "agree", 1: "disagree", 2: "discuss", 3: "unrelated"}, "unrelated", Stance.NEUTRAL, False),
    ],
)
def test_nli_honours_the_model_label_order(
    tmp_path: Path, id2label: dict[int, str], dominant: str, stance: Stance, related_high: bool
) -> None:
    v = TransformersNLIVerifier(build_tiny_nli(tmp_path, id2label, dominant))
    for j in v.judge(PAIRS):
        well_formed(j)
        assert j.stance is stance
        assert j.confidence > 0.99
        assert (j.related > 0.99) if related_high else (j.related < 0.01)


def test_nli_refuses_a_model_without_nli_labels(tmp_path: Path) -> None:
    folder = build_tiny_nli(tmp_path, {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    with pytest.raises(ConfigError, match=r"'LABEL_0'.*set id2label to entailment/neutral/contradiction"):
        TransformersNLIVerifier(folder)


def test_nli_refuses_wrong_folders(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        TransformersNLIVerifier(tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"no config\.json"):
        TransformersNLIVerifier(tmp_path)
    folder = build_tiny_nli(tmp_path, MNLI)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match="save both there with save_pretrained"):
        TransformersNLIVerifier(folder)


def test_build_verifier_loads_the_transformers_model_dir(tmp_path: Path) -> None:
    folder = build_tiny_nli(tmp_path, MNLI, dominant="contradiction", max_positions=32)
    v = build_verifier(
        Settings(_env_file=None, verifier_provider="transformers", verifier_model_dir=str(folder))
    )
    assert isinstance(v, TransformersNLIVerifier)
    # Inputs longer than the 32-position table are truncated, not an error.
    [j] = v.judge([Pair("rate " * 100, "the bank " * 100)])
    assert j.stance is Stance.REFUTES
