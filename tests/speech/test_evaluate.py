"""Speech-recognition round trip on a few Harvard sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newstalk.errors import InvalidInput, NotFound
from newstalk.speech import evaluate
from newstalk.speech.engines import EspeakEngine, PiperEngine, TTSEngine
from newstalk.speech.evaluate import (
    KOREAN_NOTE,
    edit_distance,
    evaluate_speech,
    load_recognizer,
    main,
    normalize_words,
    read_sentences,
)

SENTENCES = (
    "Glue the sheet to the dark blue background.\n"
    ".\n"
    "\n"
    "It's easy to tell the depth of a well.\n"
    "Rice is often served in round bowls.\n"
)


@pytest.fixture(scope="module")
def engines() -> dict[str, TTSEngine]:
    try:
        load_recognizer()
    except Exception as exc:
        pytest.skip(f"whisper tiny.en cannot load: {exc}")
    return {"piper": PiperEngine(), "espeak": EspeakEngine()}


@pytest.fixture
def sentences(tmp_path: Path) -> Path:
    path = tmp_path / "s.txt"
    path.write_text(SENTENCES, encoding="utf-8")
    return path


def test_normalization_and_distance() -> None:
    assert normalize_words("It's 12 o'clock, Mr. Smith!") == ["its", "twelve", "oclock", "mr", "smith"]
    assert normalize_words("The 42nd-street") == ["the", "42nd", "street"]
    assert normalize_words("21 dogs") == ["twenty", "one", "dogs"]
    assert edit_distance(["a", "b", "c"], ["a", "x", "c", "d"]) == 2
    assert edit_distance([], ["a"]) == 1


def test_read_sentences_skips_stray_lines(sentences: Path, tmp_path: Path) -> None:
    assert len(read_sentences(sentences)) == 3
    empty = tmp_path / "empty.txt"
    empty.write_text(".\n\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no sentences"):
        read_sentences(empty)
    with pytest.raises(NotFound, match="cannot read"):
        read_sentences(tmp_path / "missing.txt")


def test_anchor_round_trip(sentences: Path, engines: dict[str, TTSEngine]) -> None:
    result = evaluate_speech(sentences, voice="anchor", lang="en", engines=engines)
    assert result["n"] == 3
    assert result["wer"] <= 0.2, result["worst"]
    assert result["silent"] == 0
    assert 0 < result["real_time_factor"] < 2


def test_korean_is_not_scored_and_says_why(
    sentences: Path, engines: dict[str, TTSEngine], tmp_path: Path
) -> None:
    path = tmp_path / "ko.txt"
    path.write_text("오늘의 주요 뉴스입니다.\n다음 소식입니다.\n", encoding="utf-8")
    result = evaluate_speech(path, voice="narrator", lang="ko", engines=engines)
    assert result["n"] == 2
    assert result["cer"] is None
    assert result["note"] == KOREAN_NOTE
    assert result["silent"] == 0
    assert result["audio_s"] > 1
    assert 2 < result["syllables_per_s"] < 10


def test_cli_json(
    sentences: Path,
    engines: dict[str, TTSEngine],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(evaluate, "_default_engines", lambda: engines)
    assert main([str(sentences), "--voice", "anchor", "--lang", "en", "--limit", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n"] == 1
    assert 0 <= doc["wer"] <= 1


def test_unknown_voice_and_lang(sentences: Path) -> None:
    with pytest.raises(NotFound, match="no voice 'dj'"):
        evaluate_speech(sentences, voice="dj", lang="en", engines={})
    with pytest.raises(InvalidInput, match="en or ko"):
        evaluate_speech(sentences, voice="anchor", lang="fr", engines={})
