"""The web app's pages and browser session in process (no browser): cookies, CSRF, refresh, language, docs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from newstalk.config import Settings
from newstalk.main import create_app

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery staple"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', html)
    assert match, "the page renders its CSRF token"
    return match.group(1)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


async def register(client: httpx.AsyncClient, email: str = "minji@example.org") -> httpx.Response:
    token = csrf_of((await client.get("/register")).text)
    return await client.post(
        "/register", data={"csrf": token, "email": email, "password": PASSWORD, "display_name": "Minji"}
    )


async def test_today_anonymous_is_html_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    csrf_cookie = set_cookies(response)["nt_csrf"]
    assert "HttpOnly" in csrf_cookie
    assert "SameSite=lax" in csrf_cookie
    assert "Secure" not in csrf_cookie
    assert 'href="/login"' in response.text
    # The API keeps answering JSON, and unknown paths stay problem+json.
    assert (await client.get("/api/v1/stories")).headers["content-type"].startswith("application/json")
    assert (await client.get("/nope")).status_code == 404


async def test_register_signs_in_with_httponly_cookies(client: httpx.AsyncClient) -> None:
    response = await register(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookies = set_cookies(response)
    for name in ("nt_access", "nt_refresh"):
        assert "HttpOnly" in cookies[name]
        assert "SameSite=lax" in cookies[name]
    page = await client.get("/")
    assert '<meta name="signed-in" content="yes">' in page.text
    assert 'id="feed-h"' in page.text
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == "minji@example.org"


async def test_writes_need_the_csrf_token(client: httpx.AsyncClient) -> None:
    await register(client)
    token = csrf_of((await client.get("/")).text)
    refused = await client.patch("/api/v1/me/preferences", json={"playback_speed": 1.5})
    assert refused.status_code == 403
    assert "csrf" in refused.json()["detail"]
    wrong = await client.patch(
        "/api/v1/me/preferences", json={"playback_speed": 1.5}, headers={"X-CSRF-Token": "0" * 64}
    )
    assert wrong.status_code == 403
    ok = await client.patch(
        "/api/v1/me/preferences", json={"playback_speed": 1.5}, headers={"X-CSRF-Token": token}
    )
    assert ok.status_code == 200
    assert ok.json()["playback_speed"] == 1.5
    # A form posted without the token changes nothing: still signed in.
    assert (await client.post("/logout", data={})).status_code == 403
    assert (await client.get("/api/v1/me")).status_code == 200


async def test_login_with_a_wrong_password_says_so(client: httpx.AsyncClient) -> None:
    await register(client)
    token = csrf_of((await client.get("/")).text)
    await client.post("/logout", data={"csrf": token})
    token = csrf_of((await client.get("/login")).text)
    wrong = await client.post(
        "/login", data={"csrf": token, "email": "minji@example.org", "password": "nope"}
    )
    assert wrong.status_code == 401
    assert "Email or password is wrong" in wrong.text
    ok = await client.post(
        "/login", data={"csrf": token, "email": "minji@example.org", "password": PASSWORD, "next": "//evil"}
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == "/"


async def test_expired_access_cookie_is_refreshed_on_the_next_page(client: httpx.AsyncClient) -> None:
    await register(client)
    old_refresh = client.cookies["nt_refresh"]
    client.cookies.delete("nt_access")
    page = await client.get("/")
    assert '<meta name="signed-in" content="yes">' in page.text
    assert "nt_access" in set_cookies(page)
    assert client.cookies["nt_refresh"] != old_refresh
    token = csrf_of(page.text)
    background = await client.post("/session/refresh", headers={"X-CSRF-Token": token})
    assert background.status_code == 204
    assert (await client.post("/session/refresh")).status_code == 403


async def test_logout_ends_the_login(client: httpx.AsyncClient) -> None:
    await register(client)
    access = client.cookies["nt_access"]
    token = csrf_of((await client.get("/")).text)
    response = await client.post("/logout", data={"csrf": token})
    assert response.status_code == 303
    assert "nt_access" not in client.cookies
    # The token itself is revoked, not only forgotten by the browser.
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})).status_code == 401


async def test_language_from_accept_language_and_the_switch(client: httpx.AsyncClient) -> None:
    korean = await client.get("/", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
    assert '<html lang="ko">' in korean.text
    assert "오늘의 뉴스" in korean.text
    english = await client.get("/", headers={"Accept-Language": "fr, en;q=0.3"})
    assert '<html lang="en">' in english.text
    switched = await client.get("/lang/ko?next=/login")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/login"
    assert '<html lang="ko">' in (await client.get("/", headers={"Accept-Language": "en"})).text


async def test_docs_and_redoc_load_their_assets_from_here(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        response = await client.get(path)
        html = response.text
        # Their own policy (the start-up script by hash) and the other security headers.
        assert "'sha256-" in response.headers["content-security-policy"] or path == "/redoc"
        assert len(response.headers.get_list("content-security-policy")) == 1  # not the pages' too
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
        assert assets, path
        for asset in assets:
            assert asset.startswith("/static/docs/"), asset
            assert (await client.get(asset)).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


@pytest.fixture
async def production_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=database_url, environment="production", jwt_secret="p" * 48
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
            yield http


async def test_cookies_are_secure_outside_development(production_client: httpx.AsyncClient) -> None:
    response = await production_client.get("/")
    assert "Secure" in set_cookies(response)["nt_csrf"]
