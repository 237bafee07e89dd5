"""Story category: a linear softmax classifier over multilingual-e5 embeddings of title + lead.

The weights live in ``data/category.npz`` (trained by ``newstalk.stories.train_category``); the
embeddings must come from the same model the artifact was trained with (multilingual-e5-small,
``passage:`` prefix, L2-normalized), which is what makes one English-trained classifier usable for
Korean stories too.

e5 vectors carry a language offset. Most training text is English, so "is Korean" could become
evidence for the classes that have Korean seeds; the seed file therefore gives every class 14-18
Korean headlines. An artifact may also store a Korean-English direction that ``features`` projects
out of every vector (``train_category --language-pairs``; measured no gain, off by default).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from newstalk.kit.rows import SkippedRows

CATEGORIES: tuple[str, ...] = (
    "politics",
    "economy",
    "society",
    "world",
    "tech",
    "culture",
    "sports",
    "entertainment",
)

# The categories' names in the Korean UI, speech and reasons (the English ones are the keys).
CATEGORY_KO: dict[str, str] = {
    "politics": "정치",
    "economy": "경제",
    "society": "사회",
    "world": "국제",
    "tech": "IT·과학",
    "culture": "문화",
    "sports": "스포츠",
    "entertainment": "연예",
}

ARTIFACT_PATH = Path(__file__).parent / "data" / "category.npz"

AG_NEWS_LABELS: dict[str, str] = {"1": "world", "2": "sports", "3": "economy", "4": "tech"}

LEAD_CHARS = 300
HELD_OUT_BUCKETS = 5

_ENTITY_RE = re.compile(r"#(\d{2,4});")
_SPACE_RE = re.compile(r"\s+")


class Encoder(Protocol):
    """Anything that turns texts into L2-normalized (n, 384) e5 passage embeddings."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, 384) float32 array of L2-normalized rows."""
        ...


def category_text(title: str, lead: str = "", *, lead_chars: int = LEAD_CHARS) -> str:
    """Build the text whose embedding the classifier expects: title plus the first part of the lead."""
    title = _SPACE_RE.sub(" ", title).strip()
    lead = _SPACE_RE.sub(" ", lead).strip()[:lead_chars]
    if not lead:
        return title
    if not title:
        return lead
    sep = " " if title[-1] in ".!?" else ". "
    return f"{title}{sep}{lead}"


def clean_ag_news(text: str) -> str:
    """Undo ag_news escaping: ``#36;`` style entities, backslash line breaks, HTML entities."""
    text = _ENTITY_RE.sub(lambda m: chr(int(m.group(1))), text.replace("\\", " "))
    return _SPACE_RE.sub(" ", html.unescape(text)).strip()


