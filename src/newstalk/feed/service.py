"""The personal feed: a per-process candidate index and listener profiles, and the ranked pages.

Everything the ranking reads at request time is in memory:

- ``StoryIndex``: recent stories (last ``FEED_WINDOW``) as one float32 matrix of centred e5
  centroids plus score arrays. It is refreshed at most every ``REFRESH_S`` seconds by
  reading only the stories whose ``updated_at`` moved (the stories stage bumps it on every
  change, editors' merges too); trending scores, which the trending job rewrites without
  touching ``updated_at``, are re-read every ``TRENDING_S``; a full rebuild every ``REBUILD_S``
  drops deleted stories and re-centres the vectors.
- listener state: the engagement profile (``ranking.Engagement``) and declared interests.
  A request checks the preferences' ``updated_at`` and the newest feedback id (one small
  query) and folds in what changed, at most every ``REFRESH_S`` per listener: in between,
  a request whose listener wrote nothing through this process (``PageCache.owner_version``
  unchanged) skips the query. So a listener's own feedback and preference changes count
  from their next request in the process that took them, and in every other API process
  within ``REFRESH_S``, as new stories do.
- pages: the ordered list of a listener's feed is kept for ``PAGE_TTL_S`` keyed by the
  instant it was ranked, which the cursor carries; later pages slice the same list.
- first pages: a first page (no cursor) asked again within ``FIRST_PAGE_REUSE_S``, while
  the index (``StoryIndex.version``) and the listener's profile (preferences and feedback
  folded in) are unchanged, reuses the list ranked for the previous one and its instant
  instead of ranking again: the ranking is most of a feed request's cost, and its inputs
  did not change. Any new or changed story, preference change or feedback ranks afresh.

Nothing here is persisted: a profile is rebuilt from the listener's last ``MAX_EVENTS``
events in one query when a process first sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.config import load_settings
from newstalk.errors import ConfigError, InvalidInput
from newstalk.feed import ranking, repository
from newstalk.feed.ranking import Candidates, Engagement, Interests, Pick
from newstalk.kit.api import decode_cursor, encode_cursor
from newstalk.kit.blas import one_blas_thread
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.listeners import repository as listeners_repository
from newstalk.listeners.models import FOLLOW, MUTE
from newstalk.providers.embeddings import E5_DIM, EmbeddingProvider, build_embeddings
from newstalk.stories.models import OPEN

log = logging.getLogger(__name__)

FEED_WINDOW = timedelta(hours=72)
REFRESH_S = 2.0
TRENDING_S = 60.0
REBUILD_S = 900.0
COMMIT_SLACK = timedelta(seconds=60)
PAGE_TTL_S = 1800.0
MAX_LISTENERS = 50_000
MAX_PAGES = 20_000
EXPLORATION_RATE = 1 / ranking.EXPLORE_EVERY
FIRST_DEPTH = 40  # items ranked for a first page; deeper pages extend the list
FIRST_PAGE_REUSE_S = 10.0  # a first page reuses the last ranking this long while its inputs hold


@dataclass(frozen=True, slots=True)
class StoryMeta:
    """What a feed item shows about a story, kept beside its row in the index."""

    title: str
    category: str | None
    languages: tuple[str, ...]
    keywords: tuple[str, ...]
    outlets: tuple[int, ...]  # most articles first
    article_count: int
    outlet_count: int
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One story in a listener's feed, with its rank, score and the reason it is there."""

    story_id: int
    rank: int
    score: float
    reason: str  # keyword | outlet | category | habit | similar | trending | recent | explore
    why: str  # the reason in the listener's language
    title: str
    category: str | None
    languages: tuple[str, ...]
    keywords: tuple[str, ...]
    outlets: tuple[str, ...]  # names, muted outlets left out
    article_count: int
    outlet_count: int
    trending_score: float
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next_cursor: str | None
    as_of: datetime


@dataclass
class Snapshot:
    candidates: Candidates
    meta: list[StoryMeta]
    rows: dict[int, int]  # story id -> row


def _epoch(value: datetime) -> float:
    return value.timestamp()


