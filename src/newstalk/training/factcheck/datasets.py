"""Labelled claim–evidence pairs from the public fact-checking and NLI formats.

Every loader returns a :class:`Dataset`: pairs with a stance (supports / refutes / neutral),
a ``related`` flag (FNC-1's unrelated is the only ``related=False``), a group key for
grouped cross-validation (FNC-1: the body id; FEVER and Climate-FEVER: the claim; NLI: the
premise) and a language. Climate-FEVER also keeps its claim-level labels.

Label maps:

- FNC-1: agree -> supports, disagree -> refutes, discuss -> neutral, unrelated -> related=False.
- FEVER: SUPPORTS / REFUTES / NOT ENOUGH INFO -> supports / refutes / neutral.
- Climate-FEVER pairs: evidence_label SUPPORTS / REFUTES / NOT_ENOUGH_INFO, the same way.
- NLI (KorNLI TSV, KLUE JSON): entailment / contradiction / neutral -> supports / refutes / neutral.

Rows with an unknown or missing label are left out (KorNLI marks unresolved rows "-").
A malformed row (a line that is not JSON, a missing text field, an FNC-1 stance whose
body is not in bodies.jsonl) is skipped with a warning and counted in ``Dataset.skipped``
(``skipped_rows`` in the evaluation); a file that is not in the format at all (missing,
not UTF-8, no header, no labelled pair) raises :class:`DatasetError` with one line naming
the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newstalk.errors import InvalidInput
from newstalk.kit.rows import SkippedRows

FORMATS: tuple[str, ...] = ("fnc1", "fever", "climate-fever", "nli-tsv", "klue-json")

STANCES: tuple[str, ...] = ("supports", "refutes", "neutral")
FNC_LABELS: tuple[str, ...] = ("agree", "disagree", "discuss", "unrelated")
CLAIM_LABELS: tuple[str, ...] = ("SUPPORTS", "REFUTES", "DISPUTED", "NOT_ENOUGH_INFO")

_FNC_MAP = {"agree": "supports", "disagree": "refutes", "discuss": "neutral"}
_FEVER_MAP = {
    "supports": "supports",
    "refutes": "refutes",
    "not enough info": "neutral",
    "not_enough_info": "neutral",
    "nei": "neutral",
}
_FEVER_NAMES = {"supports": "SUPPORTS", "refutes": "REFUTES", "neutral": "NOT ENOUGH INFO"}
_NLI_MAP = {"entailment": "supports", "contradiction": "refutes", "neutral": "neutral"}


class DatasetError(InvalidInput):
    """A data file is missing or not in the format it was read as."""


@dataclass(frozen=True)
class LabelledPair:
    """One claim and its evidence with a gold stance; ``label`` is the file's own label."""

    claim: str
    evidence: str
    stance: str
    related: bool
    group: str
    lang: str
    label: str
    claim_id: str = ""


@dataclass
class Dataset:
    """Pairs read from one file or folder; ``claims`` maps claim_id -> claim label (Climate-FEVER)."""

    name: str
    fmt: str
    pairs: list[LabelledPair]
    claims: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    skipped: SkippedRows = field(default_factory=SkippedRows)


class _BadRow(Exception):
    """One row is malformed: it is skipped and counted, the rest of the file is read."""


def _fail(path: Path, where: str, what: str) -> DatasetError:
    return DatasetError(f"factcheck data: {path}{where}: {what}")


