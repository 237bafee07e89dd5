"""Kiwi with and without its multi-word dictionary: memory, and how Korean tokens change.

Run: ``.venv/bin/python benchmarks/kiwi_dict.py [--data ../shared/data]``.

Tokenizes real Korean news (``news/ko-news-soynlp``, 482 articles, and the Korean side of
``news/ko-en-news-parallel``, 1,000 sentences) with ``Kiwi()`` (every dictionary) and with
``Kiwi(load_multi_dict=False)`` (what ``stories.text.kiwi`` builds unless
``NEWSTALK_KIWI_MULTIWORD_DICT`` is on), each in a fresh process so its resident memory can
be read. Compares what the product takes from Kiwi: content words and nouns (the tags of
``stories.text``), proper nouns (NNP), and sentence splits (``split_into_sents``, as claim
detection uses it). Prints one markdown table and the nouns that changed most.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORD_TAGS = {"NNG", "NNP", "VV", "VA", "SN", "SL"}
NOUN_TAGS = {"NNG", "NNP", "SL"}

CHILD = """
import json, sys
from kiwipiepy import Kiwi
texts = json.load(sys.stdin)
kiwi = Kiwi(load_multi_dict=sys.argv[1] == "1")
words = set(json.loads(sys.argv[2])); nouns = set(json.loads(sys.argv[3]))
out = []
for t in texts:
    toks = [(x.form, x.tag.split("-", 1)[0]) for x in kiwi.tokenize(t)]
    out.append({
        "words": [f for f, g in toks if g in words],
        "nouns": [f for f, g in toks if g in nouns],
        "nnp": [f for f, g in toks if g == "NNP"],
        "sents": [s.text for s in kiwi.split_into_sents(t[:2000])],
    })
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
print(json.dumps({"rss_mb": rss / 1024, "out": out}, ensure_ascii=False))
"""


def korean_texts(data: Path) -> list[str]:
    soynlp = (data / "news/ko-news-soynlp/doublespace_line_corpus_sample.txt").read_text(encoding="utf-8")
    park = (data / "news/ko-en-news-parallel/korean-english-park.dev.ko").read_text(encoding="utf-8")
    return [" ".join(line.split()) for line in soynlp.splitlines() if line.strip()] + [
        line.strip() for line in park.splitlines() if line.strip()
    ]


def run(texts: list[str], multi: bool) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            "1" if multi else "0",
            json.dumps(sorted(WORD_TAGS)),
            json.dumps(sorted(NOUN_TAGS)),
        ],
        input=json.dumps(texts, ensure_ascii=False),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def jaccard(x: list[str], y: list[str]) -> float:
    a, b = collections.Counter(x), collections.Counter(y)
    union = sum((a | b).values())
    return sum((a & b).values()) / union if union else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    texts = korean_texts(args.data)
    full, lean = run(texts, True), run(texts, False)
    a, b = full["out"], lean["out"]
    assert isinstance(a, list)
    assert isinstance(b, list)
    lines = [
        f"| {len(texts)} Korean texts | with multi-word dictionary | without (default) |",
        "|---|---|---|",
        f"| resident memory after tokenizing all (MB) | {full['rss_mb']:.0f} | {lean['rss_mb']:.0f} |",
    ]
    for key, label in (
        ("words", "content words"),
        ("nouns", "nouns"),
        ("nnp", "proper nouns (NNP)"),
        ("sents", "sentence splits"),
    ):
        same = sum(1 for p, q in zip(a, b, strict=True) if p[key] == q[key])
        mean = sum(jaccard(p[key], q[key]) for p, q in zip(a, b, strict=True)) / len(a)
        lines.append(
            f"| {label}: texts identical / mean multiset Jaccard | (reference) | "
            f"{same}/{len(a)} ({100 * same / len(a):.1f} %) / {mean:.4f} |"
        )
    changed: collections.Counter[str] = collections.Counter()
    for p, q in zip(a, b, strict=True):
        x, y = collections.Counter(p["nouns"]), collections.Counter(q["nouns"])
        changed.update(f"-{t}" for t in (x - y).elements())
        changed.update(f"+{t}" for t in (y - x).elements())
    print("\n".join(lines))
    print()
    print(
        "Nouns changed most (- only with the dictionary, + only without): "
        + ", ".join(f"{t} ({n})" for t, n in changed.most_common(12))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