class StoryIndex:
    """Recent stories in memory, refreshed incrementally (see the module docstring)."""

    def __init__(self, window: timedelta = FEED_WINDOW) -> None:
        self.window = window
        self.snapshot: Snapshot | None = None
        self.outlet_names: dict[int, str] = {}
        self.watermark: datetime | None = None
        self.applied: dict[int, datetime] = {}  # story id -> the updated_at its row reflects
        self._checked = self._trended = self._built = 0.0
        self._lock = asyncio.Lock()
        self.version = 0  # bumped whenever the snapshot's stories or scores change

    async def current(self, session: AsyncSession) -> Snapshot:
        """The index, refreshed first when it is due; a request never waits for another's refresh."""
        now = time.monotonic()
        due = self.snapshot is None or now - self._checked >= REFRESH_S
        if not due:
            assert self.snapshot is not None
            return self.snapshot
        if self.snapshot is not None and self._lock.locked():
            return self.snapshot
        async with self._lock:
            if self.snapshot is None or now - self._built >= REBUILD_S:
                await self._rebuild(session)
            elif time.monotonic() - self._checked >= REFRESH_S:
                await self._update(session)
            if time.monotonic() - self._trended >= TRENDING_S:
                await self._retrend(session)
        assert self.snapshot is not None
        return self.snapshot

    def fresh(self, now: float) -> bool:
        """Whether ``current`` would answer without asking the database (not due for a refresh)."""
        return self.snapshot is not None and now - self._checked < REFRESH_S

    def invalidate(self) -> None:
        """Rebuild from the database on the next request (tests, or after bulk changes)."""
        self._built = self._checked = self._trended = -1e9
        self.snapshot = None
        self.version += 1

    async def _rebuild(self, session: AsyncSession) -> None:
        started = time.monotonic()
        since = utcnow() - self.window
        rows = await repository.recent_stories(session, seen_since=since, updated_after=None)
        outlets = await repository.story_outlets(session, seen_since=since, updated_after=None)
        self.outlet_names = await repository.outlet_names(session)
        self.snapshot = await asyncio.to_thread(_build, rows, outlets, None)
        self.version += 1
        self.applied = {r.id: r.updated_at for r in rows}
        self.watermark = max((r.updated_at for r in rows), default=None)
        self._built = self._checked = self._trended = time.monotonic()
        log.info(
            "feed: index built: %d stories in %.0f ms",
            len(self.snapshot.candidates),
            (time.monotonic() - started) * 1000,
        )

    async def _update(self, session: AsyncSession) -> None:
        self._checked = time.monotonic()
        since = utcnow() - self.window
        # Look back past the watermark: a transaction that stamped updated_at earlier may commit
        # after one we already read. Rows already applied at the same updated_at are skipped.
        after = self.watermark - COMMIT_SLACK if self.watermark else None
        rows = await repository.recent_stories(session, seen_since=since, updated_after=after)
        rows = [r for r in rows if self.applied.get(r.id) != r.updated_at]
        if not rows:
            return
        outlets = await repository.story_outlets(session, seen_since=since, updated_after=after)
        changed = {r.id for r in rows}
        outlets = [o for o in outlets if o.story_id in changed]
        if any(r.source_id not in self.outlet_names for r in outlets):
            self.outlet_names = await repository.outlet_names(session)
        self.snapshot = _build(rows, outlets, self.snapshot)
        self.version += 1
        self.applied.update((r.id, r.updated_at) for r in rows)
        self.watermark = max([r.updated_at for r in rows] + ([self.watermark] if self.watermark else []))

    async def _retrend(self, session: AsyncSession) -> None:
        self._trended = time.monotonic()
        snap = self.snapshot
        if snap is None:
            return
        rows = await repository.trending_scores(session, seen_since=utcnow() - self.window)
        trending = snap.candidates.trending
        for r in rows:
            row = snap.rows.get(r.id)
            if row is not None:
                trending[row] = r.trending_score
        self.version += 1


def _outlets_by_story(outlets: Sequence[Any]) -> dict[int, tuple[int, ...]]:
    grouped: dict[int, list[tuple[int, datetime, int]]] = {}
    for r in outlets:
        grouped.setdefault(r.story_id, []).append((-int(r.articles), r.first, int(r.source_id)))
    return {sid: tuple(o[2] for o in sorted(items)) for sid, items in grouped.items()}


