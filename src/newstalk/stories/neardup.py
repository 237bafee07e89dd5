"""Near-duplicate detection: MinHash signatures over shingles and an incremental LSH index.

A signature is ``NUM_PERM`` MinHash values (uint32, datasketch scheme "affine32") of
``text.shingles``. The index bands the signatures (``bands`` x ``rows``); any
band collision makes a candidate, and a candidate is kept only if its estimated
Jaccard (share of equal MinHash values) reaches the threshold. The band shape is
chosen so that a pair exactly at the threshold becomes a candidate with
probability >= 0.99, so the threshold, not the banding, decides.

The default threshold 0.5 means "at least half of the two texts' shingles are
shared": wire copies and lightly edited copies score well above it, while
different articles on the same story score well below (see ``evaluate/bbc.py``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

import numpy as np

from newstalk.errors import InvalidInput
from newstalk.stories.text import shingles

NUM_PERM = 128
SEED = 1
DEFAULT_THRESHOLD = 0.5
SCHEME = "affine32"
# An empty MinHash holds the largest 32-bit value in every slot.
_EMPTY_VALUE = np.uint32((1 << 32) - 1)
_MIN_CANDIDATE_PROBABILITY = 0.99

_permutations_ab: tuple[np.ndarray, np.ndarray] | None = None
_permutations_lock = threading.Lock()


def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """datasketch 2.0's affine32 parameters for ``SEED``: odd ``a`` and ``b``, from ``RandomState(SEED)``.

    Computed here, in the same order of draws, rather than through ``datasketch.MinHash``:
    importing datasketch loads scipy and its other sketches, about 48 MB of every process
    that clusters. ``tests/stories/test_neardup.py`` checks the values against datasketch.
    """
    global _permutations_ab
    if _permutations_ab is None:
        with _permutations_lock:
            if _permutations_ab is None:
                gen = np.random.RandomState(SEED)
                a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
                b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
                _permutations_ab = (a, b)
    return _permutations_ab


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch's pre-mix), wrapping in uint32."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    out: np.ndarray = h ^ (h >> np.uint32(16))
    return out


def signature_of_shingles(items: Iterable[str]) -> np.ndarray:
    """MinHash signature of an already computed shingle set.

    The values of ``datasketch.MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32")``
    after ``update_batch`` of the UTF-8 shingles: the first 4 bytes of each shingle's SHA-1
    (little-endian), pre-mixed, then ``a * h + b`` mod 2^32 and the minimum per permutation.
    """
    hashes = np.fromiter(
        (
            int.from_bytes(hashlib.sha1(s.encode("utf-8"), usedforsecurity=False).digest()[:4], "little")
            for s in items
        ),
        dtype=np.uint32,
    )
    if hashes.size == 0:
        return np.full(NUM_PERM, _EMPTY_VALUE, dtype=np.uint32)
    a, b = _permutations()
    mixed = _fmix32(hashes).reshape(-1, 1)
    out: np.ndarray = (mixed * a + b).min(axis=0).astype(np.uint32)
    return out


def signature(text: str, lang: str) -> np.ndarray:
    """MinHash signature of a text's shingles; an empty text gives a signature that matches nothing."""
    return signature_of_shingles(shingles(text, lang))


def is_empty(sig: np.ndarray) -> bool:
    """True for the signature of a text without shingles."""
    return bool(np.all(sig == _EMPTY_VALUE))


def signature_bytes(sig: np.ndarray) -> bytes:
    """Serialize a signature for the database (little-endian uint32)."""
    return np.asarray(sig, dtype="<u4").tobytes()


def signature_from_bytes(b: bytes) -> np.ndarray:
    """Inverse of ``signature_bytes``."""
    if len(b) != NUM_PERM * 4:
        raise InvalidInput(
            f"stories: a near-duplicate signature has {len(b)} bytes, expected {NUM_PERM * 4}; "
            "recompute it with stories.neardup.signature"
        )
    return np.frombuffer(b, dtype="<u4").astype(np.uint32)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures; 0 if either is empty."""
    if is_empty(a) or is_empty(b):
        return 0.0
    return float(np.count_nonzero(a == b)) / NUM_PERM


def band_shape(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows): the most selective banding that still finds a pair at ``threshold`` with p >= 0.99."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= _MIN_CANDIDATE_PROBABILITY:
            best = (bands, rows)
    return best


class NearDupIndex:
    """In-memory LSH over MinHash signatures; add and remove are incremental."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 < threshold <= 1.0:
            raise InvalidInput(f"stories: near-duplicate threshold {threshold} must be in (0, 1]")
        self.threshold = threshold
        self.bands, self.rows = band_shape(threshold)
        self._tables: list[dict[bytes, set[int]]] = [{} for _ in range(self.bands)]
        self._sigs: dict[int, np.ndarray] = {}
        self._order: dict[int, int] = {}
        self._next = 0

    def _band_keys(self, sig: np.ndarray) -> list[bytes]:
        r = self.rows
        return [sig[i * r : (i + 1) * r].tobytes() for i in range(self.bands)]

    def __len__(self) -> int:
        return len(self._sigs)

    def __contains__(self, key: object) -> bool:
        return key in self._sigs

    def add(self, key: int, sig: np.ndarray) -> None:
        """Index a signature under ``key`` (re-adding a key replaces it); empty signatures are not indexed."""
        if key in self._sigs:
            self.remove(key)
        sig = np.asarray(sig, dtype=np.uint32)
        if is_empty(sig):
            return
        self._sigs[key] = sig
        self._order[key] = self._next
        self._next += 1
        for table, band in zip(self._tables, self._band_keys(sig), strict=True):
            table.setdefault(band, set()).add(key)

    def remove(self, key: int) -> None:
        """Forget ``key``; unknown keys are ignored."""
        sig = self._sigs.pop(key, None)
        if sig is None:
            return
        del self._order[key]
        for table, band in zip(self._tables, self._band_keys(sig), strict=True):
            bucket = table.get(band)
            if bucket is not None:
                bucket.discard(key)
                if not bucket:
                    del table[band]

    def query(self, sig: np.ndarray) -> list[tuple[int, float]]:
        """Keys whose estimated Jaccard with ``sig`` is at least the threshold, best first, then oldest first."""
        sig = np.asarray(sig, dtype=np.uint32)
        if is_empty(sig):
            return []
        candidates: set[int] = set()
        for table, band in zip(self._tables, self._band_keys(sig), strict=True):
            bucket = table.get(band)
            if bucket:
                candidates |= bucket
        if not candidates:
            return []
        keys = list(candidates)
        stacked = np.stack([self._sigs[k] for k in keys])
        scores = np.count_nonzero(stacked == sig, axis=1) / NUM_PERM
        found = [(k, float(s)) for k, s in zip(keys, scores, strict=True) if s >= self.threshold]
        found.sort(key=lambda item: (-item[1], self._order[item[0]]))
        return found

    def added_order(self, key: int) -> int:
        """Position of ``key`` in insertion order (smaller is earlier)."""
        return self._order[key]


def find_duplicate(
    index: NearDupIndex, sig: np.ndarray, *, exclude: int | None = None
) -> tuple[int, float] | None:
    """The earliest-added indexed key that ``sig`` duplicates, with its estimated Jaccard, or None."""
    matches = [(k, s) for k, s in index.query(sig) if k != exclude]
    if not matches:
        return None
    return min(matches, key=lambda item: index.added_order(item[0]))