def is_held_out(namespace: str, key: str, buckets: int = HELD_OUT_BUCKETS) -> bool:
    """Deterministic split: a row is held out when sha256(namespace:key) falls in bucket 0 of ``buckets``."""
    digest = hashlib.sha256(f"{namespace}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % buckets == 0


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, used to recognise the training CSV."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class AgNewsRow:
    """One ag_news row: 0-based position in the file, mapped category and classifier text."""

    index: int
    category: str
    text: str


def read_ag_news(path: Path, skipped: SkippedRows | None = None) -> list[AgNewsRow]:
    """Read an ag_news CSV (label, title, description; no header) into mapped rows.

    A row with fewer than three fields or a label other than 1-4 is skipped and counted.
    """
    skipped = skipped if skipped is not None else SkippedRows()
    rows: list[AgNewsRow] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        for index, record in enumerate(reader):
            if not any(field.strip() for field in record):
                continue
            if len(record) < 3 or record[0] not in AG_NEWS_LABELS:
                why = f"{len(record)} fields" if len(record) < 3 else f"label {record[0]!r} is not 1-4"
                skipped.skip(f"{path} line {reader.line_num}", why)
                continue
            text = category_text(clean_ag_news(record[1]), clean_ag_news(record[2]))
            rows.append(AgNewsRow(index, AG_NEWS_LABELS[record[0]], text))
    return rows


@dataclass
class CategoryClassifier:
    """Multinomial logistic regression over e5 embeddings; ``predict`` returns (category, probability)."""

    weights: np.ndarray
    bias: np.ndarray
    classes: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    language_direction: np.ndarray | None = None

    @classmethod
    def load(cls, path: Path = ARTIFACT_PATH) -> CategoryClassifier:
        """Load the committed artifact (or another one written by ``train_category``)."""
        with np.load(path, allow_pickle=False) as data:
            weights = np.asarray(data["weights"], dtype=np.float32)
            bias = np.asarray(data["bias"], dtype=np.float32)
            classes = tuple(str(c) for c in data["classes"])
            metadata = json.loads(str(data["metadata"]))
            direction = (
                np.asarray(data["language_direction"], dtype=np.float32)
                if "language_direction" in data
                else None
            )
        if weights.ndim != 2 or weights.shape[0] != len(classes) or bias.shape != (len(classes),):
            raise ValueError(f"category: artifact {path} has inconsistent shapes; retrain it")
        unknown = set(classes) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"category: artifact {path} has unknown classes {sorted(unknown)}; retrain it")
        return cls(weights, bias, classes, metadata, direction)

    def save(self, path: Path) -> None:
        """Write the artifact as a small npz (float32 weights, class names, JSON metadata)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "weights": self.weights.astype(np.float32),
            "bias": self.bias.astype(np.float32),
            "classes": np.array(self.classes),
            "metadata": np.array(json.dumps(self.metadata, ensure_ascii=False, sort_keys=True)),
        }
        if self.language_direction is not None:
            arrays["language_direction"] = self.language_direction.astype(np.float32)
        np.savez_compressed(path, allow_pickle=False, **arrays)

    def features(self, embeddings: np.ndarray) -> np.ndarray:
        """Embeddings with the Korean-English direction projected out (identity without one)."""
        x = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if self.language_direction is None or x.shape[1] != self.language_direction.shape[0]:
            return x
        d = self.language_direction
        projected: np.ndarray = x - np.outer(x @ d, d)
        return projected

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes)), columns in ``self.classes`` order."""
        x = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if x.shape[1] != self.weights.shape[1]:
            raise ValueError(
                f"category: embeddings have {x.shape[1]} dimensions, the classifier expects "
                f"{self.weights.shape[1]}; use the multilingual-e5-small passage embeddings"
            )
        logits = self.features(x) @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probs: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
        return probs

    def predict(self, embeddings: np.ndarray) -> list[tuple[str, float]]:
        """Most likely category and its probability for each embedding row."""
        probs = self.probabilities(embeddings)
        best = probs.argmax(axis=1)
        return [(self.classes[int(i)], float(probs[row, i])) for row, i in enumerate(best)]


def classification_scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over the true classes, per-class F1 and n."""
    n = len(truth)
    if n == 0:
        return {"n": 0, "accuracy": 0.0, "macro_f1": 0.0, "per_class_f1": {}}
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    per_class: dict[str, float] = {}
    for label in sorted(set(truth)):
        tp = sum(t == label and p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted, strict=True))
        per_class[label] = 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
    return {
        "n": n,
        "accuracy": correct / n,
        "macro_f1": sum(per_class.values()) / len(per_class),
        "per_class_f1": per_class,
    }


def evaluate_ag_news(
    path: Path, classifier: CategoryClassifier, embeddings: Encoder, *, batch: int = 256
) -> dict[str, Any]:
    """Score the classifier on an ag_news CSV; on the training CSV only its held-out rows count."""
    skipped = SkippedRows()
    rows = read_ag_news(path, skipped)
    trained_on = classifier.metadata.get("ag_news", {}).get("sha256")
    held_out_only = trained_on is not None and trained_on == file_sha256(path)
    if held_out_only:
        rows = [r for r in rows if is_held_out("ag_news", str(r.index))]
    predicted: list[str] = []
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        vectors = embeddings.encode([r.text for r in chunk])
        predicted.extend(label for label, _ in classifier.predict(vectors))
    scores = classification_scores([r.category for r in rows], predicted)
    scores["held_out_only"] = held_out_only
    scores.update(skipped.report())
    return scores
