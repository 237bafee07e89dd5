"""create_app(): the FastAPI application; its lifespan builds and closes every resource."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from newstalk import __version__
from newstalk.config import Settings, load_settings
from newstalk.deps import enforce_rate_limit
from newstalk.kit import metrics
from newstalk.kit.api import (
    BodyLimitMiddleware,
    MetricsMiddleware,
    NoStoreMiddleware,
    PageCache,
    PageCacheMiddleware,
    RequestContextMiddleware,
    install_error_handlers,
)
from newstalk.kit.logs import install_redaction
from newstalk.kit.ratelimit import DEFAULT_ROUTE_LIMITS, Policy, RateLimitHeadersMiddleware
from newstalk.kit.text import CleanTextMiddleware
from newstalk.runtime import Services
from newstalk.web import app as web
from newstalk.web.session import CookieAuthMiddleware, SecurityHeadersMiddleware

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, run_pipeline: bool = False, demo: bool = False
) -> FastAPI:
    """The API; with ``run_pipeline`` it also runs the scheduler and every stage (``newstalk up``)."""
    settings = settings or load_settings()
    install_redaction()
    metrics.BACKUP_STATUS.path = settings.backup_status_file
    metrics.BUILD_INFO.labels(__version__).set(1)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings)
        app.state.services = services
        app.state.rate_limits = (
            Policy(
                services.limiter,
                settings.rate_limit_per_minute,
                {**DEFAULT_ROUTE_LIMITS, **settings.rate_limit_routes},
            )
            if settings.rate_limit_per_minute > 0
            else None
        )
        from newstalk.delivery.live import LiveHub

        app.state.live = live_hub = LiveHub(services)
        # Logouts, role changes and key revocations in other processes clear this one's
        # principal cache at once (looked up per message: deps builds it on first use).
        stop_invalidations = services.principal_fanout.listen(
            lambda: getattr(app.state, "principal_cache", None)
        )
        # Called on SIGTERM before uvicorn waits for connections: open SSE streams end now.
        app.state.exit_hooks = [live_hub.request_stop]
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if run_pipeline:
            from newstalk.pipeline.runner import start_pipeline

            tasks = start_pipeline(services, stop)
        try:
            yield
        finally:
            stop.set()
            stop_invalidations()
            await live_hub.aclose()
            if tasks:
                _done, pending = await asyncio.wait(tasks, timeout=settings.fetch_timeout_s + 5)
                for task in pending:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*pending, return_exceptions=True)
            await services.aclose()

    app = FastAPI(
        title="NewsTalk",
        version=__version__,
        summary="Self-hosted AI newsroom: collect, merge, fact-check and speak the news",
        lifespan=lifespan,
        dependencies=[Depends(enforce_rate_limit)],
        # Served by the web app from local files (web/app.py): no CDN, so they work offline.
        docs_url=None,
        redoc_url=None,
    )
    # Inside the body cap: the cleaner reads JSON bodies whole, so only capped ones.
    app.add_middleware(CleanTextMiddleware, raw_prefixes=("/websub/",))
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.api_max_body_bytes,
        large_limit=settings.fetch_max_bytes,
        large_prefixes=("/websub/", "/api/v1/sources/opml"),
    )
    app.state.page_cache = PageCache(settings.api_cache_ttl_s)
    app.add_middleware(PageCacheMiddleware, cache=app.state.page_cache)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(NoStoreMiddleware)
    # Outside the page cache: a browser's session cookie becomes its bearer credential first.
    app.add_middleware(CookieAuthMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware)
    if settings.cors_origins:
        # Outside limits and routing, so browsers' preflight requests are answered first.
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept", "Last-Event-ID", "If-None-Match"],
            expose_headers=["ETag", "Retry-After", "Location"],
            max_age=600,
        )
    # Outermost: every log line of the request, the error handlers' included, carries its id.
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)

    from newstalk.accounts.endpoints import router as accounts_router
    from newstalk.articles.endpoints import router as news_router
    from newstalk.ask.endpoints import router as ask_router
    from newstalk.delivery.endpoints import feed_router
    from newstalk.delivery.endpoints import router as listen_router
    from newstalk.delivery.live_endpoints import router as live_router
    from newstalk.delivery.push_endpoints import router as push_router
    from newstalk.factcheck.endpoints import router as factcheck_router
    from newstalk.feed.endpoints import router as personal_feed_router
    from newstalk.listeners.endpoints import router as listeners_router
    from newstalk.ops import router as ops_router
    from newstalk.pipeline.endpoints import router as pipeline_router
    from newstalk.search.endpoints import router as search_router
    from newstalk.sources.endpoints import router as sources_router
    from newstalk.sources.websub import router as websub_router
    from newstalk.stories.endpoints import router as stories_router
    from newstalk.telemetry import router as telemetry_router

    for router in (
        ops_router,
        accounts_router,
        listeners_router,
        personal_feed_router,
        sources_router,
        news_router,
        stories_router,
        search_router,
        factcheck_router,
        ask_router,
        listen_router,
        feed_router,
        live_router,
        push_router,
        pipeline_router,
        websub_router,
        telemetry_router,
    ):
        app.include_router(router)
    web.install(app)
    if demo:
        from newstalk.demo import router as demo_router

        app.include_router(demo_router)
    return app
