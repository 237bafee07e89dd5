"""Intelligibility as shipped: text -> product normalizer and renderer -> Opus -> recognizers.

Each sentence is spoken the way the product speaks a script line: ``render_script`` (the
same ``normalize_for_speech`` and voice rendition, loudness-normalized), encoded as the
Ogg/Opus file the service stores, decoded again and resampled to 16 kHz. Several
recognizers transcribe it (``speech/recognize.py``): English by Whisper base and tiny.en,
scored by word error rate; Korean by vosk-ko, scored by character error rate. Reference and
transcript both pass through the product normalizer before scoring, so "%" and "percent"
or "9,291" and "9291" agree. ``missed_by_all`` is the share of reference words (Korean:
characters) that no recognizer got right: errors every recognizer makes point at the voice,
errors only one makes point at that recognizer.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newstalk.errors import InvalidInput, NotFound, Unavailable
from newstalk.speech.audio import encode
from newstalk.speech.engines import PCM, TTSEngine, resample
from newstalk.speech.normalize import normalize_for_speech
from newstalk.speech.normalize_en import cardinal
from newstalk.speech.recognize import ASR_RATE, Recognizer, load_recognizer, recognizers_for
from newstalk.speech.render import render_script
from newstalk.speech.script import Line, Script
from newstalk.speech.voices import get_voice

UNITS = {"en": "words", "ko": "chars"}
METRIC = {"en": "wer", "ko": "cer"}


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


def transcribe(pcm: PCM, sample_rate: int) -> str:
    """English transcript of ``pcm`` by Whisper tiny.en (the reference path in benchmarks/speech.py)."""
    return load_recognizer("tiny.en", "en").transcribe(resample(pcm, sample_rate, ASR_RATE))


def score_tokens(text: str, lang: str) -> list[str]:
    """What is compared: words of the product-normalized text (English), or its letters (Korean)."""
    spoken = normalize_for_speech(text, lang)
    if lang == "en":
        return normalize_words(spoken)
    spoken = unicodedata.normalize("NFKC", spoken).lower()
    return [c for c in spoken if c.isalnum()]


def matched(ref: Sequence[str], hyp: Sequence[str]) -> list[bool]:
    """For each reference token, whether a minimal alignment with ``hyp`` keeps it unchanged."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    hits = [False] * n
    i, j = n, m
    while i and j:
        if ref[i - 1] == hyp[j - 1] and d[i][j] == d[i - 1][j - 1]:
            hits[i - 1] = True
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j - 1] + 1:
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return hits


def speak_as_shipped(
    engines: Mapping[str, TTSEngine], text: str, *, voice: str, lang: str
) -> tuple[PCM, float]:
    """The product's audio for ``text`` as a one-line script, through Opus and back, at 16 kHz; and synthesis seconds."""
    import soundfile

    script = Script(kind="text", lang=lang, form="solo", title="", lines=(Line(voice, text, ""),))
    started = time.perf_counter()
    rendered = render_script(engines, script)
    data = encode(rendered.pcm, rendered.sample_rate, "opus")
    synth_s = time.perf_counter() - started
    decoded, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    if decoded.ndim > 1:
        decoded = decoded.mean(axis=1)
    return resample(decoded.astype(np.float32), int(rate), ASR_RATE), synth_s


def _default_engines() -> dict[str, TTSEngine]:
    from newstalk.config import load_settings
    from newstalk.speech.engines import available_engines

    return available_engines(load_settings())


def _recognizers(lang: str, given: Sequence[str | Recognizer] | None) -> list[Recognizer]:
    if not given:
        return recognizers_for(lang)
    return [load_recognizer(r, lang) if isinstance(r, str) else r for r in given]


