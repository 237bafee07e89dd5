"""Mounting the web app on the API's FastAPI app: pages, static files and offline API docs."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

DOCS_ASSETS = "/static/docs"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def with_docs_csp(page: HTMLResponse) -> HTMLResponse:
    """A Content-Security-Policy for Swagger UI and ReDoc: scripts from here plus the page's own
    inline start-up script by its hash (no 'unsafe-inline' script); their inline styles and
    ReDoc's blob: worker allowed."""
    body = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        for code in _INLINE_SCRIPT.findall(body)
    )
    page.headers["content-security-policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ).replace("'self' ;", "'self';")
    return page  # the other security headers: web.session.SecurityHeadersMiddleware


class CachedStatic(StaticFiles):
    """Static files whose URLs carry their content hash (``?v=``): browsers keep them a year."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


def _docs_assets() -> Path:
    # fastapi-offline ships swagger-ui and redoc; we serve its files, not its app factory.
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def install(app: FastAPI) -> None:
    """Pages at ``/``, their assets at ``/static``, and ``/docs`` and ``/redoc`` without a CDN."""
    from newstalk.web import desk, listener, pages

    app.mount(DOCS_ASSETS, CachedStatic(directory=_docs_assets()), name="docs-assets")
    app.mount("/static", CachedStatic(packages=[("newstalk.web", "static")]), name="static")
    app.include_router(pages.router)
    app.include_router(listener.router)
    app.include_router(desk.router)
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return with_docs_csp(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url="/docs/oauth2-redirect",
                swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            )
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return with_docs_csp(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return with_docs_csp(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )
