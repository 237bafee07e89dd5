"""The five NewsTalk characters, each a named engine configuration per language.

English renditions stay on piper joe (the most intelligible offline voice) and
differ by rate and by pitch, which the piper engine applies after synthesis.
Korean renditions use espeak-ng ``ko``, the only offline Korean voice, and differ
by rate, pitch and espeak variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from newstalk.errors import NotFound

Lang = Literal["en", "ko"]
DEFAULT_VOICE = "anchor"


@dataclass(frozen=True)
class Rendition:
    """How one character sounds in one language."""

    engine: str
    voice: str
    rate: float = 1.0
    pitch: float = 1.0


@dataclass(frozen=True)
class Style:
    """Template lines a character says around the stories."""

    greeting: str
    transition: str
    sign_off: str


@dataclass(frozen=True)
class Voice:
    """A character: renditions keyed by language and template lines keyed by language."""

    key: str
    name: str
    description: str
    renditions: MappingProxyType[str, Rendition] = field(hash=False)
    style: MappingProxyType[str, Style] = field(hash=False)

    def rendition(self, lang: str) -> Rendition:
        """The rendition for ``lang`` or NotFound naming the languages there are."""
        try:
            return self.renditions[lang]
        except KeyError:
            raise NotFound(
                f"speech: voice {self.key!r} has no {lang!r} rendition; "
                f"use one of {', '.join(sorted(self.renditions))}"
            ) from None


def _voice(
    key: str,
    name: str,
    description: str,
    *,
    en: Rendition,
    ko: Rendition,
    style_en: Style,
    style_ko: Style,
) -> Voice:
    return Voice(
        key=key,
        name=name,
        description=description,
        renditions=MappingProxyType({"en": en, "ko": ko}),
        style=MappingProxyType({"en": style_en, "ko": style_ko}),
    )


VOICES: MappingProxyType[str, Voice] = MappingProxyType(
    {
        v.key: v
        for v in (
            _voice(
                "anchor",
                "Professional anchor",
                "Measured, neutral delivery at a steady pace; the default.",
                en=Rendition("piper", "joe", rate=1.0, pitch=1.0),
                ko=Rendition("espeak", "ko", rate=1.0, pitch=1.0),
                style_en=Style(
                    greeting="Good evening. Here are today's top stories.",
                    transition="In other news.",
                    sign_off="That's the news for now. Thank you for listening.",
                ),
                style_ko=Style(
                    greeting="안녕하십니까. 오늘의 주요 뉴스입니다.",
                    transition="다음 소식입니다.",
                    sign_off="지금까지 뉴스였습니다. 들어 주셔서 감사합니다.",
                ),
            ),
            _voice(
                "host",
                "Friendly host",
                "Relaxed and conversational, a little brighter than the anchor.",
                en=Rendition("piper", "joe", rate=1.05, pitch=1.05),
                ko=Rendition("espeak", "ko+f3", rate=1.05, pitch=1.1),
                style_en=Style(
                    greeting="Hi there, and welcome back! Let's catch up on what's happening.",
                    transition="Okay, here's another one.",
                    sign_off="That's it from me. Talk to you soon!",
                ),
                style_ko=Style(
                    greeting="안녕하세요, 반가워요! 오늘은 어떤 일이 있었는지 함께 볼까요?",
                    transition="자, 다음 이야기로 가 볼게요.",
                    sign_off="오늘은 여기까지예요. 다음에 또 만나요!",
                ),
            ),
            _voice(
                "narrator",
                "Calm narrator",
                "Slow, low and even, for listening while winding down.",
                en=Rendition("piper", "joe", rate=0.9, pitch=0.94),
                ko=Rendition("espeak", "ko", rate=0.88, pitch=0.85),
                style_en=Style(
                    greeting="Welcome. Take a breath; here is what happened today.",
                    transition="Now, turning to another story.",
                    sign_off="That brings us to the end. Until next time.",
                ),
                style_ko=Style(
                    greeting="어서 오세요. 잠시 숨을 고르고, 오늘 있었던 일을 들어 보겠습니다.",
                    transition="이제 다른 이야기로 넘어가겠습니다.",
                    sign_off="오늘 이야기는 여기까지입니다. 다음에 뵙겠습니다.",
                ),
            ),
            _voice(
                "reporter",
                "Energetic reporter",
                "Quick and higher-pitched, with urgency.",
                en=Rendition("piper", "joe", rate=1.15, pitch=1.08),
                ko=Rendition("espeak", "ko+m3", rate=1.2, pitch=1.2),
                style_en=Style(
                    greeting="Breaking it down for you right now: here's the latest.",
                    transition="And this just in.",
                    sign_off="That's the latest. Stay tuned for updates.",
                ),
                style_ko=Style(
                    greeting="지금 바로 최신 소식 전해 드립니다!",
                    transition="방금 들어온 소식입니다.",
                    sign_off="지금까지 최신 소식이었습니다. 계속 지켜봐 주세요.",
                ),
            ),
            _voice(
                "storyteller",
                "Warm storyteller",
                "Unhurried and warm, telling each story as a story.",
                en=Rendition("piper", "joe", rate=0.95, pitch=0.97),
                ko=Rendition("espeak", "ko+f2", rate=0.93, pitch=0.95),
                style_en=Style(
                    greeting="Gather round. Let me tell you what happened today.",
                    transition="And that reminds me of another story.",
                    sign_off="And that's where today's stories end. Be well.",
                ),
                style_ko=Style(
                    greeting="자, 모여 보세요. 오늘 있었던 이야기를 들려 드릴게요.",
                    transition="그러고 보니 또 다른 이야기가 있어요.",
                    sign_off="오늘의 이야기는 여기서 마칠게요. 편안한 하루 되세요.",
                ),
            ),
        )
    }
)


def get_voice(key: str) -> Voice:
    """The character named ``key`` or NotFound listing the characters there are."""
    try:
        return VOICES[key]
    except KeyError:
        raise NotFound(f"speech: no voice {key!r}; use one of {', '.join(VOICES)}") from None
