from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from newstalk.ingestion.language import detect_language, normalize_language_tag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("서울시는 오늘 새로운 대중교통 정책을 발표했습니다. 시민들은 요금 인상을 걱정했습니다.", "ko"),
        ("The city council announced a new public transport policy on Tuesday morning.", "en"),
        ("Le conseil municipal a annoncé une nouvelle politique de transport public.", "fr"),
        ("東京都は本日、新しい公共交通政策を発表しました。", "ja"),
        ("В Москве открылась новая станция метро, жители довольны.", "ru"),
    ],
)
def test_detects_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_declared_language_is_only_a_hint() -> None:
    text = "The city council announced a new public transport policy on Tuesday morning."
    assert detect_language(text, hint="ko") == "en"


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("OK", "en-US", "en"),
        ("OK", None, "und"),
        ("", None, "und"),
        ("12345 !!!", "ko_KR", "ko"),
        ("속보", None, "ko"),
    ],
)
def test_short_text_uses_hint_or_und(text: str, hint: str | None, expected: str) -> None:
    assert detect_language(text, hint) == expected


def test_long_text_is_fast_and_correct() -> None:
    text = "서울시는 오늘 새로운 대중교통 정책을 발표했습니다. " * 10_000
    assert detect_language(text) == "ko"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("en-US", "en"), ("KO", "ko"), ("zh_Hant_TW", "zh"), ("und", None), ("", None), (None, None)],
)
def test_normalize_language_tag(tag: str | None, expected: str | None) -> None:
    assert normalize_language_tag(tag) == expected


def test_model_loads_offline_without_downloading(tmp_path: Path) -> None:
    # A fresh interpreter with sockets disabled and an empty model cache must still detect.
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network disabled in test")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from newstalk.ingestion.language import detect_language
        print(detect_language("The quick brown fox jumps over the lazy dog near the river."))
        """
    )
    env = {**os.environ, "FTLANG_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "en"
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Mostly Hangul: Korean without the model, whatever the Latin words and the hint say.
        ("삼성전자는 오늘 AI 반도체 HBM4 양산 계획을 발표했습니다. 투자 규모는 12조 원이다.", "ko"),
        # Mostly Latin with a Korean name: the model decides.
        ("President 윤석열 met the delegation in Seoul on Tuesday to discuss trade and tariffs.", "en"),
    ],
)
def test_hangul_share_decides_korean(text: str, expected: str) -> None:
    assert detect_language(text, hint="en") == expected
