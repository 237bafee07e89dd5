"""Search decisions: what a document's index entry holds, and how a query is answered.

Indexing reads in one session, tokenizes outside any transaction (Kiwi is the slow
part) and writes in the caller's unit; text that did not change (same sha256) is never
tokenized again, so a story update that only changes its members' category is cheap.

A query runs the text search in SQL and the semantic search over the in-memory matrix
(``vectors.py``), fuses them by reciprocal rank in hybrid mode, and then re-reads the
page's documents from the database with the same filters, so a hit deleted since the
matrix was read is dropped rather than shown.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from newstalk.errors import Unavailable
from newstalk.factcheck.checker import rrf, tied_ranks
from newstalk.kit.db import Database, UnitOfWork, utcnow
from newstalk.kit.resources import ResourceKey
from newstalk.providers.embeddings import E5SmallEmbeddings, EmbeddingProvider, shared_embeddings
from newstalk.search import repository
from newstalk.search.models import ARTICLE, STORY, SearchDoc
from newstalk.search.repository import Filters
from newstalk.search.schemas import SearchHit, SearchPage
from newstalk.search.terms import clean, document_terms, query_terms, snippet
from newstalk.search.vectors import Entry, VectorFilter, VectorIndex
from newstalk.stories.models import OPEN, Story
from newstalk.stories.schemas import summary_of

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from newstalk.pipeline.context import StageServices

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "text", "semantic"]

MAX_RESULTS = 200  # offset + limit never reach past this many hits
HYBRID_DEPTH = 100  # candidates each retriever brings to the fusion
VECTOR_REFRESH_S = 2.0  # how stale the in-memory matrix may get before a refresh starts
VECTOR_RECONCILE_S = 60.0  # how often deleted/missed rows are reconciled by id
CHANGE_OVERLAP = timedelta(seconds=60)  # rereads rows of transactions that committed late
# The rank a retriever gives a document it did not return: 1/(60 + 1e9) is nothing.
MISSING_RANK = 10**9
QUERY_CACHE = 256  # query vectors kept (a few hundred KB): the next page or a reload is not embedded again


class E5Queries:
    """multilingual-e5-small with the ``"query: "`` prefix (documents were embedded as passages).

    Runs on the process's shared e5 model (``shared_embeddings``), so search loads no
    second copy of it. Query vectors are kept in a small LRU (``QUERY_CACHE`` entries): a
    repeated query (the next page, a reload) is not embedded again.
    """

    name = "e5-small"

    def __init__(self, model: E5SmallEmbeddings, *, cache_size: int = 0) -> None:
        self._model = model
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Vector dimension (384)."""
        return self._model.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as e5 queries; (n, 384) float32, L2-normalized."""
        if not self._cache_size:
            return self._model.encode_queries(texts)
        with self._cache_lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = self._model.encode_queries(missing)
            with self._cache_lock:
                for t, v in zip(missing, fresh, strict=True):
                    known[t] = v
                    self._cache[t] = v
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def _one_openmp_thread() -> None:
    """Make the query thread's OpenMP regions single-threaded (this thread's setting only).

    e5 parallelizes each layer over OpenMP threads that spin at a barrier; when the other core
    is busy (the pipeline runs in the same process, other processes share the machine) a query
    waits for a descheduled partner at every layer, and a 3-8 token query is too short to gain
    from a second thread anyway. ``benchmarks/search_query.py`` measures both.
    ``omp_set_num_threads`` is per calling thread in libgomp, so passages embedded on other
    threads keep the encoder's own setting.
    """
    from threadpoolctl import ThreadpoolController

    ThreadpoolController().limit(limits=1, user_api="openmp")


@functools.cache
def _query_thread() -> ThreadPoolExecutor:
    """The one thread queries are embedded and scored on (e5 serializes calls on one lock anyway)."""
    return ThreadPoolExecutor(1, thread_name_prefix="search-query", initializer=_one_openmp_thread)


@dataclass(slots=True)
class DocInput:
    """One article or story as the index will hold it."""

    kind: str
    ref_id: int
    source_id: int | None
    languages: str
    category: str | None
    published_at: datetime
    title: str
    parts: list[str]
    has_vector: bool
    terms: str | None = None

    @property
    def text_hash(self) -> str:
        text = "\x1f".join([self.title, *self.parts])
        return hashlib.sha256(clean(text).encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Prepared:
    """Documents to write (terms computed where the text changed) and stories to drop."""

    docs: list[DocInput] = field(default_factory=list)
    drop_stories: list[int] = field(default_factory=list)


def _story_input(story: Story) -> DocInput:
    return DocInput(
        kind=STORY,
        ref_id=story.id,
        source_id=None,
        languages=" ".join(story.languages),
        category=story.category,
        published_at=story.last_seen_at,
        title=story.title,
        parts=[*story.summary, " ".join(story.keywords)],
        has_vector=story.centroid is not None,
    )


async def prepare(
    db: Database, *, article_ids: Sequence[int] = (), story_ids: Sequence[int] = ()
) -> Prepared:
    """Read what these articles and stories should look like in the index and tokenize changed text.

    A story's members are re-read too: they carry its category and may have gained an embedding.
    """
    out = Prepared()
    async with db.read() as session:
        stories = await repository.stories_by_id(session, sorted(set(story_ids))) if story_ids else []
        live = [s for s in stories if s.status == OPEN and s.article_count > 0]
        out.drop_stories = sorted(set(story_ids) - {s.id for s in live})
        members = await repository.member_article_ids(session, [s.id for s in live]) if live else []
        wanted = sorted(set(article_ids) | set(members))
        rows = await repository.articles_to_index(session, wanted) if wanted else []
        for r in rows:
            out.docs.append(
                DocInput(
                    kind=ARTICLE,
                    ref_id=r.id,
                    source_id=r.source_id,
                    languages=r.language,
                    category=r.category,
                    published_at=r.published_at,
                    title=r.title,
                    parts=[r.summary or "", r.body or ""],
                    has_vector=bool(r.has_vector),
                )
            )
        out.docs.extend(_story_input(s) for s in live)
        known = {
            **{
                (ARTICLE, k): d.text_hash
                for k, d in (await repository.docs_for(session, kind=ARTICLE, ref_ids=wanted)).items()
            },
            **{
                (STORY, k): d.text_hash
                for k, d in (
                    await repository.docs_for(session, kind=STORY, ref_ids=[s.id for s in live])
                ).items()
            },
        }
    changed = [d for d in out.docs if known.get((d.kind, d.ref_id)) != d.text_hash]
    if changed:
        await asyncio.to_thread(_tokenize, changed)
    return out


def _tokenize(docs: Sequence[DocInput]) -> None:
    for doc in docs:
        doc.terms = document_terms(doc.title, doc.parts)


async def apply(uow: UnitOfWork, prepared: Prepared) -> int:
    """Write prepared documents in the caller's unit; returns how many rows changed."""
    session = uow.session
    now = utcnow()
    await repository.delete_story_docs(session, prepared.drop_stories)
    changed = len(prepared.drop_stories)
    for kind in (ARTICLE, STORY):
        docs = [d for d in prepared.docs if d.kind == kind]
        if not docs:
            continue
        ref_ids = [d.ref_id for d in docs]
        existing = await repository.docs_for(session, kind=kind, ref_ids=ref_ids)
        alive = await repository.existing_ids(session, kind=kind, ref_ids=ref_ids)
        for doc in docs:
            if doc.ref_id not in alive:
                continue  # deleted since it was read
            row = existing.get(doc.ref_id)
            text_hash = doc.text_hash
            if row is None:
                row = SearchDoc(
                    kind=kind,
                    article_id=doc.ref_id if kind == ARTICLE else None,
                    story_id=doc.ref_id if kind == STORY else None,
                    text_hash="",
                    terms="",
                )
                session.add(row)
            if _update(row, doc, text_hash):
                row.indexed_at = now
                changed += 1
    await session.flush()
    return changed


