"""One BLAS thread for request-path matrix work.

The API's matrices (feed ranking, search's matrix-vector product over every document) are
small enough that a second OpenBLAS thread saves a few milliseconds of wall time, and
OpenBLAS threads spin while they wait for more work, burning the core the next request
needs. Measured with benchmarks/search.py (2 cores): a hybrid query cost 77 ms of CPU with
two BLAS threads and 45-54 ms with one; 8 queries in flight went from 29-30 to 35-39 a second.

``newstalk api`` sets one BLAS thread for the whole process at start
(``one_blas_thread_for_process``), which covers products run in worker threads (search).
``newstalk up`` keeps the default: its pipeline stages run larger products in the same
process. ``one_blas_thread`` scopes the limit to a block (the feed's ranking, which also
runs in ``up`` and in the simulation). Both belong on the main or event-loop thread:
threadpoolctl changes OpenBLAS's process-wide setting, and a limit set from a worker thread
did not apply there after the main thread had set one (measured with OpenBLAS 0.3.31).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread; the previous limit comes back after."""
    with _controller().limit(limits=1, user_api="blas"):
        yield


def one_blas_thread_for_process() -> None:
    """Limit BLAS to one thread from now on (call on the main thread, before serving)."""
    _controller().limit(limits=1, user_api="blas")
