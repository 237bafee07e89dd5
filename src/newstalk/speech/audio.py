"""Audio post-processing: loudness, encoding, chapters and a WebVTT transcript in sync.

Timing is exact by construction: a briefing is synthesized sentence by sentence,
each sentence's sample offset is recorded, and only uniform gain and sample-rate
changes happen afterwards, which move no boundaries.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from newstalk.errors import InvalidInput
from newstalk.speech.engines import PCM, TTSEngine, resample, split_sentences

AudioFormat = Literal["opus", "mp3"]
CONTENT_TYPES: dict[str, str] = {"opus": "audio/ogg", "mp3": "audio/mpeg"}
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)
MP3_RATES = (48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
PEAK_CEILING = 10 ** (-1.0 / 20)  # -1 dBFS leaves room for lossy-codec overshoot


@dataclass(frozen=True)
class Chapter:
    """One story's span in the episode, in seconds."""

    title: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Cue:
    """One transcript line and when it is spoken, in seconds."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Rendered:
    """A whole episode: PCM, its rate, story chapters and sentence cues."""

    pcm: PCM
    sample_rate: int
    chapters: list[Chapter]
    cues: list[Cue]

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.pcm) / self.sample_rate


def _limit(pcm: PCM, sample_rate: int, ceiling: float) -> PCM:
    # Look-ahead peak limiter: the gain needed at each sample is spread over a
    # window on both sides (minimum, then moving average inside it), so peaks
    # are pulled under the ceiling without clicks and never overshoot.
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    peak = np.abs(pcm)
    if peak.size == 0 or float(peak.max()) <= ceiling:
        return pcm
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-9))
    half = max(1, int(sample_rate * 0.005))
    gain = minimum_filter1d(need, size=4 * half + 1)
    gain = uniform_filter1d(gain, size=2 * half + 1)
    out = np.clip(pcm * np.minimum(gain, need), -ceiling, ceiling)
    return np.asarray(out, dtype=np.float32)


def measure_lufs(pcm: PCM, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770) in LUFS; -inf for silence or audio under 0.4 s."""
    import pyloudnorm

    if len(pcm) < int(0.4 * sample_rate) + 1:
        return float("-inf")
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(pcm.astype(np.float64)))


def loudness_normalize(pcm: PCM, sample_rate: int, target_lufs: float = -16.0) -> PCM:
    """Scale to ``target_lufs`` integrated loudness with peaks held at -1 dBFS."""
    out = pcm.astype(np.float32)
    for _ in range(3):
        loudness = measure_lufs(out, sample_rate)
        if not np.isfinite(loudness) or abs(loudness - target_lufs) < 0.1:
            break
        gain = np.float32(10 ** ((target_lufs - loudness) / 20))
        out = _limit(out * gain, sample_rate, PEAK_CEILING)
    return out


def encode(pcm: PCM, sample_rate: int, fmt: AudioFormat = "opus") -> bytes:
    """Encode mono PCM as Ogg/Opus or MP3, resampling to a rate the codec accepts."""
    import soundfile

    rates = OPUS_RATES if fmt == "opus" else MP3_RATES if fmt == "mp3" else None
    if rates is None:
        raise InvalidInput(f"speech: unknown audio format {fmt!r}; use opus or mp3")
    target = sample_rate
    if sample_rate not in rates:
        target = min((r for r in rates if r >= sample_rate), default=max(rates))
    data = np.clip(resample(pcm, sample_rate, target), -1.0, 1.0)
    buf = io.BytesIO()
    if fmt == "opus":
        soundfile.write(buf, data, target, format="OGG", subtype="OPUS")
    else:
        soundfile.write(buf, data, target, format="MP3", subtype="MPEG_LAYER_III")
    return buf.getvalue()


def concat_with_chapters(
    segments: Sequence[tuple[str, PCM]], sample_rate: int, gap_s: float = 0.6
) -> tuple[PCM, list[Chapter]]:
    """Join titled segments with silence between them; each segment becomes a chapter."""
    gap = np.zeros(round(gap_s * sample_rate), dtype=np.float32)
    parts: list[PCM] = []
    chapters: list[Chapter] = []
    offset = 0
    for i, (title, pcm) in enumerate(segments):
        if i:
            parts.append(gap)
            offset += len(gap)
        chapters.append(Chapter(title, offset / sample_rate, (offset + len(pcm)) / sample_rate))
        parts.append(pcm.astype(np.float32, copy=False))
        offset += len(pcm)
    pcm_all = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return pcm_all, chapters


def _timestamp(seconds: float) -> str:
    ms = round(max(0.0, seconds) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def webvtt(cues: Sequence[tuple[float, float, str] | Cue]) -> str:
    """A WebVTT document with one cue per (start, end, text)."""
    lines = ["WEBVTT", ""]
    for i, cue in enumerate(cues, 1):
        start, end, text = (cue.start_s, cue.end_s, cue.text) if isinstance(cue, Cue) else cue
        if end < start:
            raise InvalidInput(f"speech: cue {i} ends ({end}) before it starts ({start})")
        # "-->" inside a cue payload would end the timing line's grammar.
        payload = " ".join(text.replace("-->", "->").split())
        lines += [str(i), f"{_timestamp(start)} --> {_timestamp(end)}", payload, ""]
    return "\n".join(lines)


def chapters_json(chapters: Sequence[Chapter]) -> str:
    """Chapters in the Podcasting 2.0 JSON chapters format (application/json+chapters)."""
    doc = {
        "version": "1.2.0",
        "chapters": [
            {"startTime": round(c.start_s, 3), "endTime": round(c.end_s, 3), "title": c.title}
            for c in chapters
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def render(
    engine: TTSEngine,
    stories: Sequence[tuple[str, str]],
    *,
    voice: str,
    rate: float = 1.0,
    pitch: float = 1.0,
    gap_s: float = 0.6,
    sentence_gap_s: float = 0.25,
    target_lufs: float = -16.0,
) -> Rendered:
    """Speak (title, text) stories sentence by sentence into one normalized episode."""
    sr = engine.sample_rate
    pause = np.zeros(round(sentence_gap_s * sr), dtype=np.float32)
    segments: list[tuple[str, PCM]] = []
    cues: list[Cue] = []
    story_offset = 0
    gap = round(gap_s * sr)
    for title, text in stories:
        parts: list[PCM] = []
        offset = 0
        for j, sentence in enumerate(split_sentences(text)):
            if j:
                parts.append(pause)
                offset += len(pause)
            pcm = engine.synthesize(sentence, voice=voice, rate=rate, pitch=pitch)
            start = story_offset + offset
            cues.append(Cue(start / sr, (start + len(pcm)) / sr, sentence))
            parts.append(pcm)
            offset += len(pcm)
        story = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        segments.append((title, story))
        story_offset += len(story) + gap
    pcm_all, chapters = concat_with_chapters(segments, sr, gap_s)
    return Rendered(loudness_normalize(pcm_all, sr, target_lufs), sr, chapters, cues)
