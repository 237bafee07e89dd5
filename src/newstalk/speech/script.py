"""What speech renders: a script of lines, each said by one character in one chapter.

Speech owns this type because it is what synthesis takes; briefings writes scripts (and
stores them as ``briefings.models.ScriptRecord``), speech never needs to know how.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Line:
    """One thing one character says; ``chapter`` is the story (or Intro/Outro) it belongs to."""

    speaker: str
    text: str
    chapter: str


@dataclass(frozen=True)
class Script:
    """What will be spoken, as written (normalized only at synthesis)."""

    kind: str  # "story", "briefing" or "text"
    lang: str
    form: str  # "solo" or "conversation"
    title: str
    lines: tuple[Line, ...]
    story_ids: tuple[int, ...] = ()

    @property
    def speakers(self) -> list[str]:
        """The characters in order of first appearance."""
        return list(dict.fromkeys(line.speaker for line in self.lines))

    @property
    def text(self) -> str:
        """The whole script as plain text, one line per paragraph."""
        return "\n".join(line.text for line in self.lines)

    def content_hash(self) -> str:
        """sha256 over everything that changes the audio: language, lines, speakers, chapters."""
        doc = json.dumps(
            [self.lang, [[x.speaker, x.text, x.chapter] for x in self.lines]],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(doc.encode("utf-8")).hexdigest()

    def lines_json(self) -> list[dict[str, str]]:
        """The lines as stored in the database."""
        return [asdict(x) for x in self.lines]

    def chapters(self) -> list[tuple[str, list[Line]]]:
        """Consecutive lines grouped by chapter, in order."""
        out: list[tuple[str, list[Line]]] = []
        for line in self.lines:
            if out and out[-1][0] == line.chapter:
                out[-1][1].append(line)
            else:
                out.append((line.chapter, [line]))
        return out
