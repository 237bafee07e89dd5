"""The app's own API, called in process by the pages (no socket, same answers the browser would get).

Calls are marked internal in the ASGI scope: the page request itself already counted
against the caller's rate limit, so the calls it makes do not count again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from newstalk.kit.api import INTERNAL_SCOPE_KEY


class _Internal:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[INTERNAL_SCOPE_KEY] = True
        await self.app(scope, receive, send)


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Api:
    """GET/POST the API as the signed-in listener (or anonymously)."""

    def __init__(self, app: ASGIApp, access_token: str | None, client_host: str) -> None:
        headers = {"accept": "application/json"}
        if access_token:
            headers["authorization"] = f"Bearer {access_token}"
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_Internal(app), client=(client_host, 0)),
            base_url="http://newstalk.internal",
            headers=headers,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._client.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", response.text))
            except ValueError:
                detail = response.text
            raise ApiError(response.status_code, detail)
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    async def get_or(self, default: Any, path: str, **params: Any) -> Any:
        """The answer, or ``default`` when the API refuses (a page shows what it can)."""
        try:
            return await self.get(path, **params)
        except ApiError:
            return default

    async def gather(self, *calls: Any) -> list[Any]:
        return list(await asyncio.gather(*calls))
