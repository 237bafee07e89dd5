"""The one-BLAS-thread block: applies inside, nests, and gives the previous limit back."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from newstalk.kit.blas import one_blas_thread


def _blas_threads() -> set[int]:
    return {lib.num_threads for lib in ThreadpoolController().select(user_api="blas").lib_controllers}


@pytest.fixture
def two_blas_threads() -> Iterator[None]:
    np.ones(2) @ np.ones(2)  # numpy's BLAS is loaded with numpy; this keeps the import used
    controller = ThreadpoolController()
    if not controller.select(user_api="blas").lib_controllers:
        pytest.skip("numpy has no BLAS library threadpoolctl can control")
    with controller.limit(limits=2, user_api="blas"):
        yield


@pytest.mark.usefixtures("two_blas_threads")
def test_limit_applies_inside_nests_and_is_restored() -> None:
    assert _blas_threads() == {2}
    with one_blas_thread():
        assert _blas_threads() == {1}
        with one_blas_thread():
            assert _blas_threads() == {1}
        assert _blas_threads() == {1}
    assert _blas_threads() == {2}
    with pytest.raises(ZeroDivisionError), one_blas_thread():
        1 / 0  # noqa: B018 - an exception inside still restores the limit
    assert _blas_threads() == {2}


def test_limit_lands_on_blas_even_when_nothing_imported_numpy_before() -> None:
    # A fresh interpreter that imports only this module: the controller must still find
    # OpenBLAS, or the feed's limit would silently do nothing in `newstalk api`.
    code = (
        "from newstalk.kit import blas\n"
        "from threadpoolctl import ThreadpoolController\n"
        "def threads():\n"
        "    return sorted({l.num_threads for l in ThreadpoolController().select(user_api='blas').lib_controllers})\n"
        "with blas.one_blas_thread():\n"
        "    print(threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["[1]"], out.stdout + out.stderr
