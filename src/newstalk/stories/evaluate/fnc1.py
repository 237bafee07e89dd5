"""Is a body about the headline's story? FNC-1 related (agree/disagree/discuss) vs unrelated.

Uses the clustering similarity machinery on headline/body pairs: the e5 cosine of the
headline against the body's lead and against its best-matching early sentence, and the
fraction of the headline's content words found in the body. Each body and each distinct
headline is embedded once, whatever the number of pairs.

The decision rule (a logistic regression over those features, i.e. a learned threshold)
is fit by cross-validation grouped by body_id: every pair is predicted by a model that
never saw its body, and only that held-out accuracy is reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from newstalk.errors import InvalidInput
from newstalk.kit.rows import SkippedRows
from newstalk.providers.embeddings import E5SmallEmbeddings, EmbeddingProvider
from newstalk.stories.text import sentences, words

BODY_SENTENCES = 4
SENTENCE_CHARS = 300
LEAD_CHARS = 300


def _read_jsonl(path: Path, fields: dict[str, type], skipped: SkippedRows) -> list[dict[str, Any]]:
    """JSON objects with ``fields`` of the given types; any other line is skipped and counted."""
    if not path.exists():
        raise InvalidInput(
            f"eval stories: {path} is missing; an FNC-1 folder holds stances.jsonl and bodies.jsonl"
        )
    out = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                skipped.skip(f"{path}:{lineno}", f"not JSON ({exc.msg})")
                continue
            if not isinstance(obj, dict):
                skipped.skip(f"{path}:{lineno}", "not a JSON object")
                continue
            if "articleBody" in obj and "body" not in obj:
                obj["body"] = obj["articleBody"]
            if isinstance(obj.get("body_id"), str) and obj["body_id"].strip().isdigit():
                obj["body_id"] = int(obj["body_id"])
            bad = [
                k
                for k, kind in fields.items()
                if not isinstance(obj.get(k), kind) or isinstance(obj.get(k), bool)
            ]
            if bad:
                skipped.skip(f"{path}:{lineno}", f"no {' or '.join(bad)} of the right type")
                continue
            out.append(obj)
    return out


def pair_features(
    stances: list[dict[str, Any]], bodies: dict[int, str], embeddings: EmbeddingProvider
) -> np.ndarray:
    """Per pair: cosine to lead, best cosine to an early sentence, word overlap with lead and body."""
    body_ids = sorted(bodies)
    sent_of: dict[int, list[str]] = {}
    for bid in body_ids:
        sents = [s[:SENTENCE_CHARS] for s in sentences(bodies[bid], "en")[:BODY_SENTENCES]]
        sent_of[bid] = sents or [bodies[bid][:SENTENCE_CHARS] or "."]
    flat = [s for bid in body_ids for s in sent_of[bid]]
    leads = [bodies[bid][:LEAD_CHARS] or "." for bid in body_ids]
    headlines = sorted({s["headline"] for s in stances})
    vec_sent = embeddings.encode(flat)
    vec_lead = dict(zip(body_ids, embeddings.encode(leads), strict=True))
    vec_head = dict(zip(headlines, embeddings.encode(headlines), strict=True))
    span: dict[int, tuple[int, int]] = {}
    pos = 0
    for bid in body_ids:
        span[bid] = (pos, pos + len(sent_of[bid]))
        pos += len(sent_of[bid])
    lead_words = {bid: set(words(" ".join(sent_of[bid]), "en")) for bid in body_ids}
    body_words = {bid: set(words(bodies[bid], "en")) for bid in body_ids}
    head_words = {h: set(words(h, "en")) for h in headlines}
    rows = []
    for s in stances:
        h, bid = s["headline"], int(s["body_id"])
        a, b = span[bid]
        hv = vec_head[h]
        hw = head_words[h] or {""}
        rows.append(
            [
                float(vec_lead[bid] @ hv),
                float((vec_sent[a:b] @ hv).max()),
                len(hw & lead_words[bid]) / len(hw),
                len(hw & body_words[bid]) / len(hw),
            ]
        )
    return np.asarray(rows, dtype=np.float64)


def evaluate_fnc1(
    folder: Path, *, embeddings: EmbeddingProvider | None = None, folds: int = 5
) -> dict[str, float | int]:
    """Held-out related-vs-unrelated accuracy on an FNC-1 folder, cross-validated by body_id."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    skipped = SkippedRows()
    bodies_path = folder / "bodies.jsonl"
    bodies = {
        int(b["body_id"]): b["body"] for b in _read_jsonl(bodies_path, {"body_id": int, "body": str}, skipped)
    }
    stances = []
    for s in _read_jsonl(folder / "stances.jsonl", {"headline": str, "body_id": int, "stance": str}, skipped):
        if s["body_id"] in bodies:
            stances.append(s)
        else:
            skipped.skip(
                f"{folder / 'stances.jsonl'}", f"body_id {s['body_id']} is not in {bodies_path.name}"
            )
    if not stances:
        raise InvalidInput(f"eval stories: {folder} has no usable stance rows with a body")
    x = pair_features(stances, bodies, embeddings or E5SmallEmbeddings())
    y = np.array([s["stance"] != "unrelated" for s in stances], dtype=bool)
    groups = np.array([int(s["body_id"]) for s in stances])
    pred = np.zeros_like(y)
    n_groups = len(set(groups.tolist()))
    k = max(2, min(folds, n_groups))
    for train, test in GroupKFold(n_splits=k).split(x, y, groups):
        if len(set(y[train].tolist())) < 2:
            pred[test] = y[train][0]
            continue
        model = LogisticRegression(C=10.0, max_iter=1000).fit(x[train], y[train])
        pred[test] = model.predict(x[test])
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    return {
        "related_accuracy": round(float((pred == y).mean()), 4),
        "related_precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "related_recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
        "n": len(stances),
        "related": int(y.sum()),
        "unrelated": int((~y).sum()),
        "bodies": len({int(s["body_id"]) for s in stances}),
        "folds": k,
        **skipped.report(),
    }