def evaluate_speech(
    path: Path,
    *,
    voice: str,
    lang: str,
    engines: Mapping[str, TTSEngine] | None = None,
    recognizers: Sequence[str | Recognizer] | None = None,
    start: int = 1,
    limit: int | None = None,
    worst: int = 5,
) -> dict[str, Any]:
    """Round-trip sentences ``start``.. of ``path`` through the voice as shipped and every recognizer."""
    if lang not in ("en", "ko"):
        raise InvalidInput(f"eval speech: --lang must be en or ko, not {lang!r}")
    if start < 1:
        raise InvalidInput(f"eval speech: --start counts sentences from 1, not {start}")
    rendition = get_voice(voice).rendition(lang)
    engines = engines if engines is not None else _default_engines()
    if rendition.engine not in engines:
        raise Unavailable(
            f"eval speech: voice {voice!r} needs the {rendition.engine} engine, which is not "
            f"available here (have: {', '.join(engines)})"
        )
    recs = _recognizers(lang, recognizers)
    every = read_sentences(path)
    sentences = every[start - 1 : start - 1 + limit if limit is not None else None]
    if not sentences:
        raise InvalidInput(f"eval speech: {path} has {len(every)} sentences; --start {start} is past the end")
    synth_s = audio_s = asr_s = 0.0
    silent = syllables = units = missed = 0
    errors = dict.fromkeys((r.name for r in recs), 0)
    rows: list[dict[str, Any]] = []
    for sentence in sentences:
        syllables += sum("\uac00" <= ch <= "\ud7a3" for ch in normalize_for_speech(sentence, lang))
        audio, took = speak_as_shipped(engines, sentence, voice=voice, lang=lang)
        synth_s += took
        audio_s += len(audio) / ASR_RATE
        if audio.size == 0 or float(np.abs(audio).max()) < 1e-3:
            silent += 1
        ref = score_tokens(sentence, lang)
        units += len(ref)
        hit = [False] * len(ref)
        row: dict[str, Any] = {"ref": sentence, "spoken": normalize_for_speech(sentence, lang), "hyp": {}}
        row_errors = 0
        for rec in recs:
            t0 = time.perf_counter()
            text = rec.transcribe(audio)
            asr_s += time.perf_counter() - t0
            hyp = score_tokens(text, lang)
            dist = edit_distance(ref, hyp)
            errors[rec.name] += dist
            row_errors += dist
            row["hyp"][rec.name] = text
            hit = [a or b for a, b in zip(hit, matched(ref, hyp), strict=True)]
        missed += hit.count(False)
        row["error_rate"] = round(row_errors / max(1, len(ref) * len(recs)), 4)
        rows.append(row)
    metric, unit = METRIC[lang], UNITS[lang]
    scores = {name: {metric: round(e / max(1, units), 4), "errors": e} for name, e in errors.items()}
    result: dict[str, Any] = {
        "voice": voice,
        "lang": lang,
        "engine": rendition.engine,
        "path": "product: normalize_for_speech + render_script + Opus",
        "start": start,
        "n": len(sentences),
        unit: units,
        "recognizers": [r.name for r in recs],
        metric: scores[recs[0].name][metric],
        "scores": scores,
        "missed_by_all": round(missed / max(1, units), 4),
        "audio_s": round(audio_s, 2),
        "silent": silent,
        "real_time_factor": round(synth_s / audio_s, 4) if audio_s else None,
        "asr_real_time_factor": round(asr_s / audio_s, 4) if audio_s else None,
        "worst": sorted(rows, key=lambda r: -float(r["error_rate"]))[:worst],
    }
    if lang == "ko":
        # Korean news is read at roughly 5 to 7 syllables a second.
        result["syllables_per_s"] = round(syllables / audio_s, 2) if audio_s else None
    return result


def format_result(result: Mapping[str, Any]) -> str:
    """A few human-readable lines for a terminal."""
    metric, unit = METRIC[result["lang"]], UNITS[result["lang"]]
    scores = ", ".join(f"{name} {s[metric]:.3f}" for name, s in result["scores"].items())
    lines = [
        f"{result['voice']} ({result['lang']}, {result['engine']}): sentences {result['start']}.."
        f"{result['start'] + result['n'] - 1} (n={result['n']}, {result[unit]} {unit})",
        f"{metric.upper()} {scores}; missed by all recognizers {result['missed_by_all']:.3f}",
        f"audio {result['audio_s']} s, synthesis real-time factor {result['real_time_factor']}",
    ]
    for row in result.get("worst", []):
        if row["error_rate"] > 0:
            lines.append(f"  {row['error_rate']:.2f}  ref: {row['ref']}")
            for name, hyp in row["hyp"].items():
                lines.append(f"        {name}: {hyp}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newstalk.speech.evaluate FILE --voice V --lang en|ko [--start N] [--limit N] [--json]``."""
    parser = argparse.ArgumentParser(prog="newstalk eval speech", description=main.__doc__)
    parser.add_argument("sentences", type=Path)
    parser.add_argument("--voice", default="anchor")
    parser.add_argument("--lang", default="en", choices=("en", "ko"))
    parser.add_argument("--start", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--recognizer", action="append", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = evaluate_speech(
        args.sentences,
        voice=args.voice,
        lang=args.lang,
        recognizers=args.recognizer,
        start=args.start,
        limit=args.limit,
    )
    print(json.dumps(result, ensure_ascii=False) if args.json else format_result(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