def _build(rows: Sequence[Any], outlets: Sequence[Any], base: Snapshot | None) -> Snapshot:
    """A new snapshot: ``base`` with ``rows`` applied (or from ``rows`` alone); ``base`` is not changed."""
    by_story = _outlets_by_story(outlets)
    usable = [r for r in rows if r.status == OPEN and r.centroid is not None and r.article_count > 0]
    gone = {r.id for r in rows} - {r.id for r in usable}
    raw = (
        np.frombuffer(b"".join(r.centroid for r in usable), dtype=np.float32).reshape(len(usable), -1)
        if usable
        else np.zeros((0, base.candidates.vectors.shape[1] if base else E5_DIM), dtype=np.float32)
    )
    if base is None:
        mean = raw.mean(axis=0).astype(np.float32) if len(raw) else np.zeros(raw.shape[1], dtype=np.float32)
    else:
        mean = base.candidates.mean
    vectors, spread, mean_dot = ranking.centred(raw, mean)
    fresh = Candidates(
        ids=np.asarray([r.id for r in usable], dtype=np.int64),
        vectors=vectors,
        mean=mean,
        spread=spread,
        mean_dot=mean_dot,
        trending=np.asarray([r.trending_score or 0.0 for r in usable], dtype=np.float32),
        first_seen=np.asarray([_epoch(r.first_seen_at) for r in usable], dtype=np.float64),
        last_seen=np.asarray([_epoch(r.last_seen_at) for r in usable], dtype=np.float64),
        outlet_count=np.asarray([r.outlet_count for r in usable], dtype=np.int32),
        category=np.asarray(
            [ranking.CATEGORY_INDEX.get(r.category or "", ranking.NO_CATEGORY) for r in usable],
            dtype=np.int16,
        ),
        lead_outlet=np.asarray([(by_story.get(r.id) or (0,))[0] for r in usable], dtype=np.int64),
        languages=np.asarray([ranking.language_mask(r.languages or []) for r in usable], dtype=np.uint8),
        active=np.ones(len(usable), dtype=bool),
        titles=[r.title for r in usable],
        topic_text=[ranking.topic_text(r.title, r.keywords or [], r.category) for r in usable],
        outlets=[by_story.get(r.id, ()) for r in usable],
    )
    meta = [
        StoryMeta(
            title=r.title,
            category=r.category,
            languages=tuple(r.languages or ()),
            keywords=tuple(r.keywords or ()),
            outlets=by_story.get(r.id, ()),
            article_count=r.article_count,
            outlet_count=r.outlet_count,
            first_seen_at=r.first_seen_at,
            last_seen_at=r.last_seen_at,
        )
        for r in usable
    ]
    if base is None:
        return Snapshot(fresh, meta, {int(sid): i for i, sid in enumerate(fresh.ids)})
    return _merge(base, fresh, meta, gone)


ARRAYS = (
    "ids",
    "vectors",
    "spread",
    "mean_dot",
    "trending",
    "first_seen",
    "last_seen",
    "outlet_count",
    "category",
    "lead_outlet",
    "languages",
    "active",
)


def _merge(base: Snapshot, fresh: Candidates, meta: list[StoryMeta], gone: set[int]) -> Snapshot:
    """Overwrite changed rows in a copy of ``base``, append new ones, deactivate gone ones."""
    old = base.candidates
    rows = dict(base.rows)
    update_at: list[int] = []
    update_from: list[int] = []
    append_from: list[int] = []
    for i, sid in enumerate(fresh.ids.tolist()):
        if sid in rows:
            update_at.append(rows[sid])
            update_from.append(i)
        else:
            rows[sid] = len(old) + len(append_from)
            append_from.append(i)
    arrays = {}
    for name in ARRAYS:
        a = getattr(old, name)
        f = getattr(fresh, name)
        merged = np.concatenate([a, f[append_from]]) if append_from else a.copy()
        if update_at:
            merged[update_at] = f[update_from]
        arrays[name] = merged
    for sid in gone:
        row = rows.get(sid)
        if row is not None:
            arrays["active"][row] = False
    lists = {name: list(getattr(old, name)) for name in ("titles", "topic_text", "outlets")}
    all_meta = list(base.meta)
    for at, i in zip(update_at, update_from, strict=True):
        for name in lists:
            lists[name][at] = getattr(fresh, name)[i]
        all_meta[at] = meta[i]
    for i in append_from:
        for name in lists:
            lists[name].append(getattr(fresh, name)[i])
        all_meta.append(meta[i])
    fields: dict[str, Any] = {**arrays, **lists}
    cands = Candidates(mean=old.mean, **fields)
    return Snapshot(cands, all_meta, rows)


