"""Speak a script: each line in its character's voice, sentence by sentence, into one episode.

Sentences are normalized for speech (``speech.normalize``) right before synthesis;
cues keep the sentence as written, so the transcript reads like the script. Chapters are
the script's chapters (one per story, plus intro and outro in briefings).

A story is spoken again each time its script changes (an outlet joins, a verdict lands),
and most of its sentences are the ones spoken a minute ago; daily briefings repeat story
sentences too. :class:`SentenceCache` keeps recently synthesized sentences (by engine, voice,
rate, pitch and the spoken text), so only new sentences reach the synthesizer.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from newstalk.errors import Unavailable
from newstalk.kit import memory
from newstalk.speech.audio import Cue, Rendered, concat_with_chapters, loudness_normalize
from newstalk.speech.engines import PCM, TTSEngine, resample, split_sentences
from newstalk.speech.normalize import normalize_for_speech
from newstalk.speech.script import Script
from newstalk.speech.voices import get_voice

SENTENCE_GAP_S = 0.25
LINE_GAP_S = 0.35
CHAPTER_GAP_S = 0.6
TARGET_LUFS = -16.0


class SentenceCache:
    """Synthesized sentences, least recently used dropped first, within ``max_bytes``.

    PCM is kept as float16 (half the memory; its 11-bit precision is far below what the
    Opus and MP3 encoders keep). Safe to share between threads (the speech stage
    synthesizes in a worker thread).
    """

    def __init__(self, max_bytes: int, *, idle_s: float = 0.0) -> None:
        self.max_bytes = max_bytes
        self.idle_s = idle_s
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._last_used = time.monotonic()
        if idle_s > 0:
            memory.releasable(self)

    def release_if_idle(self) -> bool:
        """Empty the cache when no sentence was looked up for ``idle_s`` seconds: what it holds
        serves the full scripts that follow first editions within minutes, so after a quiet
        spell it is mostly memory (``kit.memory``'s periodic trim asks)."""
        with self._lock:
            if self.idle_s <= 0 or not self._items or time.monotonic() - self._last_used < self.idle_s:
                return False
            self._items.clear()
            self.bytes = 0
        return True

    def get(self, key: tuple[str, ...]) -> PCM | None:
        with self._lock:
            self._last_used = time.monotonic()
            pcm = self._items.get(key)
            if pcm is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
        return pcm.astype(np.float32)

    def put(self, key: tuple[str, ...], pcm: PCM) -> None:
        stored = pcm.astype(np.float16)
        if stored.nbytes > self.max_bytes:
            return
        with self._lock:
            self._last_used = time.monotonic()
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            self._items[key] = stored
            self.bytes += stored.nbytes
            while self.bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= dropped.nbytes


# One per process: 48 MB holds about 18 minutes of 22 kHz speech, some 15 stories; emptied
# after 5 minutes without speech (the default NEWSTALK_SPEECH_ENGINE_IDLE_S of the voice).
SENTENCES = SentenceCache(48 * 1024 * 1024, idle_s=300.0)


def engine_version(script: Script) -> str:
    """What identifies the synthesis of a script: the engines and voices its speakers use."""
    parts = []
    for key in script.speakers:
        r = get_voice(key).rendition(script.lang)
        parts.append(f"{key}={r.engine}:{r.voice}:{r.rate}:{r.pitch}")
    return "render-1;" + ";".join(parts)


def render_script(
    engines: Mapping[str, TTSEngine], script: Script, *, cache: SentenceCache | None = SENTENCES
) -> Rendered:
    """Synthesize ``script`` into loudness-normalized PCM with chapters and sentence cues.

    Sentences found in ``cache`` (the process-wide one unless given; None: none) are not
    synthesized again."""
    renditions = {}
    for key in script.speakers:
        r = get_voice(key).rendition(script.lang)
        if r.engine not in engines:
            raise Unavailable(
                f"speech: voice {key!r} needs the {r.engine} engine, which is not available here; "
                f"available: {', '.join(sorted(engines))}"
            )
        renditions[key] = r
    sr = max(engines[r.engine].sample_rate for r in renditions.values()) if renditions else 22050
    sentence_gap = np.zeros(round(SENTENCE_GAP_S * sr), dtype=np.float32)
    line_gap = np.zeros(round(LINE_GAP_S * sr), dtype=np.float32)
    chapter_gap = round(CHAPTER_GAP_S * sr)
    segments: list[tuple[str, PCM]] = []
    cues: list[Cue] = []
    chapter_offset = 0
    for title, lines in script.chapters():
        parts: list[PCM] = []
        offset = 0
        for i, line in enumerate(lines):
            r = renditions[line.speaker]
            engine = engines[r.engine]
            for j, sentence in enumerate(split_sentences(line.text)):
                if i or j:
                    gap = sentence_gap if j else line_gap
                    parts.append(gap)
                    offset += len(gap)
                spoken = normalize_for_speech(sentence, script.lang)
                cache_key = (r.engine, r.voice, str(r.rate), str(r.pitch), str(sr), spoken)
                pcm = cache.get(cache_key) if cache is not None else None
                if pcm is None:
                    pcm = engine.synthesize(spoken, voice=r.voice, rate=r.rate, pitch=r.pitch)
                    pcm = resample(pcm, engine.sample_rate, sr)
                    if cache is not None:
                        cache.put(cache_key, pcm)
                start = chapter_offset + offset
                cues.append(Cue(start / sr, (start + len(pcm)) / sr, sentence))
                parts.append(pcm)
                offset += len(pcm)
        chapter = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        segments.append((title, chapter))
        chapter_offset += len(chapter) + chapter_gap
    pcm_all, chapters = concat_with_chapters(segments, sr, CHAPTER_GAP_S)
    return Rendered(loudness_normalize(pcm_all, sr, TARGET_LUFS), sr, chapters, cues)