def _update(row: SearchDoc, doc: DocInput, text_hash: str) -> bool:
    values: dict[str, Any] = {
        "source_id": doc.source_id,
        "languages": doc.languages[:64],
        "category": doc.category,
        "published_at": doc.published_at,
        "has_vector": doc.has_vector,
    }
    if row.text_hash != text_hash:
        values["terms"] = doc.terms if doc.terms is not None else document_terms(doc.title, doc.parts)
        values["text_hash"] = text_hash
    dirty = False
    for name, value in values.items():
        if getattr(row, name, None) != value:
            setattr(row, name, value)
            dirty = True
    return dirty


async def reindex(db: Database, *, batch: int = 500, progress: Any = None) -> int:
    """Rebuild the whole index from articles and open stories; returns documents written."""
    async with db.unit() as uow:
        await repository.delete_all(uow.session)
    async with db.read() as session:
        total = await repository.count_articles(session)
        story_ids = await repository.open_story_ids(session)
    done, after, started = 0, 0, time.monotonic()
    while True:
        async with db.read() as session:
            ids = await repository.all_article_ids(session, after=after, limit=batch)
        if not ids:
            break
        prepared = await prepare(db, article_ids=ids)
        async with db.unit() as uow:
            await apply(uow, prepared)
        done, after = done + len(ids), ids[-1]
        if progress is not None:
            progress("articles", done, total, time.monotonic() - started)
    for start in range(0, len(story_ids), batch):
        chunk = story_ids[start : start + batch]
        prepared = await prepare(db, story_ids=chunk)
        prepared.docs = [d for d in prepared.docs if d.kind == STORY]  # members were just indexed
        async with db.unit() as uow:
            await apply(uow, prepared)
        if progress is not None:
            progress("stories", start + len(chunk), len(story_ids), time.monotonic() - started)
    return done + len(story_ids)


