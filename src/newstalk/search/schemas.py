"""API shapes for search."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from newstalk.stories.schemas import StorySummary


class SearchHit(BaseModel):
    type: Literal["story", "article"]
    id: int = Field(description="The story's or the article's id")
    title: str
    snippet: str = Field(description="Text around the best matches (plain text, never HTML)")
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) character offsets of matched words in `snippet`"
    )
    title_highlights: list[tuple[int, int]] = Field(description="The same for `title`")
    score: float = Field(
        description="Higher is better: text relevance (mode=text), cosine (semantic) or fused reciprocal rank (hybrid)"
    )
    matched: list[Literal["text", "semantic"]] = Field(description="Which retrievers found this hit")
    language: str | None = None
    published_at: datetime | None = Field(None, description="Articles: published; stories: last seen")
    url: str | None = None
    source_id: int | None = None
    outlet: str | None = None
    story_id: int | None = Field(None, description="Articles: the story the article belongs to")
    story: StorySummary | None = Field(None, description="Stories: the same fields as GET /api/v1/stories")


class SearchPage(BaseModel):
    query: str
    mode: Literal["hybrid", "text", "semantic"]
    terms: list[str] = Field(description="The terms the text search looked for (after Kiwi/stemming)")
    items: list[SearchHit]
    next_cursor: str | None
