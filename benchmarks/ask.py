"""Questions about a story: answer latency and how often the cited sentence holds the answer.

Run: ``flock /tmp/newstalk-heavy.lock nice -n 5 .venv/bin/python benchmarks/ask.py``
(``--calibrate`` prints the threshold sweep over the calibration half instead).
Prints one markdown table on stdout; progress goes to stderr.

No public question-answering set over Korean and English news is reachable here, so the
questions are derived from real text, and the set is small. Stories:

- bilingual: 8 consecutive lines of ``ko-en-news-parallel`` (aligned Korean/English news
  sentences) make one story with two outlets, the Korean lines as one article and their
  English translations as the other;
- English: one BBC article (``bbc_news.jsonl``) with a second article of the same category
  as another outlet.

An answerable question is a sentence of the story that holds a number, with the number
replaced by "how many" / "몇" (a cloze question: it shares more words with its sentence
than a listener's question would, which flatters lexical matching). Its answer is the
number, and a hit means a cited sentence contains that number or is the sentence's
translation. An unanswerable question is built the same way from a story far away in the
corpus and asked of this one; the right outcome is "the coverage doesn't say". Korean
questions are also asked of the bilingual stories' English side alone (cross-lingual).

Stories with an even index form the calibration half, odd ones the evaluation half. The
default table reports the evaluation half at the shipped thresholds (``ask.answer``) and
at the cut that scores best on the calibration half (the mean of the two shares), so a
threshold is never measured on the questions that chose it; ``--calibrate`` prints the
whole sweep over the calibration half. Every question is answered once with no threshold
and each cut applied afterwards (a cut answers when the best sentence in the question's
script reaches the threshold, or one in the other script the cross-script threshold).
Latency is ``Answerer.answer`` per question over both halves (Kiwi, e5 embeddings of the
story's sentences, cached across a story's questions as in the API process), on a shared
2-core machine.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "data" / "news"
sys.path.insert(0, str(ROOT / "src"))

from newstalk.ask.answer import CROSS_THRESHOLD, THRESHOLD, Answerer, question_language  # noqa: E402
from newstalk.factcheck.checker import Checker, Document, same_script  # noqa: E402
from newstalk.factcheck.features import LruEncoder  # noqa: E402
from newstalk.providers.embeddings import E5SmallEmbeddings  # noqa: E402

_NUMBER = re.compile(r"\d[\d,.]*\d|\d")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


@dataclass
class Question:
    text: str
    answer: str | None  # None: unanswerable
    gold: tuple[str, ...] = ()  # sentences that count as holding the answer
    kind: str = ""


@dataclass
class Story:
    docs: list[Document]
    sentences: list[tuple[str, str]]  # (language, sentence) with a number, for questions


def _doc(i: int, outlet: str, lang: str, text: str) -> Document:
    return Document(i, hash(outlet) % 10_000, outlet, f"https://example.org/{outlet}/{i}", lang, "", text)


def cloze(sentence: str, lang: str) -> tuple[str, str] | None:
    """(question, answer): the sentence's first number replaced by a question word."""
    m = _NUMBER.search(sentence)
    if m is None or len(sentence) < 30:
        return None
    word = "몇" if lang == "ko" else "how many"
    q = sentence[: m.start()] + word + sentence[m.end() :]
    return q.rstrip(" .") + "?", m.group(0)