@dataclass
class VectorState:
    """This process's vector matrix and when it last looked at the database."""

    index: VectorIndex | None = None
    watermark: datetime | None = None
    refreshed: float = 0.0
    reconciled: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None


VECTORS: ResourceKey[VectorState] = ResourceKey("search.vectors")
ENCODER: ResourceKey[EmbeddingProvider] = ResourceKey("search.encoder")


def _timestamp(value: datetime) -> float:
    return value.replace(tzinfo=UTC).timestamp() if value.tzinfo is None else value.timestamp()


def _entries(rows: Sequence[Any], sources: dict[int, set[int]]) -> list[Entry]:
    out = []
    for r in rows:
        if r.vector is None:
            continue
        is_story = r.kind == STORY
        out.append(
            Entry(
                doc_id=int(r.id),
                is_story=is_story,
                languages=r.languages.split(),
                category=r.category,
                source_ids=sorted(sources.get(r.story_id, ())) if is_story else [int(r.source_id)],
                timestamp=_timestamp(r.published_at),
                vector=np.frombuffer(r.vector, dtype=np.float32),
            )
        )
    return out


async def refresh_vectors(services: StageServices, *, full: bool = False) -> VectorIndex:
    """Read changed documents into this process's matrix (all of them the first time)."""
    state = services.resources.get_or_build(VECTORS, VectorState)
    async with state.lock:
        return await _refresh_locked(services, state, full=full)


async def _refresh_locked(services: StageServices, state: VectorState, *, full: bool) -> VectorIndex:
    started = time.monotonic()
    now = utcnow()
    since = (
        None if full or state.index is None or state.watermark is None else state.watermark - CHANGE_OVERLAP
    )
    async with services.db.read() as session:
        rows = await repository.vector_rows(session, changed_since=since)
        story_ids = [int(r.story_id) for r in rows if r.kind == STORY]
        sources = await repository.story_sources(session, story_ids) if story_ids else {}
        reconcile = state.index is not None and started - state.reconciled >= VECTOR_RECONCILE_S
        ids = await repository.doc_ids(session) if reconcile else None
    entries = _entries(rows, sources)
    index = state.index
    if index is None or since is None:
        dim = len(entries[0].vector) if entries else (await encoder(services)).dim
        index = VectorIndex(dim, capacity=len(entries) + 1024)
        state.reconciled = started
    index.upsert(e for e in entries if len(e.vector) == index.dim)
    changed_out = {int(r.id) for r in rows} - {e.doc_id for e in entries}
    index.remove(changed_out)
    if ids is not None:
        index.remove(index.doc_ids() - ids)
        state.reconciled = started
    state.index, state.watermark, state.refreshed = index, now, started
    return index


