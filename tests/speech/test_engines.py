"""Engines speak non-silent audio of plausible length; the OpenAI engine speaks the protocol."""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import numpy as np
import pytest
import soundfile

from newstalk.config import Settings
from newstalk.errors import InvalidInput, NotFound, Unavailable
from newstalk.kit import memory
from newstalk.speech.engines import (
    EspeakEngine,
    FliteEngine,
    OpenAITTSEngine,
    PiperEngine,
    TTSEngine,
    available_engines,
    split_sentences,
    stream_pieces,
)
from newstalk.speech.voices import DEFAULT_VOICE, VOICES, get_voice

EN = "The birch canoe slid on the smooth planks."
KO = "오늘 서울의 날씨는 맑고 기온은 영상 십도입니다."


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    return PiperEngine()


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    return EspeakEngine()


def _seconds(pcm: np.ndarray, rate: int) -> float:
    return len(pcm) / rate


def _assert_speech(pcm: np.ndarray, rate: int, low: float, high: float) -> None:
    assert pcm.dtype == np.float32
    assert pcm.ndim == 1
    assert float(np.abs(pcm).max()) <= 1.0
    assert float(np.sqrt(np.mean(pcm**2))) > 0.02, "audio is (nearly) silent"
    assert low <= _seconds(pcm, rate) <= high


def test_split_sentences() -> None:
    text = 'He said "Go." Then left!  Why? 다음 소식입니다. 끝'
    assert split_sentences(text) == ['He said "Go."', "Then left!", "Why?", "다음 소식입니다.", "끝"]
    assert split_sentences("  ") == []


def test_piper_speaks_english(piper: PiperEngine) -> None:
    pcm = piper.synthesize(EN, voice="joe")
    assert piper.sample_rate == 22050
    _assert_speech(pcm, piper.sample_rate, 1.5, 4.5)


def test_piper_rate_and_pitch(piper: PiperEngine) -> None:
    base = _seconds(piper.synthesize(EN, voice="joe"), piper.sample_rate)
    fast = _seconds(piper.synthesize(EN, voice="joe", rate=1.3), piper.sample_rate)
    pitched = _seconds(piper.synthesize(EN, voice="joe", pitch=1.1), piper.sample_rate)
    assert fast < base * 0.9
    # Pitch is applied after synthesis and must not change the tempo much.
    assert abs(pitched - base) < 0.2 * base


def test_piper_streams_sentence_by_sentence(piper: PiperEngine) -> None:
    chunks = list(piper.stream(EN + " Glue the sheet to the dark blue background.", voice="joe"))
    assert len(chunks) == 2
    assert all(len(c) > piper.sample_rate for c in chunks)


def test_piper_refuses_unknown_voice_and_bad_rate(piper: PiperEngine) -> None:
    with pytest.raises(InvalidInput, match="only the bundled voice"):
        piper.synthesize(EN, voice="amy")
    with pytest.raises(InvalidInput, match="rate"):
        piper.synthesize(EN, voice="joe", rate=10)


@pytest.mark.parametrize(("voice", "text"), [("en-us", EN), ("ko", KO), ("ko+f3", KO)])
def test_espeak_speaks(espeak: EspeakEngine, voice: str, text: str) -> None:
    pcm = espeak.synthesize(text, voice=voice)
    _assert_speech(pcm, espeak.sample_rate, 1.0, 6.0)


def test_espeak_rate_changes_duration(espeak: EspeakEngine) -> None:
    slow = espeak.synthesize(KO, voice="ko", rate=0.8)
    fast = espeak.synthesize(KO, voice="ko", rate=1.3)
    assert len(fast) < 0.8 * len(slow)


def test_espeak_unknown_voice(espeak: EspeakEngine) -> None:
    with pytest.raises(InvalidInput, match="no voice 'xx-nope'"):
        espeak.synthesize(EN, voice="xx-nope")


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed")
def test_flite_speaks() -> None:
    engine = FliteEngine()
    _assert_speech(engine.synthesize(EN, voice="slt"), engine.sample_rate, 1.0, 5.0)


def test_flite_absent_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(Unavailable, match="flite is not installed"):
        FliteEngine()


def test_every_voice_rendition_has_an_engine(piper: PiperEngine, espeak: EspeakEngine) -> None:
    engines: dict[str, TTSEngine] = {"piper": piper, "espeak": espeak}
    assert DEFAULT_VOICE == "anchor"
    assert get_voice("anchor").renditions["en"].engine == "piper"
    assert set(VOICES) == {"anchor", "host", "narrator", "reporter", "storyteller"}
    greetings = set()
    for voice in VOICES.values():
        for lang in ("en", "ko"):
            rendition = voice.rendition(lang)
            assert lang in engines[rendition.engine].languages
            greetings.add(voice.style[lang].greeting)
        pcm = espeak.synthesize(voice.style["ko"].greeting, voice=voice.renditions["ko"].voice)
        assert len(pcm) > espeak.sample_rate // 2
    assert len(greetings) == 10
    with pytest.raises(NotFound, match="use one of anchor"):
        get_voice("dj")


