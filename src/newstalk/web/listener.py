"""A listener's pages beyond Today: a story, questions, search, listening and settings."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from newstalk.pipeline import topics
from newstalk.web import session as ws
from newstalk.web.client import ApiError
from newstalk.web.pages import CsrfRefused, Page, PageDep, adopt_languages, csrf_refused, read_form

router = APIRouter(include_in_schema=False)

CHARACTERS = ("anchor", "host", "narrator", "reporter", "storyteller")


def sign_in_first(page: Page) -> Response | None:
    """A redirect to the login form (coming back here after), or None when signed in."""
    if page.signed_in:
        return None
    path = page.request.url.path
    return page.redirect(f"/login?next={quote(path)}")


async def _nothing() -> None:
    return None


@router.get("/stories/{story_id}", response_class=HTMLResponse)
async def story(story_id: int, page: PageDep, fragment: str | None = None) -> Response:
    """A story: summary, coverage by outlet side by side, timeline and the fact-check of its claims.

    ``?fragment=live`` is the coverage and fact-check alone (a live update re-renders them),
    ``?fragment=card`` the story's card as Today lists it (a new story arriving live)."""
    api = page.api
    card = fragment == "card"
    try:
        detail, check = await api.gather(
            api.get(f"/api/v1/stories/{story_id}"),
            api.get_or(None, f"/api/v1/stories/{story_id}/factcheck") if not card else _nothing(),
        )
    except ApiError as exc:
        if exc.status in (404, 422):
            return page.not_found()
        raise
    if detail.get("merged_into"):
        return page.redirect(f"/stories/{detail['merged_into']}")
    if card:
        return page.fragment("_story_card.html", story=detail)
    values: dict[str, Any] = {"story": detail, "check": check, "characters": CHARACTERS}
    if fragment == "live":
        return page.fragment("_story_live.html", **values)
    return page.render("story.html", **values)


@router.post("/stories/{story_id}/ask", response_class=HTMLResponse)
async def ask(story_id: int, request: Request, page: PageDep) -> Response:
    """Ask about a story (or follow up in a thread); the answer opens in the thread's page."""
    if (login := sign_in_first(page)) is not None:
        return login
    try:
        form = await read_form(request, page)
    except CsrfRefused:
        return csrf_refused(page)
    body: dict[str, Any] = {"question": form.get("question", "").strip()}
    if form.get("thread_id", "").isdigit():
        body["thread_id"] = int(form["thread_id"])
    try:
        answer = await page.api.request("POST", f"/api/v1/stories/{story_id}/ask", json=body)
    except ApiError as exc:
        return page.render("error.html", status=exc.status, title=page.t("ask.title"), detail=exc.detail)
    return page.redirect(f"/ask/{answer['thread_id']}#turn-{answer['turn']['position']}")


@router.get("/ask", response_class=HTMLResponse)
async def threads(page: PageDep) -> Response:
    """The listener's saved question threads."""
    if (login := sign_in_first(page)) is not None:
        return login
    listing = await page.api.get_or({"items": []}, "/api/v1/ask/threads", limit=50)
    return page.render("threads.html", threads=listing["items"])


@router.get("/ask/{thread_id}", response_class=HTMLResponse)
async def thread(thread_id: int, page: PageDep) -> Response:
    """One thread: every question, its answer and the quotes it cites; a follow-up form."""
    if (login := sign_in_first(page)) is not None:
        return login
    try:
        detail = await page.api.get(f"/api/v1/ask/threads/{thread_id}")
    except ApiError as exc:
        if exc.status in (404, 422):
            return page.not_found()
        raise
    return page.render("thread.html", thread=detail)


@router.post("/ask/{thread_id}/delete")
async def delete_thread(thread_id: int, request: Request, page: PageDep) -> Response:
    return await _delete_then(request, page, f"/api/v1/ask/threads/{thread_id}", "/ask")