async def vectors(services: StageServices) -> VectorIndex:
    """The matrix to search now; a stale one is refreshed in the background (the first load waits)."""
    state = services.resources.get_or_build(VECTORS, VectorState)
    if state.index is None:
        return await refresh_vectors(services)
    stale = time.monotonic() - state.refreshed >= VECTOR_REFRESH_S
    if stale and (state.task is None or state.task.done()) and not state.lock.locked():
        state.task = asyncio.create_task(_background_refresh(services))
    return state.index


async def _background_refresh(services: StageServices) -> None:
    try:
        await refresh_vectors(services)
    except Exception:
        log.exception("search: refreshing the vector index failed; the previous one stays in use")


async def encoder(services: StageServices) -> EmbeddingProvider:
    """The query encoder: e5 with its query prefix, or the configured provider as it is."""
    return services.resources.get_or_build(ENCODER, lambda: _build_encoder(services))


def _build_encoder(services: StageServices) -> EmbeddingProvider:
    shared = shared_embeddings(services.resources, services.settings)
    return E5Queries(shared, cache_size=QUERY_CACHE) if isinstance(shared, E5SmallEmbeddings) else shared


@dataclass(frozen=True, slots=True)
class SearchRequest:
    q: str
    mode: Mode
    filters: Filters
    limit: int
    offset: int


def _vector_filter(flt: Filters) -> VectorFilter:
    return VectorFilter(
        stories=None if flt.kind is None else flt.kind == STORY,
        language=flt.language,
        category=flt.category,
        source_id=flt.source_id,
        since=flt.since.timestamp() if flt.since else None,
        until=flt.until.timestamp() if flt.until else None,
    )


async def _text_hits(
    session: AsyncSession, terms: list[str], flt: Filters, depth: int, fill: int
) -> list[tuple[int, float]]:
    hits = await repository.text_search(session, terms, flt, any_term=False, limit=depth)
    # Any-term matching ranks many more rows, so it only runs when the page is not full.
    if len(hits) < fill and len(terms) > 1:
        # Fewer than wanted hold every term: fill up with documents holding some, ranked below.
        seen = {i for i, _ in hits}
        floor = min((s for _, s in hits), default=0.0)
        extra = await repository.text_search(session, terms, flt, any_term=True, limit=depth)
        hits += [(i, min(s, floor) - 1e-6 * (n + 1)) for n, (i, s) in enumerate(extra) if i not in seen]
    return hits[:depth]


async def _semantic_hits(
    services: StageServices, q: str, flt: Filters, depth: int
) -> list[tuple[int, float]]:
    index = await vectors(services)
    enc = await encoder(services)
    found = index.candidates(_vector_filter(flt))
    if found is None:
        return []  # nothing passes the filters: no need to encode the query

    def encode_and_score() -> np.ndarray:
        vector = enc.encode([q])[0]
        if len(vector) != index.dim:
            raise Unavailable(
                f"search: stored embeddings have {index.dim} dimensions but the query encoder gives "
                f"{len(vector)}; NEWSTALK_EMBEDDING_* must name the model the articles were embedded with"
            )
        return found.scores(vector)

    # e5 and the ~10 ms product over every row both release the GIL: in the query thread they
    # leave the event loop free (a hybrid query's text search, other requests) meanwhile.
    scores = await asyncio.get_running_loop().run_in_executor(_query_thread(), encode_and_score)
    return found.top(scores, depth)