def test_an_idle_piper_voice_is_released_and_loaded_again_when_needed() -> None:
    engine = PiperEngine(idle_s=0.05)
    first = engine.synthesize(EN, voice="joe")
    assert engine.loads == 1
    assert not engine.release_if_idle()  # spoken just now
    time.sleep(0.1)
    # The periodic trim offers every registered model the chance to go (kit/memory.py).
    assert memory.release_idle() >= 1
    assert engine._voice is None
    again = engine.synthesize(EN, voice="joe")
    assert engine.loads == 2
    _assert_speech(again, engine.sample_rate, 1.5, 4.5)
    assert abs(len(again) - len(first)) < 0.2 * len(first)  # the same voice (piper adds noise)


def test_a_voice_in_use_or_kept_is_not_released() -> None:
    kept = PiperEngine()  # idle_s 0: for the life of the process
    kept.synthesize(EN, voice="joe")
    assert not kept.release_if_idle()
    busy = PiperEngine(idle_s=0.01)
    busy._acquire()  # a synthesis in progress
    time.sleep(0.05)
    assert not busy.release_if_idle()
    busy._done()
    time.sleep(0.05)
    assert busy.release_if_idle()


def test_available_engines_follow_settings() -> None:
    plain = available_engines(Settings(_env_file=None))
    assert {"piper", "espeak"} <= set(plain)
    assert "openai" not in plain
    cloud = available_engines(
        Settings(_env_file=None, tts_openai_url="http://127.0.0.1:9/v1", tts_openai_api_key="k")
    )
    assert isinstance(cloud["openai"], OpenAITTSEngine)
    assert all(isinstance(e, TTSEngine) for e in cloud.values())


class _Stub(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    reply: ClassVar[tuple[int, str, bytes]] = (200, "audio/wav", b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Stub.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "json": json.loads(body)}
        )
        status, ctype, payload = _Stub.reply
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    thread.join()


def _wav(seconds: float, rate: int = 24000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    soundfile.write(buf, 0.3 * np.sin(2 * np.pi * 220 * t), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_openai_request_shape_and_decoding(stub_url: str) -> None:
    _Stub.requests.clear()
    _Stub.reply = (200, "audio/wav", _wav(1.5, 44100))
    engine = OpenAITTSEngine(stub_url, "sk-test", model="tts-1-hd")
    pcm = engine.synthesize("Hello there.", voice="alloy", rate=1.25)
    assert abs(len(pcm) / engine.sample_rate - 1.5) < 0.01
    assert pcm.dtype == np.float32
    (req,) = _Stub.requests
    assert req["path"] == "/v1/audio/speech"
    assert req["auth"] == "Bearer sk-test"
    assert req["json"] == {
        "model": "tts-1-hd",
        "voice": "alloy",
        "input": "Hello there.",
        "response_format": "wav",
        "speed": 1.25,
    }


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ((401, "application/json", b'{"error":"bad key"}'), "NEWSTALK_TTS_OPENAI_API_KEY"),
        ((500, "text/plain", b"model overloaded"), "HTTP 500: model overloaded"),
        ((200, "audio/mpeg", b"ID3 not a wav"), "not WAV"),
    ],
)
def test_openai_errors_are_clear(stub_url: str, reply: tuple[int, str, bytes], message: str) -> None:
    _Stub.reply = reply
    with pytest.raises(Unavailable, match=message):
        OpenAITTSEngine(stub_url, "k").synthesize("Hi.", voice="alloy")


def test_openai_unreachable() -> None:
    engine = OpenAITTSEngine("http://127.0.0.1:9/v1", "k", timeout_s=2)
    with pytest.raises(Unavailable, match="unreachable"):
        engine.synthesize("Hi.", voice="alloy")


def test_stream_pieces_cut_a_long_first_sentence_at_a_clause() -> None:
    text = "Officials approved a new budget on Tuesday that expands bus service across town. Next."
    assert stream_pieces(text) == [
        "Officials approved a new budget on Tuesday",
        "that expands bus service across town.",
        "Next.",
    ]
    assert stream_pieces("Short and sweet. Next.") == ["Short and sweet.", "Next."]
    assert stream_pieces("") == []
