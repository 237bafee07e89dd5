"""The query path's encoder: e5 on one OpenMP thread in the search query thread, an LRU of query vectors."""

from __future__ import annotations

import threading

import numpy as np
from threadpoolctl import ThreadpoolController

from newstalk.providers.embeddings import E5SmallEmbeddings
from newstalk.search import service


def openmp_threads() -> int:
    info = ThreadpoolController().select(user_api="openmp").info()
    return int(info[0]["num_threads"]) if info else -1


def test_queries_run_on_one_openmp_thread_and_other_threads_keep_theirs() -> None:
    model = E5SmallEmbeddings()
    model.encode_queries(["load the engine and its OpenMP runtime"])
    before = openmp_threads()
    assert before >= 1
    assert service._query_thread().submit(openmp_threads).result() == 1
    seen: list[int] = []
    other = threading.Thread(target=lambda: seen.append(openmp_threads()))
    other.start()
    other.join()
    assert seen == [before]  # passages embedded elsewhere keep the encoder's own setting
    assert openmp_threads() == before


def test_query_vectors_are_cached_least_recently_used_first_and_equal_fresh_ones() -> None:
    model = E5SmallEmbeddings()
    queries = service.E5Queries(model, cache_size=2)
    fresh = model.encode_queries(["금리 인상", "rail strike"])
    first = queries.encode(["금리 인상", "rail strike", "금리 인상"])
    assert first.shape == (3, 384)
    np.testing.assert_allclose(first[:2], fresh, atol=1e-6)
    np.testing.assert_array_equal(first[0], first[2])
    queries.encode(["금리 인상"])  # now the most recent
    queries.encode(["museum returns"])  # evicts "rail strike", the least recent
    assert list(queries._cache) == ["금리 인상", "museum returns"]
    assert queries.encode([]).shape == (0, 384)
    uncached = service.E5Queries(model)
    np.testing.assert_allclose(uncached.encode(["rail strike"]), fresh[1:], atol=1e-6)
    assert not uncached._cache
