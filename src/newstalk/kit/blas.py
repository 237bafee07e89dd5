"""One BLAS thread for a block of request-path matrix work (the feed's ranking).

OpenBLAS threads spin while they wait for more work; on a busy machine that takes the core
the next request needs (the feed measured p50 65 ms with one thread against 150 ms with two
at load average ~9), so the feed's ranking runs on one thread. On a quiet machine the second
thread wins: benchmarks/feed.py over HTTP gave 96 requests/s with no limit and 82 with this
one (2026-11-26, load ~1.5). A limit for the whole `newstalk api` process was tried and not
kept: it made hybrid search cheaper (77 -> 45-54 ms of CPU per query, 8 in flight 29-30 ->
35-39 queries/s in benchmarks/search.py) and the feed slower still (79 requests/s).

Call it on the event-loop thread: threadpoolctl's OpenBLAS control only honours the thread
that first set a limit. This module imports numpy on purpose: threadpoolctl lists the BLAS
libraries loaded when its controller is made, and a controller made before numpy was
imported would hold no library and make every limit silently do nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy  # noqa: F401 - loads OpenBLAS before the controller lists libraries (see above)
from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread; the previous limit comes back after."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
