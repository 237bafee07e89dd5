"""Where the memory of ``newstalk up`` goes: each model and runtime loaded in turn, RSS after each.

Run: ``.venv/bin/python benchmarks/memory_parts.py [--data ../shared/data]``.

Loads, in one fresh interpreter and in the order the stages of ``newstalk up`` first use
them, the application, the shared e5 embeddings, Kiwi, the fact-check verifier and its
numpy cross-encoder, the language detector, piper's voice and espeak-ng, and uses each on
real text from ``../shared/data`` (Korean and English news, KLUE-NLI pairs) the way the
product does (the same provider classes and builders, not the libraries directly). After
each step it reads ``/proc/self/status``: ``VmRSS`` (and its anonymous and file-backed
parts) and ``VmHWM`` (the peak so far). Prints one markdown table on stdout. Each row is
the process as it is after that step, so a row's delta is what the step added to a
process that already holds the rows above it (libraries loaded earlier are shared).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def status() -> dict[str, float]:
    """``VmRSS``, ``RssAnon``, ``RssFile`` and ``VmHWM`` of this process, in MB."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(rest.split()[0]) / 1024
    return out


def korean_texts(data: Path, n: int) -> list[str]:
    lines = (data / "news/ko-news-soynlp/doublespace_line_corpus_sample.txt").read_text().splitlines()
    return [" ".join(line.split()) for line in lines if line.strip()][:n]


def english_texts(data: Path, n: int) -> list[str]:
    out = []
    with (data / "news/bbc_news.jsonl").open() as f:
        for line in f:
            row = json.loads(line)
            out.append(f"{row['title']}. {row['body']}")
            if len(out) >= n:
                break
    return out


def nli_pairs(data: Path, n: int) -> list[tuple[str, str]]:
    folder = data / "factcheck/klue-nli-dev"
    path = next(p for p in sorted(folder.iterdir()) if p.suffix in (".json", ".jsonl"))
    text = path.read_text()
    rows = json.loads(text) if path.suffix == ".json" else [json.loads(x) for x in text.splitlines() if x]
    return [(str(r["hypothesis"]), str(r["premise"])) for r in rows[:n]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--texts", type=int, default=200, help="Korean and English texts per step")
    args = parser.parse_args(argv)
    ko = korean_texts(args.data, args.texts)
    en = english_texts(args.data, args.texts)
    pairs = nli_pairs(args.data, 64)
    state: dict[str, object] = {}
    rows: list[tuple[str, dict[str, float], float]] = []

    def step(name: str, fn: Callable[[], object]) -> None:
        started = time.monotonic()
        fn()
        gc.collect()
        rows.append((name, status(), time.monotonic() - started))
        print(f"[memory_parts] {name}: {rows[-1][1]}", file=sys.stderr, flush=True)

    def app() -> None:
        from newstalk.config import load_settings
        from newstalk.main import create_app

        state["settings"] = load_settings()
        state["app"] = create_app()

    def embeddings() -> None:
        from newstalk.kit.resources import Resources
        from newstalk.providers.embeddings import shared_embeddings

        resources = Resources()
        enc = shared_embeddings(resources, state["settings"])  # type: ignore[arg-type]
        enc.encode([t[:500] for t in ko[:16] + en[:16]])
        state["resources"], state["embeddings"] = resources, enc

    def kiwi() -> None:
        from newstalk.stories import text

        for t in ko:
            text.words(t[:300], "ko")
            text.nouns(t, "ko")

    def claims() -> None:
        from newstalk.factcheck.claims import detect_claims

        for t in ko[:50] + en[:50]:
            detect_claims(t, "ko" if t in ko else "en")

    def verifier() -> None:
        from newstalk.factcheck.features import LruEncoder
        from newstalk.factcheck.verifiers.local import build

        state["verifier"] = build(state["settings"], LruEncoder(state["embeddings"]))  # type: ignore[arg-type]

    def cross() -> None:
        cross_encoder = state["verifier"].cross_encoder()  # type: ignore[attr-defined]
        if cross_encoder is not None:
            cross_encoder.predict(pairs[:32])

    def langid() -> None:
        from newstalk.ingestion.language import detect_language

        for t in ko[:50] + en[:50]:
            detect_language(t)

    def piper() -> None:
        from newstalk.speech.engines import PiperEngine

        engine = PiperEngine()
        for t in en[:5]:
            engine.synthesize(t[:400])
        state["piper"] = engine

    def espeak() -> None:
        from newstalk.speech.engines import EspeakEngine

        engine = EspeakEngine()
        for t in ko[:5]:
            engine.synthesize(t[:200], voice="ko")
        state["espeak"] = engine

    rows.append(("python, numpy", status(), 0.0))
    step("import newstalk.main, create_app()", app)
    step("e5 embeddings (shared provider), 32 texts", embeddings)
    step(f"Kiwi: words and nouns of {len(ko)} Korean texts", kiwi)
    step("claim detection, 100 texts", claims)
    step("verifier (feature model)", verifier)
    step("numpy cross-encoder, 32 KLUE-NLI pairs", cross)
    step("language id, 100 texts", langid)
    step("piper voice (onnxruntime), 5 texts", piper)
    step("espeak-ng, 5 Korean texts", espeak)
    step("glibc malloc_trim(0)", lambda: ctypes.CDLL("libc.so.6").malloc_trim(0))

    lines = [
        "| after | RSS MB | delta MB | anon MB | file MB | peak so far MB | s |",
        "|---|---|---|---|---|---|---|",
    ]
    prev = 0.0
    for name, st, secs in rows:
        lines.append(
            f"| {name} | {st['VmRSS']:.0f} | {st['VmRSS'] - prev:+.0f} | {st['RssAnon']:.0f} | "
            f"{st['RssFile']:.0f} | {st['VmHWM']:.0f} | {secs:.1f} |"
        )
        prev = st["VmRSS"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