def _jsonl(path: Path, skipped: SkippedRows) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each line holding a JSON object; other lines are skipped and counted."""
    if not path.is_file():
        raise _fail(path, "", "is a folder, expected a file" if path.is_dir() else "no such file")
    try:
        with path.open(encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    skipped.skip(f"{path}:{number}", f"not JSON ({exc.msg}); expected one object per line")
                    continue
                if not isinstance(obj, dict):
                    skipped.skip(f"{path}:{number}", "expected a JSON object per line")
                    continue
                yield number, obj
    except UnicodeDecodeError as exc:
        raise _fail(path, "", "not UTF-8 text") from exc


def _text(obj: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise _BadRow(f"no {' or '.join(repr(k) for k in keys)} text")


def _finish(ds: Dataset, expected: str) -> Dataset:
    if not ds.pairs:
        skipped = (
            f" ({ds.skipped.count} malformed rows skipped, first: {ds.skipped.examples[0]})"
            if ds.skipped.count
            else ""
        )
        raise DatasetError(f"factcheck data: {ds.name} has no labelled pairs{skipped}; expected {expected}")
    return ds


def load_fnc1(folder: Path) -> Dataset:
    """An FNC-1 folder: stances.jsonl (headline, body_id, stance) and bodies.jsonl (body_id, body)."""
    if not folder.is_dir():
        raise _fail(
            folder, "", "not a folder; an FNC-1 data set is a folder with stances.jsonl and bodies.jsonl"
        )
    bodies_path, stances_path = folder / "bodies.jsonl", folder / "stances.jsonl"
    skipped = SkippedRows()
    bodies: dict[str, str] = {}
    for number, obj in _jsonl(bodies_path, skipped):
        try:
            if "body_id" not in obj and "Body ID" not in obj:
                raise _BadRow("no body_id")
            bodies[str(obj.get("body_id", obj.get("Body ID")))] = _text(obj, ("body", "articleBody"))
        except _BadRow as bad:
            skipped.skip(f"{bodies_path}:{number}", str(bad))
    pairs: list[LabelledPair] = []
    for number, obj in _jsonl(stances_path, skipped):
        body_id = str(obj.get("body_id", obj.get("Body ID", "")))
        try:
            headline = _text(obj, ("headline", "Headline"))
            if body_id not in bodies:
                raise _BadRow(f"body_id {body_id!r} is not in bodies.jsonl")
        except _BadRow as bad:
            skipped.skip(f"{stances_path}:{number}", str(bad))
            continue
        label = str(obj.get("stance", obj.get("Stance", ""))).strip().lower()
        if label not in FNC_LABELS:
            continue
        pairs.append(
            LabelledPair(
                claim=headline,
                evidence=bodies[body_id],
                stance=_FNC_MAP.get(label, "neutral"),
                related=label != "unrelated",
                group=body_id,
                lang="en",
                label=label,
            )
        )
    ds = Dataset(str(folder), "fnc1", pairs, files=[stances_path, bodies_path], skipped=skipped)
    return _finish(ds, "stance agree/disagree/discuss/unrelated")


def load_fever(path: Path) -> Dataset:
    """FEVER-style JSON lines: claim, evidence (or evidence_sentence), label."""
    pairs: list[LabelledPair] = []
    skipped = SkippedRows()
    for number, obj in _jsonl(path, skipped):
        raw = str(obj.get("label", obj.get("gold_label", ""))).strip()
        stance = _FEVER_MAP.get(raw.lower())
        if stance is None:
            continue
        try:
            claim = _text(obj, ("claim", "sentence2"))
            evidence = _text(obj, ("evidence", "evidence_sentence", "sentence1"))
        except _BadRow as bad:
            skipped.skip(f"{path}:{number}", str(bad))
            continue
        pairs.append(LabelledPair(claim, evidence, stance, True, claim, "en", _FEVER_NAMES[stance]))
    ds = Dataset(str(path), "fever", pairs, files=[path], skipped=skipped)
    return _finish(ds, "JSON lines with claim, evidence and label SUPPORTS/REFUTES/NOT ENOUGH INFO")


def load_climate_fever(path: Path) -> Dataset:
    """Climate-FEVER JSON lines: claim, claim_label and evidences[] with evidence and evidence_label."""
    pairs: list[LabelledPair] = []
    claims: dict[str, str] = {}
    skipped = SkippedRows()
    for number, obj in _jsonl(path, skipped):
        evidences = obj.get("evidences")
        try:
            claim = _text(obj, ("claim",))
            if not isinstance(evidences, list):
                raise _BadRow("no 'evidences' list")
            if not all(isinstance(item, dict) for item in evidences):
                raise _BadRow("each evidence must be an object")
        except _BadRow as bad:
            skipped.skip(f"{path}:{number}", str(bad))
            continue
        claim_id = str(obj.get("claim_id", number))
        claim_label = str(obj.get("claim_label", "")).strip().upper().replace(" ", "_")
        kept = 0
        for item in evidences:
            stance = _FEVER_MAP.get(str(item.get("evidence_label", "")).strip().lower())
            evidence = item.get("evidence")
            if stance is None or not isinstance(evidence, str) or not evidence.strip():
                continue
            label = _FEVER_NAMES[stance].replace(" ", "_")
            pairs.append(LabelledPair(claim, evidence.strip(), stance, True, claim, "en", label, claim_id))
            kept += 1
        if kept and claim_label in CLAIM_LABELS:
            claims[claim_id] = claim_label
    ds = Dataset(str(path), "climate-fever", pairs, claims, files=[path], skipped=skipped)
    return _finish(ds, "JSON lines with claim, claim_label and evidences[{evidence, evidence_label}]")


def _nli_pair(premise: str, hypothesis: str, label: str, lang: str) -> LabelledPair | None:
    stance = _NLI_MAP.get(label.strip().lower())
    if stance is None or not premise.strip() or not hypothesis.strip():
        return None
    # The hypothesis is the claim; the premise is the evidence that does or does not back it.
    return LabelledPair(
        hypothesis.strip(), premise.strip(), stance, True, premise.strip(), lang, label.lower()
    )


def load_nli_tsv(path: Path, lang: str = "ko") -> Dataset:
    """A TSV with a header naming sentence1 (premise), sentence2 (hypothesis) and gold_label."""
    if not path.is_file():
        raise _fail(path, "", "no such file")
    pairs: list[LabelledPair] = []
    skipped = SkippedRows()
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader, None)
            need = ("sentence1", "sentence2", "gold_label")
            if header is None or any(col not in header for col in need):
                raise _fail(
                    path, ":1", "the header must name sentence1, sentence2 and gold_label (tab-separated)"
                )
            idx = [header.index(col) for col in need]
            for row in reader:
                if len(row) <= max(idx):
                    if any(cell.strip() for cell in row):
                        skipped.skip(
                            f"{path}:{reader.line_num}", f"{len(row)} columns, the header has {len(header)}"
                        )
                    continue
                pair = _nli_pair(row[idx[0]], row[idx[1]], row[idx[2]], lang)
                if pair is not None:
                    pairs.append(pair)
    except UnicodeDecodeError as exc:
        raise _fail(path, "", "not UTF-8 text") from exc
    ds = Dataset(str(path), "nli-tsv", pairs, files=[path], skipped=skipped)
    return _finish(ds, "rows with gold_label entailment/neutral/contradiction")


def load_klue_json(path: Path, lang: str = "ko") -> Dataset:
    """The KLUE-NLI JSON list: objects with premise, hypothesis and gold_label."""
    if not path.is_file():
        raise _fail(path, "", "no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _fail(path, "", "not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise _fail(path, f":{exc.lineno}", f"not JSON ({exc.msg}); expected the KLUE-NLI list") from exc
    if not isinstance(data, list):
        raise _fail(path, "", "expected a JSON list of {premise, hypothesis, gold_label} objects")
    pairs: list[LabelledPair] = []
    skipped = SkippedRows()
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict):
            skipped.skip(f"{path} item {number}", "not an object with premise, hypothesis and gold_label")
            continue
        premise, hypothesis, label = item.get("premise"), item.get("hypothesis"), item.get("gold_label")
        if isinstance(premise, str) and isinstance(hypothesis, str) and isinstance(label, str):
            pair = _nli_pair(premise, hypothesis, label, lang)
            if pair is not None:
                pairs.append(pair)
        else:
            skipped.skip(f"{path} item {number}", "premise, hypothesis and gold_label must be text")
    ds = Dataset(str(path), "klue-json", pairs, files=[path], skipped=skipped)
    return _finish(ds, "items with gold_label entailment/neutral/contradiction")


LOADERS: dict[str, Callable[[Path], Dataset]] = {
    "fnc1": load_fnc1,
    "fever": load_fever,
    "climate-fever": load_climate_fever,
    "nli-tsv": load_nli_tsv,
    "klue-json": load_klue_json,
}


def load(path: Path, fmt: str) -> Dataset:
    """Read ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    loader = LOADERS.get(fmt)
    if loader is None:
        raise DatasetError(f"factcheck data: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    try:
        return loader(path)
    except IsADirectoryError as exc:
        raise _fail(path, "", f"is a folder; --format {fmt} reads a file") from exc
    except OSError as exc:
        raise _fail(path, "", f"cannot be read ({exc.strerror or type(exc).__name__})") from exc


# The shared training data: (dataset name, relative path, format).
TRAINING_SETS: tuple[tuple[str, str, str], ...] = (
    ("fnc1", "fnc-1-dev", "fnc1"),
    ("fever-symmetric", "fever-symmetric-dev/fever_symmetric_dev.jsonl", "fever"),
    ("climate-fever", "climate-fever/climate-fever.jsonl", "climate-fever"),
    ("klue-nli", "klue-nli-dev/klue-nli-v1.1_dev.json", "klue-json"),
    ("kornli", "kornli-dev/xnli.dev.ko.tsv", "nli-tsv"),
)
