"""`newstalk eval speech`: a real round trip through a voice and the recognizer, as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NEWSTALK = str(Path(sys.executable).with_name("newstalk"))


def test_eval_speech_json_has_n_and_wer(tmp_path: Path) -> None:
    sentences = tmp_path / "s.txt"
    sentences.write_text(
        "Glue the sheet to the dark blue background.\n\nIt's easy to tell the depth of a well.\n"
    )
    done = subprocess.run(
        [NEWSTALK, "eval", "speech", str(sentences), "--voice", "anchor", "--lang", "en", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 2
    assert 0.0 <= result["wer"] <= 0.2


def test_eval_speech_scores_korean_with_vosk(tmp_path: Path) -> None:
    sentences = tmp_path / "ko.txt"
    sentences.write_text("첫 문장은 건너뜁니다.\n일본의 3대 은행이 금리를 올렸다.\n", encoding="utf-8")
    argv = [NEWSTALK, "eval", "speech", str(sentences), "--lang", "ko", "--start", "2", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["n"], result["start"], result["recognizers"]) == (1, 2, ["vosk-ko"])
    assert result["worst"][0]["spoken"] == "일본의 삼대 은행이 금리를 올렸다."
    assert result["cer"] >= 0.0
    assert "Exception ignored" not in done.stderr


def test_eval_speech_refuses_unknown_voice(tmp_path: Path) -> None:
    sentences = tmp_path / "s.txt"
    sentences.write_text("One sentence.\n")
    done = subprocess.run(
        [NEWSTALK, "eval", "speech", str(sentences), "--voice", "nobody"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "choose one of anchor" in done.stderr
