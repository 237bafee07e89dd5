"""The cross-encoder fine-tuning pieces: folds, batches, loss and a training step on a tiny encoder."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

# Skipped, with the reason, where torch is not installed; the imports below need it.
torch = pytest.importorskip(
    "torch", reason="fine-tuning runs on torch (the nli extra: pip install 'newstalk[nli]')"
)

from transformers import BertConfig, BertModel  # noqa: E402

from newstalk.factcheck.verifiers.e5torch import E5Tokenizer, read_e5  # noqa: E402
from newstalk.factcheck.verifiers.local import FOLDS  # noqa: E402
from newstalk.training.factcheck.datasets import LabelledPair  # noqa: E402
from newstalk.training.factcheck.finetune import (  # noqa: E402
    CrossEncoder,
    Example,
    bucketed,
    encode,
    group_fold,
    load_examples,
    loss_fn,
    sampling_weights,
    targets,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "factcheck"


def _ex(dataset: str, claim: str, evidence: str, stance: str, related: bool = True) -> Example:
    pair = LabelledPair(claim, evidence, stance, related, claim, "en", stance)
    return Example(dataset, pair, group_fold(dataset, claim))


@pytest.fixture(scope="module")
def tok() -> E5Tokenizer:
    return E5Tokenizer(read_e5())


def test_group_fold_is_the_train_py_formula() -> None:
    digest = hashlib.sha256(b"fnc1\x00712").digest()
    assert group_fold("fnc1", "712") == int.from_bytes(digest[:8], "big") % FOLDS
    assert {group_fold("kornli", str(i)) for i in range(200)} == set(range(FOLDS))


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/factcheck is not present")
def test_folds_keep_groups_together() -> None:
    examples = load_examples(DATA, ["klue-nli", "kornli"])
    folds_of: dict[tuple[str, str], set[int]] = {}
    for e in examples:
        folds_of.setdefault((e.dataset, e.pair.group), set()).add(e.fold)
    assert all(len(f) == 1 for f in folds_of.values())
    sizes = Counter(e.fold for e in examples)
    assert set(sizes) == set(range(FOLDS))
    assert min(sizes.values()) > len(examples) / FOLDS / 2


def test_bucketed_batches_draw_by_weight_and_sort_by_length(tok: E5Tokenizer) -> None:
    rows = [_ex("a", "short", "x", "supports")] * 3 + [
        _ex("b", "a much longer claim " * 5, "y " * 40, "refutes")
    ]
    weights = sampling_weights(rows)
    assert weights[3] > weights[0]  # the smaller data set is drawn more often per pair
    batches = bucketed(tok, rows, weights, torch.Generator().manual_seed(0), 4, 64, pool=8)
    assert len(batches) == 8
    assert all(len(b) == 4 for b in batches)
    for b in batches:  # sorted pool cut into consecutive batches: lengths never interleave
        assert len({r.dataset for r in b}) <= 2
    counts = Counter(r.dataset for b in batches for r in b)
    assert counts["b"] > 4  # ~half of the draws although it is a quarter of the rows


def test_loss_ignores_the_stance_of_unrelated_pairs() -> None:
    stance_logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.0, 9.0]])
    related_logits = torch.tensor([8.0, -8.0])
    good = loss_fn(stance_logits, related_logits, torch.tensor([0, 0]), torch.tensor([1.0, 0.0]))
    assert float(good) < 0.02  # the second pair's stance (neutral vs gold 0) is not counted
    bad = loss_fn(stance_logits, related_logits, torch.tensor([1, 0]), torch.tensor([1.0, 0.0]))
    assert float(bad) > 4


def test_a_training_step_on_a_tiny_encoder(tok: E5Tokenizer) -> None:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=250037,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    model = CrossEncoder(BertModel(config, add_pooling_layer=False), 16, dropout=0.0)
    rows = [
        _ex("klue-nli", "서울은 한국의 수도다.", "서울은 대한민국의 수도이다.", "supports"),
        _ex("fnc1", "Prices rose 5%", "Prices fell 5% last year.", "refutes"),
        _ex("fnc1", "A new bridge opened", "The weather was sunny.", "neutral", related=False),
    ]
    batch = encode(tok, rows, 32)
    assert batch["input_ids"].shape[1] <= 32
    stance, related = targets(rows)
    assert related.tolist() == [1.0, 1.0, 0.0]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = None
    for _ in range(15):
        loss = loss_fn(*model(batch), stance, related)
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        torch.autograd.backward(loss)
        optimizer.step()
    assert float(loss.detach()) < first / 2
