"""Loudness, codecs, chapters and WebVTT on real synthesized speech."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import soundfile

from newstalk.errors import InvalidInput
from newstalk.speech.audio import (
    PEAK_CEILING,
    Chapter,
    Rendered,
    chapters_json,
    concat_with_chapters,
    encode,
    loudness_normalize,
    measure_lufs,
    render,
    webvtt,
)
from newstalk.speech.engines import EspeakEngine, PiperEngine

STORIES = [
    ("Weather", "Rain moves in tonight. Skies clear by the morning."),
    ("Markets", "Shares closed higher on Tuesday."),
]


@pytest.fixture(scope="module")
def episode() -> Rendered:
    return render(PiperEngine(), STORIES, voice="joe")


@pytest.fixture(scope="module")
def korean() -> np.ndarray:
    return EspeakEngine().synthesize("오늘의 주요 뉴스입니다. 다음 소식입니다.", voice="ko")


def test_normalized_to_minus_16_lufs_without_clipping(episode: Rendered) -> None:
    assert abs(measure_lufs(episode.pcm, episode.sample_rate) + 16.0) <= 1.0
    assert float(np.abs(episode.pcm).max()) <= PEAK_CEILING + 1e-6


@pytest.mark.parametrize("scale", [0.02, 1.0])
def test_normalize_quiet_and_loud_korean(korean: np.ndarray, scale: float) -> None:
    out = loudness_normalize(korean * np.float32(scale), 22050, target_lufs=-16.0)
    assert abs(measure_lufs(out, 22050) + 16.0) <= 1.0
    assert float(np.abs(out).max()) <= PEAK_CEILING + 1e-6


def test_normalize_leaves_silence_and_short_audio_alone() -> None:
    silence = np.zeros(22050, dtype=np.float32)
    assert np.array_equal(loudness_normalize(silence, 22050), silence)
    blip = np.full(100, 0.1, dtype=np.float32)
    assert np.array_equal(loudness_normalize(blip, 22050), blip)


@pytest.mark.parametrize(("fmt", "rate"), [("opus", 24000), ("mp3", 22050)])
def test_encoded_audio_decodes_with_expected_duration(episode: Rendered, fmt: str, rate: int) -> None:
    data = encode(episode.pcm, episode.sample_rate, fmt)  # type: ignore[arg-type]
    pcm, decoded_rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert decoded_rate == rate
    # MP3 decoders may add up to a frame or two of padding.
    assert abs(len(pcm) / decoded_rate - episode.duration_s) < 0.1
    assert float(np.sqrt(np.mean(pcm**2))) > 0.02


def test_encode_unknown_format() -> None:
    with pytest.raises(InvalidInput, match="use opus or mp3"):
        encode(np.zeros(10, dtype=np.float32), 22050, "flac")  # type: ignore[arg-type]


def test_chapters_match_segments_and_gaps() -> None:
    rate = 1000
    segments = [
        ("a", np.ones(1500, np.float32)),
        ("b", np.ones(700, np.float32)),
        ("c", np.ones(1, np.float32)),
    ]
    pcm, chapters = concat_with_chapters(segments, rate, gap_s=0.5)
    assert chapters == [Chapter("a", 0.0, 1.5), Chapter("b", 2.0, 2.7), Chapter("c", 3.2, 3.201)]
    assert len(pcm) == 3201
    assert pcm[1500:2000].sum() == 0
    doc = json.loads(chapters_json(chapters))
    assert doc["version"] == "1.2.0"
    assert doc["chapters"][1] == {"startTime": 2.0, "endTime": 2.7, "title": "b"}


def test_render_cues_are_in_sync_with_audio(episode: Rendered) -> None:
    sr = episode.sample_rate
    assert [c.title for c in episode.chapters] == ["Weather", "Markets"]
    assert [c.text for c in episode.cues] == [
        "Rain moves in tonight.",
        "Skies clear by the morning.",
        "Shares closed higher on Tuesday.",
    ]
    times = [t for c in episode.cues for t in (c.start_s, c.end_s)]
    assert times == sorted(times)
    assert episode.cues[0].start_s == episode.chapters[0].start_s == 0.0
    assert episode.cues[1].end_s == pytest.approx(episode.chapters[0].end_s)
    assert episode.cues[2].start_s == pytest.approx(episode.chapters[1].start_s)
    assert episode.chapters[-1].end_s == pytest.approx(episode.duration_s)
    # Speech is inside the cues and the pauses between them are silent.
    for a, b in zip(episode.cues, episode.cues[1:], strict=False):
        gap = episode.pcm[round(a.end_s * sr) : round(b.start_s * sr)]
        assert len(gap) > 0
        assert float(np.abs(gap).max()) == 0.0
    first = episode.pcm[round(episode.cues[0].start_s * sr) : round(episode.cues[0].end_s * sr)]
    assert float(np.sqrt(np.mean(first**2))) > 0.02


def test_webvtt_document(episode: Rendered) -> None:
    vtt = webvtt(episode.cues)
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> ")
    stamps = re.findall(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})", vtt)
    assert len(stamps) == 3
    seconds = [
        int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
        for h, m, s, ms in (st[i : i + 4] for st in stamps for i in (0, 4))
    ]
    assert seconds == sorted(seconds)
    assert webvtt([(3661.5, 3662.25, "a --> b\nc")]) == (
        "WEBVTT\n\n1\n01:01:01.500 --> 01:01:02.250\na -> b c\n"
    )
    with pytest.raises(InvalidInput, match="ends"):
        webvtt([(2.0, 1.0, "x")])