def load(seed: int, n_parallel: int, n_bbc: int) -> list[tuple[Story, list[tuple[str, str, str]]]]:
    """Stories with the (lang, sentence, translation) triples that hold numbers."""
    ko = (
        (NEWS / "ko-en-news-parallel" / "korean-english-park.dev.ko").read_text(encoding="utf-8").splitlines()
    )
    en = (
        (NEWS / "ko-en-news-parallel" / "korean-english-park.dev.en").read_text(encoding="utf-8").splitlines()
    )
    out: list[tuple[Story, list[tuple[str, str, str]]]] = []
    step = max(8, len(ko) // max(1, n_parallel))
    for k in range(n_parallel):
        lo = k * step
        ko_lines, en_lines = ko[lo : lo + 8], en[lo : lo + 8]
        docs = [
            _doc(2 * k, "연합", "ko", "\n".join(ko_lines)),
            _doc(2 * k + 1, "Wire", "en", "\n".join(en_lines)),
        ]
        triples = [("ko", a, b) for a, b in zip(ko_lines, en_lines, strict=True)] + [
            ("en", b, a) for a, b in zip(ko_lines, en_lines, strict=True)
        ]
        out.append((Story(docs, []), triples))
    rng = random.Random(seed)
    by_cat: dict[str, list[str]] = {}
    with (NEWS / "bbc_news.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            by_cat.setdefault(row["category"], []).append(row["body"])
    cats = sorted(by_cat)
    for k in range(n_bbc):
        a, b = rng.sample(by_cat[cats[k % len(cats)]], 2)
        docs = [_doc(10_000 + 2 * k, "BBC", "en", a), _doc(10_001 + 2 * k, "Other", "en", b)]
        triples = [("en", s, s) for s in re.split(r"(?<=[.!?])\s+", a.replace("\n", " "))[:30]]
        out.append((Story(docs, []), triples))
    return out


def questions_for(
    stories: list[tuple[Story, list[tuple[str, str, str]]]], idx: int, rng: random.Random, per_story: int
) -> list[tuple[list[Document], Question]]:
    story, triples = stories[idx]
    made: list[tuple[list[Document], Question]] = []
    usable = [(lang, s, t, c) for lang, s, t in triples if (c := cloze(s, lang)) is not None]
    rng.shuffle(usable)
    for lang, s, t, (q, ans) in usable[:per_story]:
        made.append((story.docs, Question(q, ans, (s, t), f"answerable-{lang}")))
        if lang == "ko" and len(story.docs) == 2 and story.docs[1].language == "en" and s != t:
            made.append(([story.docs[1]], Question(q, ans, (t,), "answerable-ko-to-en")))
    far = stories[(idx + len(stories) // 2) % len(stories)][1]
    far_usable = [(lang, s) for lang, s, _ in far if cloze(s, lang) is not None]
    rng.shuffle(far_usable)
    for lang, s in far_usable[:per_story]:
        c = cloze(s, lang)
        assert c is not None
        made.append((story.docs, Question(c[0], None, (), f"unanswerable-{lang}")))
    return made


def hit(q: Question, quotes: list[str]) -> bool:
    assert q.answer is not None
    return any(q.answer in c or any(c.strip() and c.strip() in g for g in q.gold) for c in quotes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parallel-stories", type=int, default=24)
    parser.add_argument("--bbc-stories", type=int, default=12)
    parser.add_argument("--per-story", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--calibrate", action="store_true", help="sweep thresholds on the calibration half")
    args = parser.parse_args()

    stories = load(args.seed, args.parallel_stories, args.bbc_stories)
    rng = random.Random(args.seed)
    halves = {
        half: [
            x
            for i in range(len(stories))
            if i % 2 == half
            for x in questions_for(stories, i, rng, args.per_story)
        ]
        for half in (0, 1)
    }
    log(f"{len(halves[0])} calibration and {len(halves[1])} evaluation questions over {len(stories)} stories")
    checker = Checker(verifier=None, embeddings=LruEncoder(E5SmallEmbeddings()))  # type: ignore[arg-type]
    # Everything is answered (thresholds below any score) and each cut is applied afterwards:
    # a cut (t, tc) answers when the best sentence in the question's script reaches t or one
    # in the other script reaches tc. Answering costs the same whatever the cut.
    answerer = Answerer(checker, threshold=-1.0, cross_threshold=-1.0)
    answerer.answer("warm up", halves[0][0][0])
    rows: dict[int, list[Row]] = {0: [], 1: []}
    for half, items in halves.items():
        if args.calibrate and half == 1:
            break  # the sweep reads the calibration half only
        for n, (docs, q) in enumerate(items, 1):
            t0 = time.perf_counter()
            a = answerer.answer(q.text, docs)
            dt = time.perf_counter() - t0
            ranked, _ = answerer.rank(q.text, docs)
            qlang = question_language(q.text)
            same = max((p.relevance for p in ranked if same_script(p.doc.language, qlang)), default=-1.0)
            cross = max((p.relevance for p in ranked if not same_script(p.doc.language, qlang)), default=-1.0)
            ok = q.answer is not None and hit(q, [c.quote for c in a.citations])
            rows[half].append(Row(q, same, cross, ok, dt))
            if n % 25 == 0:
                log(f"half {half}: {n}/{len(items)}")

    grid = [(t / 100, tc / 100) for t in range(80, 95) for tc in range(76, 92, 2)]
    if args.calibrate:
        print(
            "| threshold | cross-script threshold | answerable: cited sentence holds the answer "
            "| unanswerable: says it doesn't know | balanced |"
        )
        print("|---|---|---|---|---|")
        for t, tc in grid:
            a_rate, u_rate = rates(rows[0], t, tc)
            print(f"| {t:.2f} | {tc:.2f} | {a_rate:.1%} | {u_rate:.1%} | {(a_rate + u_rate) / 2:.1%} |")
        return

    chosen = max(grid, key=lambda c: (sum(rates(rows[0], *c)), -abs(c[0] - THRESHOLD)))
    ev = rows[1]

    def share(cut: tuple[float, float], *kinds: str) -> str:
        sel = [r for r in ev if r.q.kind in kinds]
        if not sel:
            return "n/a"
        if kinds[0].startswith("unanswerable"):
            good = sum(1 for r in sel if not r.found(*cut))
        else:
            good = sum(1 for r in sel if r.found(*cut) and r.ok)
        return f"{good / len(sel):.1%} of {len(sel)}"

    shipped = (THRESHOLD, CROSS_THRESHOLD)
    lat = sorted(r.seconds * 1000 for r in rows[0] + rows[1])
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
    print(f"| metric (evaluation half, thresholds {shipped[0]} / cross-script {shipped[1]}) | value |")
    print("|---|---|")
    print(f"| questions (evaluation half) | {len(ev)} over {len(stories) // 2} stories |")
    print(
        f"| best cut on the calibration half (threshold / cross-script) | {chosen[0]:.2f} / {chosen[1]:.2f} |"
    )
    print(f"| answer latency p50, all {len(lat)} questions | {statistics.median(lat):.0f} ms |")
    print(f"| answer latency p95 | {p95:.0f} ms |")
    print(f"| cited sentence holds the answer, Korean questions | {share(shipped, 'answerable-ko')} |")
    print(f"| cited sentence holds the answer, English questions | {share(shipped, 'answerable-en')} |")
    print(
        "| cited sentence holds the answer, Korean question, English-only story "
        f"| {share(shipped, 'answerable-ko-to-en')} |"
    )
    all_kinds = ("answerable-ko", "answerable-en", "answerable-ko-to-en")
    print(f"| cited sentence holds the answer, all answerable | {share(shipped, *all_kinds)} |")
    print(
        f"| says the coverage doesn't say, unanswerable | {share(shipped, 'unanswerable-ko', 'unanswerable-en')} |"
    )
    print(f"| all answerable, at the calibration half's best cut | {share(chosen, *all_kinds)} |")
    print(
        f"| unanswerable, at the calibration half's best cut | {share(chosen, 'unanswerable-ko', 'unanswerable-en')} |"
    )


@dataclass
class Row:
    q: Question
    same: float  # best relevance among sentences in the question's script
    cross: float  # ... in the other script
    ok: bool  # a cited sentence holds the answer, when everything is answered
    seconds: float

    def found(self, t: float, tc: float) -> bool:
        return self.same >= t or self.cross >= tc


def rates(rows: list[Row], t: float, tc: float) -> tuple[float, float]:
    """(share of answerable questions answered with the right sentence, share of unanswerable refused)."""
    ans = [r for r in rows if r.q.answer is not None]
    una = [r for r in rows if r.q.answer is None]
    a_rate = sum(1 for r in ans if r.found(t, tc) and r.ok) / max(1, len(ans))
    u_rate = sum(1 for r in una if not r.found(t, tc)) / max(1, len(una))
    return a_rate, u_rate


if __name__ == "__main__":
    main()
