"""What embedding one search query costs on the query path: e5 with the encoder's OpenMP threads
against the search query thread (one OpenMP thread), distinct 2-3 word queries, no cache.

Runs ``E5SmallEmbeddings.encode_queries`` (what ``search.service.E5Queries`` calls on a cache
miss) on a plain worker thread and on ``search.service._query_thread()``, interleaved, and
prints one markdown table with the load average (the difference shows when the cores are
shared: OpenMP threads wait for each other at every layer).

    .venv/bin/python benchmarks/search_query.py [--queries 200]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from newstalk.providers.embeddings import E5SmallEmbeddings
from newstalk.search import service

WORDS = [
    "rate", "bank", "election", "battery", "fire", "market", "talks", "inflation", "court", "energy",
    "strike", "budget", "trade", "climate", "police", "school", "museum", "river",
    "금리", "선거", "배터리", "시장", "법원", "에너지", "파업", "예산", "무역", "기후",
]  # fmt: skip


def queries(n: int) -> list[str]:
    """n distinct queries of two or three words, English and Korean mixed."""
    pairs = [" ".join(p) for p in itertools.permutations(WORDS, 2)]
    triples = [" ".join(p) for p in itertools.islice(itertools.permutations(WORDS, 3), 0, None, 7)]
    out = pairs + triples
    random.Random(7).shuffle(out)
    return out[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    model = E5SmallEmbeddings()
    plain = ThreadPoolExecutor(1)
    query = service._query_thread()
    for pool in (plain, query):
        pool.submit(model.encode_queries, ["warm up"]).result()
    times: dict[str, list[float]] = {"encoder threads": [], "query thread (1 OpenMP thread)": []}
    for i, q in enumerate(queries(2 * args.queries)):
        name, pool = (list(times)[i % 2], plain if i % 2 == 0 else query)
        start = time.perf_counter()
        pool.submit(model.encode_queries, [q]).result()
        times[name].append((time.perf_counter() - start) * 1000)
    load = os.getloadavg()
    print("| where | p50 (ms) | p95 (ms) |")
    print("|---|---:|---:|")
    for name, ts in times.items():
        ts.sort()
        print(f"| {name} | {statistics.median(ts):.1f} | {ts[max(0, int(0.95 * len(ts)) - 1)]:.1f} |")
    print(
        f"\n{args.queries} distinct queries each, interleaved; {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}."
    )


if __name__ == "__main__":
    main()