@router.get("/search", response_class=HTMLResponse)
async def search(page: PageDep, q: str = "", kind: str | None = None) -> Response:
    """Stories and articles matching the words (and the meaning) of ``q``."""
    q = q.strip()[:500]
    results: dict[str, Any] | None = None
    error = None
    if q:
        try:
            results = await page.api.get(
                "/api/v1/search", q=q, type=kind if kind in ("stories", "articles") else None, limit=20
            )
        except ApiError as exc:
            error = exc.detail
    return page.render("search.html", q=q, kind=kind or "", results=results, error=error)


def qr_svg(url: str, title: str) -> Markup:
    """The URL as a QR code, an inline SVG (no script, no image request)."""
    import segno  # only the podcast page draws one

    svg = segno.make(url, error="m").svg_inline(
        scale=4, title=title, svgclass="qr-code", dark="#000", light="#fff"
    )
    return Markup(svg)  # noqa: S704 - segno writes the SVG; the title it escapes itself


async def _listen_page(
    page: Page, created: dict[str, Any] | None = None, error: str | None = None
) -> Response:
    podcasts, feed, briefings = await page.api.gather(
        page.api.get_or([], "/api/v1/podcasts"),
        page.api.get_or({"items": []}, "/api/v1/feed", limit=10),
        page.api.get_or({"items": []}, "/api/v1/me/briefings", limit=7),
    )
    qr = qr_svg(created["feed_url"], page.t("listen.qr_title")) if created else None
    return page.render(
        "listen.html",
        podcasts=podcasts,
        stories=feed["items"],
        briefings=briefings["items"],
        created=created,
        qr=qr,
        error=error,
        characters=CHARACTERS,
    )


@router.get("/listen", response_class=HTMLResponse)
async def listen(page: PageDep) -> Response:
    """The queue, stories to play, and the listener's private podcast feeds."""
    if (login := sign_in_first(page)) is not None:
        return login
    return await _listen_page(page)


@router.post("/listen/podcasts", response_class=HTMLResponse)
async def subscribe(request: Request, page: PageDep) -> Response:
    """A new private podcast feed: its link (copy it, or scan the QR code) is shown this once."""
    if (login := sign_in_first(page)) is not None:
        return login
    try:
        form = await read_form(request, page)
    except CsrfRefused:
        return csrf_refused(page)
    character = form.get("character", "anchor")
    body = {
        "title": form.get("title", "").strip() or page.t("listen.default_title"),
        "lang": form.get("lang") if form.get("lang") in ("ko", "en") else page.lang,
        "characters": [character if character in CHARACTERS else "anchor"],
        "personal": True,
    }
    try:
        created = await page.api.request("POST", "/api/v1/podcasts", json=body)
    except ApiError as exc:
        return await _listen_page(page, error=exc.detail)
    return await _listen_page(page, created=created)


@router.post("/listen/podcasts/{podcast_id}/revoke")
async def revoke_podcast(podcast_id: int, request: Request, page: PageDep) -> Response:
    return await _delete_then(request, page, f"/api/v1/podcasts/{podcast_id}", "/listen")


async def _delete_then(request: Request, page: Page, api_path: str, back: str) -> Response:
    """A signed-in form's DELETE of one of the listener's things (already gone is fine), then ``back``."""
    if (login := sign_in_first(page)) is not None:
        return login
    try:
        await read_form(request, page)
    except CsrfRefused:
        return csrf_refused(page)
    try:
        await page.api.request("DELETE", api_path)
    except ApiError as exc:
        if exc.status != 404:
            raise
    return page.redirect(back)


CATEGORIES = ("politics", "economy", "society", "world", "tech", "culture", "sports", "entertainment")
SPEEDS = ("0.8", "1.0", "1.25", "1.5", "1.75", "2.0")


def _terms(text: str) -> list[str]:
    return [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()][:50]