@dataclass
class ListenerState:
    engagement: Engagement
    prefs_stamp: datetime | None
    interests: Interests
    language: str
    keywords_missing: bool = False
    checked: float = -1e9  # monotonic time of the last freshness query that found it current
    writes: int | None = None  # the caller's owner_version at that query (None: not known)


@dataclass
class _Page:
    picks: list[Pick]
    story_ids: list[int]
    through_id: int
    created: float
    complete: bool


@dataclass(frozen=True, slots=True)
class _Listed:
    """A listener's ranked list and where a page starts in it (before slicing the items)."""

    snap: Snapshot
    st: ListenerState
    ranked: _Page
    as_ms: int
    offset: int
    as_of: datetime


@dataclass(frozen=True, slots=True)
class _Rendered:
    """A page's JSON and what it was built from (compared by identity where objects)."""

    index_version: int
    interests: Interests
    through_id: int
    ranked: _Page
    body: bytes


@dataclass(frozen=True, slots=True)
class _FirstPage:
    """What the last first page of a listener was ranked from, and at which instant."""

    as_ms: int
    created: float
    index_version: int
    interests: Interests
    through_id: int


@dataclass
class FeedEngine:
    """This process's feed state: the story index, listener profiles, ranked lists, keyword vectors."""

    embeddings: EmbeddingProvider | None = None
    index: StoryIndex = field(default_factory=StoryIndex)
    listeners: OrderedDict[int, ListenerState] = field(default_factory=OrderedDict)
    pages: OrderedDict[tuple[int, int], _Page] = field(default_factory=OrderedDict)
    first_pages: OrderedDict[int, _FirstPage] = field(default_factory=OrderedDict)
    rendered: OrderedDict[tuple[int, int, int, int], _Rendered] = field(default_factory=OrderedDict)
    keyword_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    _pending: set[str] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def keywords_ready(self) -> None:
        """Wait until every keyword asked for so far is embedded (tests; start-up warming)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _embed_later(self, words: Sequence[str]) -> None:
        todo = [w for w in words if w not in self.keyword_vectors and w not in self._pending]
        if not todo or self.embeddings is None:
            return
        self._pending.update(todo)
        provider = self.embeddings

        async def run() -> None:
            try:
                vectors = await asyncio.to_thread(provider.encode, todo)
                for word, vec in zip(todo, vectors, strict=True):
                    self.keyword_vectors[word] = np.asarray(vec, dtype=np.float32)
            except Exception:
                log.exception("feed: embedding keywords %s failed; they match by text only", todo)
            finally:
                self._pending.difference_update(todo)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _interests(self, prefs: Any, choices: Sequence[Any]) -> tuple[Interests, str, bool]:
        keywords = tuple(prefs.keywords) if prefs else ()
        self._embed_later(list(keywords))
        vectors = [self.keyword_vectors[k] for k in keywords if k in self.keyword_vectors]
        embedded = tuple(k for k in keywords if k in self.keyword_vectors)
        languages = tuple(prefs.languages) if prefs else ()
        interests = Interests(
            categories=frozenset(prefs.categories) if prefs else frozenset(),
            keywords=keywords,
            keyword_vectors=np.asarray(vectors, dtype=np.float32) if vectors else None,
            vector_keywords=embedded,
            languages=languages,
            followed_outlets=frozenset(c.source_id for c in choices if c.stance == FOLLOW),
            muted_outlets=frozenset(c.source_id for c in choices if c.stance == MUTE),
            muted_topics=tuple(t.casefold() for t in (prefs.muted_topics if prefs else ())),
        )
        # Until a keyword is embedded (off the request path) it matches stories by text only.
        language = next((lang for lang in languages if lang in ("ko", "en")), "")
        if not language:
            hangul = any("\uac00" <= ch <= "\ud7a3" for k in keywords for ch in k)
            language = "ko" if hangul else "en"
        return interests, language, embedded != keywords and self.embeddings is not None

    async def state(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        up_to_id: int | None = None,
        writes: int | None = None,
    ) -> ListenerState:
        """A listener's current profile, catching up with feedback and preference changes.

        ``writes`` is the listener's ``PageCache.owner_version`` in this process: while it is
        unchanged and the last freshness query is under ``REFRESH_S`` old, the query is skipped
        (their own writes through this process move it at once; other processes' within
        ``REFRESH_S``, as for stories).
        """
        st = self.listeners.get(user_id)
        started = time.monotonic()
        if up_to_id is None and st is not None and not st.keywords_missing:
            if writes is not None and st.writes == writes and started - st.checked < REFRESH_S:
                self.listeners.move_to_end(user_id)
                return st  # checked a moment ago and nothing was written through this process since
            stamp, newest = await repository.listener_stamp(session, user_id)
            if stamp == st.prefs_stamp and newest <= st.engagement.through_id:
                st.checked, st.writes = started, writes
                self.listeners.move_to_end(user_id)
                return st  # the common case: one small query
        prefs = await listeners_repository.get_preferences(session, user_id)
        stamp = prefs.updated_at if prefs else None
        if up_to_id is not None and (st is None or st.engagement.through_id != up_to_id):
            st = None  # a frozen page being re-ranked: build the profile as it was, do not cache it
            cache = False
        else:
            cache = True
        if st is None or st.prefs_stamp != stamp or st.keywords_missing:
            choices = await listeners_repository.outlet_choices(session, user_id) if prefs else []
            interests, language, missing = self._interests(prefs, choices)
            engagement = st.engagement if st is not None else Engagement.empty(E5_DIM)
            st = ListenerState(engagement, stamp, interests, language, missing)
        rows = await repository.feedback_with_stories(
            session,
            user_id,
            after_id=st.engagement.through_id,
            up_to_id=up_to_id,
            limit=ranking.MAX_EVENTS,
        )
        for r in reversed(rows):
            st.engagement.add(
                event_id=r.id,
                story_id=r.story_id,
                kind=r.kind,
                percent=r.percent,
                at=_epoch(r.created_at),
                vector=np.frombuffer(r.centroid, dtype=np.float32) if r.centroid else None,
                category=r.category,
                title=r.title,
            )
        if cache:
            st.checked, st.writes = started, writes
            self.listeners[user_id] = st
            self.listeners.move_to_end(user_id)
            while len(self.listeners) > MAX_LISTENERS:
                self.listeners.popitem(last=False)
        return st

    async def page(
        self, session: AsyncSession, user_id: int, *, limit: int, cursor: str | None = None
    ) -> FeedPage:
        """One page of a listener's feed; the cursor pins the instant and profile the list was ranked at."""
        listed = await self._list(session, user_id, limit=limit, cursor=cursor, writes=None)
        return self._slice(listed, limit)

    async def page_json(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        limit: int,
        cursor: str | None,
        render: Callable[[FeedPage], bytes],
        writes: int | None = None,
    ) -> bytes:
        """``render(page(...))``, reusing the last rendering of this page while nothing it was built from changed.

        The bytes are kept per listener, instant, offset and limit, and used again only while
        the story index version, the listener's interests, the newest feedback folded in and
        the ranked list itself are the same objects they were built from.
        """
        listed = await self._list(session, user_id, limit=limit, cursor=cursor, writes=writes)
        key = (user_id, listed.as_ms, listed.offset, limit)
        kept = self.rendered.get(key)
        if (
            kept is not None
            and kept.index_version == self.index.version
            and kept.interests is listed.st.interests
            and kept.through_id == listed.st.engagement.through_id
            and kept.ranked is listed.ranked
        ):
            self.rendered.move_to_end(key)
            return kept.body
        body = render(self._slice(listed, limit))
        self.rendered[key] = _Rendered(
            self.index.version, listed.st.interests, listed.st.engagement.through_id, listed.ranked, body
        )
        self.rendered.move_to_end(key)
        while len(self.rendered) > MAX_PAGES:
            self.rendered.popitem(last=False)
        return body

    async def _list(
        self, session: AsyncSession, user_id: int, *, limit: int, cursor: str | None, writes: int | None
    ) -> _Listed:
        through: int | None = None
        if cursor:
            as_ms, offset, through = _parse_cursor(cursor)
        else:
            as_ms, offset = int(utcnow().timestamp() * 1000), 0
        snap = await self.index.current(session)
        st = await self.state(session, user_id, writes=writes)
        if not cursor:
            as_ms = self._first_page_instant(user_id, st, as_ms)
        as_of = datetime.fromtimestamp(as_ms / 1000, UTC)
        key = (user_id, as_ms)
        cached = self.pages.get(key)
        if cached is not None and time.monotonic() - cached.created > PAGE_TTL_S:
            cached = None
        need = offset + limit
        if cached is None or (need > len(cached.story_ids) and not cached.complete):
            # Rank at the page's instant with the profile as it was then, so another process (or
            # an expired list) gives the same order; items already served keep their places.
            frozen = st
            pinned = cached.through_id if cached is not None else through
            if pinned is not None and pinned != st.engagement.through_id:
                frozen = await self.state(session, user_id, up_to_id=pinned)
            frozen.engagement.decay_to(as_of.timestamp())
            depth = min(max(need + limit, FIRST_DEPTH), ranking.SHORTLIST)
            with one_blas_thread():
                picks = ranking.rank(
                    snap.candidates,
                    frozen.engagement,
                    frozen.interests,
                    now=as_of,
                    user_key=str(user_id),
                    window_s=self.index.window.total_seconds(),
                    depth=depth,
                )
            ids = [int(snap.candidates.ids[p.row]) for p in picks]
            complete = len(picks) < depth or depth >= ranking.SHORTLIST
            if cached is not None:
                served = set(cached.story_ids)
                keep = [(p, i) for p, i in zip(picks, ids, strict=True) if i not in served]
                picks = cached.picks + [p for p, _ in keep]
                ids = cached.story_ids + [i for _, i in keep]
            cached = _Page(picks, ids, frozen.engagement.through_id, time.monotonic(), complete)
            self.pages[key] = cached
            self.pages.move_to_end(key)
            while len(self.pages) > MAX_PAGES:
                self.pages.popitem(last=False)
        return _Listed(snap, st, cached, as_ms, offset, as_of)

    def _slice(self, listed: _Listed, limit: int) -> FeedPage:
        snap, st, cached = listed.snap, listed.st, listed.ranked
        items: list[FeedItem] = []
        position = listed.offset
        while position < len(cached.story_ids) and len(items) < limit:
            item = self._item(snap, st, cached.picks[position], cached.story_ids[position], position + 1)
            position += 1
            if item is not None:
                items.append(item)
        next_cursor = (
            encode_cursor(listed.as_ms, position, cached.through_id)
            if position < len(cached.story_ids)
            else None
        )
        return FeedPage(items, next_cursor, listed.as_of)

    def still_current(
        self, user_id: int, *, first_page: bool, writes: Callable[[], int]
    ) -> Callable[[], bool]:
        """A check that a page just built for this listener would come out the same right now.

        True while the story index is not due for a refresh and has the same version, the
        listener's profile is the same object, checked under ``REFRESH_S`` ago with nothing
        written through this process since (``writes``: their owner_version now), and a
        first page would still reuse the same ranking. The page cache asks it on every hit
        of the listener's cached feed page, so such a hit is the answer the endpoint would give.
        """
        version = self.index.version
        st = self.listeners.get(user_id)
        if st is None:
            return lambda: False
        interests, through = st.interests, st.engagement.through_id
        first = self.first_pages.get(user_id) if first_page else None

        def check() -> bool:
            now = time.monotonic()
            if self.index.version != version or not self.index.fresh(now):
                return False
            if self.listeners.get(user_id) is not st or st.interests is not interests:
                return False
            if st.engagement.through_id != through or st.keywords_missing:
                return False
            if st.writes is None or st.writes != writes() or now - st.checked >= REFRESH_S:
                return False
            if first_page:
                if first is None or self.first_pages.get(user_id) is not first:
                    return False
                if now - first.created >= FIRST_PAGE_REUSE_S:
                    return False
            return True

        return check

    def _first_page_instant(self, user_id: int, st: ListenerState, now_ms: int) -> int:
        """The instant of the listener's last first page while nothing it was ranked from changed, else now."""
        last = self.first_pages.get(user_id)
        now = time.monotonic()
        if (
            last is not None
            and now - last.created < FIRST_PAGE_REUSE_S
            and last.index_version == self.index.version
            and last.interests is st.interests
            and last.through_id == st.engagement.through_id
            and (user_id, last.as_ms) in self.pages
        ):
            return last.as_ms
        self.first_pages[user_id] = _FirstPage(
            now_ms, now, self.index.version, st.interests, st.engagement.through_id
        )
        self.first_pages.move_to_end(user_id)
        while len(self.first_pages) > MAX_LISTENERS:
            self.first_pages.popitem(last=False)
        return now_ms

    def _item(
        self, snap: Snapshot, st: ListenerState, pick: Pick, story_id: int, rank: int
    ) -> FeedItem | None:
        row = snap.rows.get(story_id)
        if row is None or not snap.candidates.active[row]:
            return None  # merged away or deleted since the list was ranked
        if ranking.blocked(snap.candidates, row, st.interests):
            return None  # muted after the list was ranked
        meta = snap.meta[row]
        names = self.index.outlet_names
        outlets = tuple(
            names.get(o, f"source {o}") for o in meta.outlets if o not in st.interests.muted_outlets
        )
        why = self._why(snap, st, pick)
        return FeedItem(
            story_id=story_id,
            rank=rank,
            score=round(pick.score, 4),
            reason=pick.reason,
            why=why,
            title=meta.title,
            category=meta.category,
            languages=meta.languages,
            keywords=meta.keywords,
            outlets=outlets,
            article_count=meta.article_count,
            outlet_count=meta.outlet_count,
            trending_score=float(snap.candidates.trending[row]),
            first_seen_at=meta.first_seen_at,
            last_seen_at=meta.last_seen_at,
        )

    def _why(self, snap: Snapshot, st: ListenerState, pick: Pick) -> str:
        if pick.reason == "similar":
            anchor = st.engagement.anchors.get(int(pick.argument))
            if anchor is not None:
                return ranking.explain("similar", "", st.language, story=anchor.title, kind=anchor.kind)
            return ranking.explain("recent", "", st.language)
        if pick.reason == "outlet":
            name = self.index.outlet_names.get(int(pick.argument), "")
            return ranking.explain("outlet", pick.argument, st.language, outlet=name)
        return ranking.explain(pick.reason, pick.argument, st.language)


