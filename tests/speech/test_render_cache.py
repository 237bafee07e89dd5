"""A story spoken again after its script changed synthesizes only the new sentences."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from newstalk.kit import memory
from newstalk.speech.engines import PCM, EspeakEngine
from newstalk.speech.render import SentenceCache, render_script
from newstalk.speech.script import Line, Script


class CountingEspeak(EspeakEngine):
    """The real espeak-ng engine, counting what it is asked to say."""

    def __init__(self) -> None:
        super().__init__()
        self.spoken: list[str] = []

    def synthesize(self, text: str, **kwargs: Any) -> PCM:
        self.spoken.append(text)
        return super().synthesize(text, **kwargs)


def story(verdict: str) -> Script:
    chapter = "물가 상승"
    return Script(
        "story",
        "ko",
        "solo",
        chapter,
        (
            Line("anchor", "소비자물가가 3개월 연속 올랐습니다.", chapter),
            Line(
                "anchor",
                "통계청은 11월 물가가 2.4% 상승했다고 밝혔습니다. 외식비가 가장 많이 올랐습니다.",
                chapter,
            ),
            Line("anchor", verdict, chapter),
        ),
        (7,),
    )


def test_an_updated_story_synthesizes_only_its_new_sentence() -> None:
    engine, cache = CountingEspeak(), SentenceCache(8 * 1024 * 1024)
    engines = {engine.name: engine}
    first = render_script(engines, story("세 곳의 언론사가 보도했습니다."), cache=cache)
    assert len(engine.spoken) == 4

    engine.spoken.clear()
    updated = story("다섯 곳의 언론사가 보도했고, 수치는 서로 일치합니다.")
    again = render_script(engines, updated, cache=cache)
    assert len(engine.spoken) == 1
    assert "다섯" in engine.spoken[0]
    assert (cache.hits, cache.misses) == (3, 5)

    # The kept sentences are the very audio spoken before (same cues), and the whole is as
    # long as a fresh synthesis within 50 ms (espeak's lengths vary by a few ms run to run).
    fresh = render_script(engines, updated, cache=None)
    cues = [(c.text, c.start_s, c.end_s) for c in again.cues]
    assert cues[:3] == [(c.text, c.start_s, c.end_s) for c in first.cues[:3]]
    assert [c.text for c in again.cues] == [c.text for c in fresh.cues]
    assert abs(again.duration_s - fresh.duration_s) < 0.05


def test_the_cache_stays_within_its_budget() -> None:
    cache = SentenceCache(max_bytes=3 * 1000 * 2)  # three 1000-sample sentences as float16
    for i in range(5):
        cache.put(("espeak", "ko", "1.0", "1.0", "22050", f"문장 {i}"), np.full(1000, 0.1, dtype=np.float32))
    assert cache.bytes <= cache.max_bytes
    assert cache.get(("espeak", "ko", "1.0", "1.0", "22050", "문장 0")) is None
    kept = cache.get(("espeak", "ko", "1.0", "1.0", "22050", "문장 4"))
    assert kept is not None
    assert kept.dtype == np.float32
    assert abs(float(kept[0]) - 0.1) < 1e-3
    cache.put(("big",), np.zeros(10_000, dtype=np.float32))  # larger than the whole budget: not kept
    assert cache.get(("big",)) is None


def test_the_cache_is_emptied_after_a_quiet_spell() -> None:
    key = ("espeak", "ko", "1.0", "1.0", "22050", "문장")
    cache = SentenceCache(max_bytes=1 << 20, idle_s=0.05)
    cache.put(key, np.full(1000, 0.1, dtype=np.float32))
    assert not cache.release_if_idle()  # used just now
    time.sleep(0.1)
    assert memory.release_idle() >= 1  # the periodic trim offers it the chance (kit/memory.py)
    assert cache.bytes == 0
    assert cache.get(key) is None
    kept = SentenceCache(max_bytes=1 << 20)  # idle_s 0: never emptied
    kept.put(key, np.zeros(10, dtype=np.float32))
    time.sleep(0.01)
    assert not kept.release_if_idle()
    assert kept.get(key) is not None