async def _settings_page(page: Page, *, status: int = 200, **extra: Any) -> Response:
    api = page.api
    prefs, keys, hooks, sources = await api.gather(
        api.get_or({}, "/api/v1/me/preferences"),
        api.get_or([], "/api/v1/me/api-keys"),
        api.get_or([], "/api/v1/webhooks"),
        api.get_or({"items": []}, "/api/v1/sources", limit=200),
    )
    values: dict[str, Any] = {
        "prefs": prefs,
        "keys": keys,
        "hooks": hooks,
        "sources": sources["items"],
        "categories": CATEGORIES,
        "characters": CHARACTERS,
        "speeds": SPEEDS,
        "webhook_topics": topics.LIVE_TOPICS,
        "new_key": None,
        "new_hook": None,
        "error": None,
        "saved": False,
    }
    values.update(extra)
    return page.render("settings.html", status=status, **values)


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(page: PageDep) -> Response:
    """Preferences, muted topics and outlets, voice and speed, API keys, webhooks, deleting the account."""
    if (login := sign_in_first(page)) is not None:
        return login
    return await _settings_page(page, saved=page.request.query_params.get("saved") == "1")


@router.post("/settings/{action}", response_class=HTMLResponse)
async def settings_action(action: str, request: Request, page: PageDep) -> Response:
    """Every settings form posts here; ``action`` names which one."""
    if (login := sign_in_first(page)) is not None:
        return login
    try:
        form = await read_form(request, page)
    except CsrfRefused:
        return csrf_refused(page)
    api = page.api
    try:
        if action == "preferences":
            speed = float(form.get("playback_speed", "1.0") or "1.0")
            voice = form.get("voice") or None
            languages = [lang for lang in form.getlist("languages") if lang in ("ko", "en")]
            before = await api.get_or({}, "/api/v1/me/preferences")
            await api.request(
                "PUT",
                "/api/v1/me/preferences",
                json={
                    "categories": [c for c in form.getlist("categories") if c in CATEGORIES],
                    "keywords": _terms(form.get("keywords", "")),
                    "outlets": [int(i) for i in form.getlist("outlets") if i.isdigit()],
                    "languages": languages,
                    "muted_topics": _terms(form.get("muted_topics", "")),
                    "muted_outlets": [int(i) for i in form.getlist("muted_outlets") if i.isdigit()],
                    "voice": voice if voice in CHARACTERS else None,
                    "playback_speed": min(2.0, max(0.8, speed)),
                },
            )
            # The UI follows the saved languages; changing them also overrides the header's switch.
            adopt_languages(page, languages)
            if languages != before.get("languages", []) and page.request.cookies.get(ws.LANG_COOKIE):
                page.jar.drop(ws.LANG_COOKIE)
            return page.redirect("/settings?saved=1")
        if action == "api-keys":
            created = await api.request(
                "POST", "/api/v1/me/api-keys", json={"name": form.get("name", "")[:100]}
            )
            return await _settings_page(page, new_key=created)
        if action.startswith("api-keys-revoke-") and action.removeprefix("api-keys-revoke-").isdigit():
            await api.request("DELETE", f"/api/v1/me/api-keys/{action.removeprefix('api-keys-revoke-')}")
            return page.redirect("/settings#keys")
        if action == "webhooks":
            types = [t for t in form.getlist("event_types") if t in topics.LIVE_TOPICS]
            created = await api.request(
                "POST",
                "/api/v1/webhooks",
                json={
                    "url": form.get("url", ""),
                    "description": form.get("description", "")[:200],
                    "event_types": types,
                },
            )
            return await _settings_page(page, new_hook=created)
        if action.startswith("webhooks-delete-") and action.removeprefix("webhooks-delete-").isdigit():
            await api.request("DELETE", f"/api/v1/webhooks/{action.removeprefix('webhooks-delete-')}")
            return page.redirect("/settings#webhooks")
        if action == "delete-account":
            me = await api.get("/api/v1/me")
            if form.get("confirm_email", "").strip().lower() != str(me["email"]).lower():
                return await _settings_page(page, status=400, error=page.t("settings.delete_mismatch"))
            await api.request("DELETE", "/api/v1/me")
            page.jar.drop(ws.ACCESS_COOKIE)
            page.jar.drop(ws.REFRESH_COOKIE)
            return page.redirect("/?deleted=1")
    except ValueError:
        return await _settings_page(page, status=400, error=page.t("settings.bad_speed"))
    except ApiError as exc:
        return await _settings_page(page, status=exc.status if exc.status < 500 else 400, error=exc.detail)
    return page.not_found()
