"""API shapes for questions about a story and saved threads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_QUESTION_CHARS = 500
MAX_ID = 2**63 - 1
Question = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS)
]


class AskIn(BaseModel):
    """A question; ``thread_id`` continues a saved thread about the same story."""

    model_config = ConfigDict(extra="forbid")

    question: Question = Field(description=f"Korean or English, at most {MAX_QUESTION_CHARS} characters")
    thread_id: int | None = Field(None, ge=1, le=MAX_ID, description="Continue this thread of yours")


class Citation(BaseModel):
    """A sentence of an article: ``quote == text[start:end]`` of the article's text."""

    article_id: int | None
    outlet: str
    url: str
    language: str
    quote: str
    start: int = Field(description="Character offset into the article's text (content_text, or its summary)")
    end: int


class TurnOut(BaseModel):
    position: int = Field(description="1 for the thread's first question")
    question: str
    answer: str
    language: str
    found: bool = Field(description="False: the coverage doesn't say")
    mode: Literal["extractive", "llm"]
    follow_up: bool = Field(description="Read as a follow-up to the previous turn")
    context: list[int] = Field(description="Positions of the earlier turns this answer had as context")
    citations: list[Citation]
    created_at: datetime


class AskOut(BaseModel):
    thread_id: int
    story_id: int
    turn: TurnOut


class ThreadSummary(BaseModel):
    id: int
    story_id: int
    title: str = Field(description="The thread's first question")
    turn_count: int
    created_at: datetime
    updated_at: datetime


class ThreadPage(BaseModel):
    items: list[ThreadSummary]
    next_cursor: str | None


class ThreadDetail(ThreadSummary):
    turns: list[TurnOut]