def _parse_cursor(cursor: str) -> tuple[int, int, int]:
    as_ms, offset, through = decode_cursor(cursor, 3)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (as_ms, offset, through)):
        raise InvalidInput("feed: cursor is not valid; pass the next_cursor of a previous page")
    if offset > ranking.SHORTLIST or as_ms > (time.time() + 60) * 1000:
        raise InvalidInput("feed: cursor is not valid; pass the next_cursor of a previous page")
    return as_ms, offset, through


_ENGINES: weakref.WeakKeyDictionary[Any, FeedEngine] = weakref.WeakKeyDictionary()


def engine_for(session: AsyncSession, embeddings: EmbeddingProvider | None = None) -> FeedEngine:
    """The feed state of this process for the session's database (built on first use, never at import).

    Keyed by the connection pool, which the read-only and writing engines of one database share.
    """
    bind = session.get_bind()
    key = bind.pool if isinstance(bind, Engine) else bind.engine.pool
    engine = _ENGINES.get(key)
    if engine is None:
        if embeddings is None:
            # The configured provider; it loads its model only when a keyword needs embedding.
            with contextlib.suppress(ConfigError, ValueError):
                embeddings = build_embeddings(load_settings())
        engine = FeedEngine(embeddings=embeddings)
        _ENGINES[key] = engine
    elif embeddings is not None and engine.embeddings is None:
        engine.embeddings = embeddings
    return engine


async def rank_for_listener(
    session_or_uow: AsyncSession | UnitOfWork,
    user_id: int,
    limit: int = 20,
    *,
    engine: FeedEngine | None = None,
) -> list[FeedItem]:
    """The listener's top ``limit`` stories right now, best first, each with its reason (briefings use this)."""
    session = session_or_uow.session if isinstance(session_or_uow, UnitOfWork) else session_or_uow
    engine = engine or engine_for(session)
    page = await engine.page(session, user_id, limit=min(max(limit, 1), ranking.SHORTLIST))
    return page.items
