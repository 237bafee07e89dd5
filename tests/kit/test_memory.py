from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from newstalk.kit.memory import release_free_memory, trim_periodically


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim; reads /proc")
def test_release_free_memory_returns_freed_heap_to_the_os() -> None:
    # Blocks of glibc's heap (above pymalloc's 512 bytes, below mmap's 128 KB) freed between
    # kept ones stay in its free lists until trimmed.
    code = textwrap.dedent(
        """
        import sys
        sys.path[:0] = [p for p in sys.argv[1:]]
        from newstalk.kit.memory import release_free_memory
        def rss():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        keep, drop = [], []
        for i in range(60_000):
            (keep if i % 64 == 0 else drop).append(bytearray(2000))
        del drop
        before = rss()
        assert release_free_memory()
        print(before, rss())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *sys.path], capture_output=True, text=True, check=True, timeout=120
    )
    before, after = (int(x) for x in out.stdout.split())
    assert after < before - 50_000  # at least 50 of the ~115 MB freed went back


def test_trim_periodically_stops_with_the_event() -> None:
    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(trim_periodically(0.01, stop))
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(run())
    assert release_free_memory() in (True, False)
    assert _rss_kb() > 0