def fuse(text: Sequence[tuple[int, float]], semantic: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion; a retriever that missed a document adds (almost) nothing for it."""
    ids = list(dict.fromkeys([i for i, _ in text] + [i for i, _ in semantic]))
    if not ids:
        return []
    rankings = []
    for hits in (text, semantic):
        ranks = tied_ranks(dict(hits))
        rankings.append({i: ranks.get(i, MISSING_RANK) for i in ids})
    fused = rrf(*rankings)
    return sorted(fused.items(), key=lambda kv: (-kv[1], ids.index(kv[0])))


async def search(services: StageServices, req: SearchRequest) -> tuple[SearchPage, bool]:
    """Answer a query; returns the page and whether more hits follow it."""
    q = clean(req.q)
    terms = query_terms(q)
    # One more than the page needs, to know whether another page follows.
    want = min(MAX_RESULTS, req.offset + req.limit + 1)
    depth = want if req.mode != "hybrid" else max(want, HYBRID_DEPTH)
    text: list[tuple[int, float]] = []
    semantic: list[tuple[int, float]] = []
    do_text = req.mode in ("text", "hybrid") and bool(terms)
    do_semantic = req.mode in ("semantic", "hybrid") and bool(q.strip())
    # One read session for the text search and the page's documents: hydrating reuses the
    # connection the text search opened (no second checkout, BEGIN and rollback on the
    # critical path, which under CPU contention each wait for a thread to be scheduled).
    # The session connects on first use, so a semantic-only query still opens it only to hydrate.
    async with services.db.read() as session:
        if do_text and do_semantic:
            # SQLite (aiosqlite's thread) and e5 (a worker thread) both release the GIL: in hybrid
            # mode they overlap instead of adding up.
            text, semantic = await asyncio.gather(
                _text_hits(session, terms, req.filters, depth, want),
                _semantic_hits(services, q, req.filters, depth),
            )
        elif do_text:
            text = await _text_hits(session, terms, req.filters, depth, want)
        elif do_semantic:
            semantic = await _semantic_hits(services, q, req.filters, depth)
        ranked = text if req.mode == "text" else semantic if req.mode == "semantic" else fuse(text, semantic)
        page = ranked[req.offset : req.offset + req.limit]
        found = {"text": {i for i, _ in text}, "semantic": {i for i, _ in semantic}}
        items = await _hydrate(session, page, terms, req.filters, found)
    more = len(ranked) > req.offset + req.limit and req.offset + req.limit < MAX_RESULTS
    return SearchPage(query=req.q, mode=req.mode, terms=terms, items=items, next_cursor=None), more


async def _hydrate(
    session: AsyncSession,
    page: Sequence[tuple[int, float]],
    terms: list[str],
    flt: Filters,
    found: dict[str, set[int]],
) -> list[SearchHit]:
    ids = [i for i, _ in page]
    articles = {int(r.doc_id): r for r in await repository.hydrate_articles(session, ids, flt)}
    stories = dict(await repository.hydrate_stories(session, ids, flt))
    out: list[SearchHit] = []
    for doc_id, score in page:
        matched: list[Literal["text", "semantic"]] = [k for k in ("text", "semantic") if doc_id in found[k]]
        if (a := articles.get(doc_id)) is not None:
            hit = _hit("article", a.id, a.title, a.body or "", terms, score, matched)
            hit.language, hit.published_at, hit.url = a.language, a.published_at, a.url
            hit.source_id, hit.outlet, hit.story_id = a.source_id, a.outlet, a.story_id
        elif (s := stories.get(doc_id)) is not None:
            hit = _hit("story", s.id, s.title, " ".join(s.summary), terms, score, matched)
            hit.language = s.languages[0] if s.languages else None
            hit.published_at, hit.story = s.last_seen_at, summary_of(s)
        else:
            continue  # deleted or filtered out since the ranking was made
        out.append(hit)
    return out


def _hit(
    kind: Literal["story", "article"],
    ref_id: int,
    title: str,
    body: str,
    terms: list[str],
    score: float,
    matched: list[Literal["text", "semantic"]],
) -> SearchHit:
    text, spans = snippet(body, terms)
    shown_title, title_spans = snippet(title, terms, width=1000)
    return SearchHit(
        type=kind,
        id=ref_id,
        title=shown_title,
        snippet=text,
        highlights=spans,
        title_highlights=title_spans,
        score=round(score, 6),
        matched=matched,
    )
