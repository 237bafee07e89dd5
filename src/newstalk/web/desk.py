"""The editors' and admins' desk under ``/desk``: fact-check review, story split and merge,
sources with their health and OPML, dead letters, users and roles.

Every page and form goes through the API as the signed-in editor or admin, so the API's role
checks apply unchanged; the desk checks the role first only to answer with a clear page.
"""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from newstalk.accounts.models import Role
from newstalk.web import session as ws
from newstalk.web.client import ApiError
from newstalk.web.pages import CsrfRefused, Form, Page, PageDep, csrf_refused, read_form

router = APIRouter(include_in_schema=False)

VERDICTS = ("supported", "refuted", "disputed", "unverified")
ROLES = tuple(r.value for r in Role)
MAX_OPML_UPLOAD = 5_000_000
_STORY_PAGE = re.compile(r"/desk/stories/(\d{1,18})")
# What a finished action says on the page it returns to (?done=...).
DONE = frozenset(
    {"confirmed", "overturned", "split", "merged", "added", "paused", "resumed", "removed", "retried", "role"}
)


def gate(page: Page, role: Role) -> Response | None:
    """None when the caller may use this desk page; else the login form (anonymous) or a 403 page."""
    if not page.signed_in:
        path = page.request.url.path
        return page.redirect(f"/login?next={quote(path)}")
    assert page.principal is not None
    if page.principal.has_role(role):
        return None
    return page.render(
        "error.html",
        status=403,
        title=page.t("desk.forbidden_title"),
        detail=page.t("desk.forbidden_" + role.value),
    )


def done_of(page: Page) -> str | None:
    value = page.request.query_params.get("done")
    return value if value in DONE else None


def problem(exc: ApiError) -> str:
    """The API's refusal as one readable line (its problem detail)."""
    return exc.detail.strip() or f"HTTP {exc.status}"


async def _form(request: Request, page: Page) -> Form | Response:
    try:
        return await read_form(request, page)
    except CsrfRefused:
        return csrf_refused(page)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


# -- the desk's front page ---------------------------------------------------------------


@router.get("/desk", response_class=HTMLResponse)
async def desk_home(page: PageDep) -> Response:
    if (refused := gate(page, Role.editor)) is not None:
        return refused
    queue = await page.api.get_or({"items": []}, "/api/v1/factcheck/review", limit=100)
    return page.render("desk_home.html", pending=len(queue["items"]), more=bool(queue.get("next_cursor")))


# -- fact-check review -------------------------------------------------------------------


async def _review_page(page: Page, *, status: int = 200, error: str | None = None) -> Response:
    cursor = page.request.query_params.get("cursor")
    queue = await page.api.get_or(
        {"items": [], "next_cursor": None}, "/api/v1/factcheck/review", limit=20, cursor=cursor
    )
    return page.render(
        "desk_review.html",
        status=status,
        claims=queue["items"],
        next_cursor=queue.get("next_cursor"),
        verdicts=VERDICTS,
        error=error,
        done=done_of(page),
    )


@router.get("/desk/review", response_class=HTMLResponse)
async def review_queue(page: PageDep) -> Response:
    """Claims waiting for an editor: verdict, confidence, evidence with the conflicts marked."""
    if (refused := gate(page, Role.editor)) is not None:
        return refused
    return await _review_page(page)


@router.post("/desk/review/{claim_id}", response_class=HTMLResponse)
async def review_claim(claim_id: int, request: Request, page: PageDep) -> Response:
    """Confirm the verdict, or overturn it with another; a note either way."""
    if (refused := gate(page, Role.editor)) is not None:
        return refused
    form = await _form(request, page)
    if isinstance(form, Response):
        return form
    # Back to where the form was: the queue, or a story's desk page (its claims, reviewed or not).
    back = _STORY_PAGE.fullmatch(form.get("next", ""))
    story_id = int(back.group(1)) if back else None

    async def again(status: int, error: str) -> Response:
        if story_id is not None:
            return await _story_page(page, story_id, status=status, error=error)
        return await _review_page(page, status=status, error=error)

    decision = form.get("decision", "")
    body: dict[str, Any] = {"decision": decision, "note": form.get("note", "").strip()[:2000] or None}
    if decision == "overturn":
        verdict = form.get("verdict", "")
        if verdict not in VERDICTS:
            return await again(400, page.t("desk.review_pick_verdict"))
        body["verdict"] = verdict
    elif decision != "confirm":
        return await again(400, page.t("desk.review_bad_decision"))
    try:
        await page.api.request("POST", f"/api/v1/claims/{claim_id}/review", json=body)
    except ApiError as exc:
        return await again(exc.status, problem(exc))
    done = "confirmed" if decision == "confirm" else "overturned"
    where = f"/desk/stories/{story_id}" if story_id is not None else "/desk/review"
    return page.redirect(f"{where}?done={done}#claim-{claim_id}")


# -- stories: split and merge ------------------------------------------------------------


@router.get("/desk/stories", response_class=HTMLResponse)
async def stories(page: PageDep) -> Response:
    """Recent stories, each with its desk page; merge two of them by number."""
    if (refused := gate(page, Role.editor)) is not None:
        return refused
    listing = await page.api.get_or({"items": []}, "/api/v1/stories", limit=50)
    return page.render("desk_stories.html", stories=listing["items"], done=done_of(page))


async def _story_page(page: Page, story_id: int, *, status: int = 200, error: str | None = None) -> Response:
    api = page.api
    try:
        story, check = await api.gather(
            api.get(f"/api/v1/stories/{story_id}"), api.get_or(None, f"/api/v1/stories/{story_id}/factcheck")
        )
    except ApiError as exc:
        if exc.status in (404, 422):
            return page.not_found()
        raise
    if story.get("merged_into"):
        return page.redirect(f"/desk/stories/{story['merged_into']}")
    return page.render(
        "desk_story.html",
        status=status,
        story=story,
        check=check,
        verdicts=VERDICTS,
        error=error,
        done=done_of(page),
    )


@router.get("/desk/stories/{story_id}", response_class=HTMLResponse)
async def story(story_id: int, page: PageDep) -> Response:
    """One story's articles: tick some to split them into a new story, or merge another story in."""
    if (refused := gate(page, Role.editor)) is not None:
        return refused
    return await _story_page(page, story_id)


@router.post("/desk/stories/{story_id}/split", response_class=HTMLResponse)
async def split(story_id: int, request: Request, page: PageDep) -> Response:
    if (refused := gate(page, Role.editor)) is not None:
        return refused
    form = await _form(request, page)
    if isinstance(form, Response):
        return form
    ids = [i for i in (_int(v) for v in form.getlist("article_ids")) if i is not None]
    if not ids:
        return await _story_page(page, story_id, status=400, error=page.t("desk.split_pick"))
    try:
        new = await page.api.request("POST", f"/api/v1/stories/{story_id}/split", json={"article_ids": ids})
    except ApiError as exc:
        return await _story_page(page, story_id, status=exc.status, error=problem(exc))
    return page.redirect(f"/desk/stories/{new['id']}?done=split")


@router.post("/desk/stories/{story_id}/merge", response_class=HTMLResponse)
async def merge(story_id: int, request: Request, page: PageDep) -> Response:
    """Fold the story numbered in the form into this one."""
    if (refused := gate(page, Role.editor)) is not None:
        return refused
    form = await _form(request, page)
    if isinstance(form, Response):
        return form
    other = _int(form.get("story_id"))
    if other is None or other < 1:
        return await _story_page(page, story_id, status=400, error=page.t("desk.merge_pick"))
    try:
        await page.api.request("POST", f"/api/v1/stories/{story_id}/merge", json={"story_id": other})
    except ApiError as exc:
        return await _story_page(page, story_id, status=exc.status, error=problem(exc))
    return page.redirect(f"/desk/stories/{story_id}?done=merged")


# -- sources -----------------------------------------------------------------------------


async def _sources_page(
    page: Page, *, status: int = 200, error: str | None = None, imported: Any = None
) -> Response:
    listing = await page.api.get_or({"items": []}, "/api/v1/sources", limit=500)
    return page.render(
        "desk_sources.html",
        status=status,
        sources=listing["items"],
        error=error,
        imported=imported,
        done=done_of(page),
    )


@router.get("/desk/sources", response_class=HTMLResponse)
async def sources(page: PageDep) -> Response:
    """Every source with its health: status, last error, why paused, next poll, interval and why."""
    if (refused := gate(page, Role.admin)) is not None:
        return refused
    return await _sources_page(page)


@router.post("/desk/sources", response_class=HTMLResponse)
async def add_source(request: Request, page: PageDep) -> Response:
    if (refused := gate(page, Role.admin)) is not None:
        return refused
    form = await _form(request, page)
    if isinstance(form, Response):
        return form
    body: dict[str, Any] = {"url": form.get("url", "").strip()}
    for name in ("title", "category", "language"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    if form.get("poll_interval_s", "").strip():
        interval = _int(form["poll_interval_s"])
        if interval is None:
            return await _sources_page(page, status=400, error=page.t("desk.sources_bad_interval"))
        body["poll_interval_s"] = interval
    body["full_text"] = form.get("full_text") == "on"
    if not body["url"].startswith(("http://", "https://")):
        return await _sources_page(page, status=400, error=page.t("desk.sources_bad_url"))
    try:
        await page.api.request("POST", "/api/v1/sources", json=body)
    except ApiError as exc:
        return await _sources_page(page, status=exc.status, error=problem(exc))
    return page.redirect("/desk/sources?done=added")


@router.post("/desk/sources/{source_id}/{action}", response_class=HTMLResponse)
async def source_action(source_id: int, action: str, request: Request, page: PageDep) -> Response:
    """Pause, resume or remove one source."""
    if (refused := gate(page, Role.admin)) is not None:
        return refused
    form = await _form(request, page)
    if isinstance(form, Response):
        return form
    path = f"/api/v1/sources/{source_id}"
    try:
        if action == "pause":
            await page.api.request("PATCH", path, json={"status": "paused"})
        elif action == "resume":
            await page.api.request("PATCH", path, json={"status": "active"})
        elif action == "remove":
            await page.api.request("DELETE", path)
        else:
            return page.not_found()
    except ApiError as exc:
        return await _sources_page(page, status=exc.status, error=problem(exc))
    done = {"pause": "paused", "resume": "resumed", "remove": "removed"}[action]
    return page.redirect(f"/desk/sources?done={done}")


def _multipart_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """The parts of a multipart/form-data body by field name (the standard library's MIME parser)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    fields: dict[str, bytes] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and name not in fields:
            payload = part.get_payload(decode=True)
            fields[name] = payload if isinstance(payload, bytes) else b""
    return fields


@router.post("/desk/sources/opml", response_class=HTMLResponse)
async def import_opml(request: Request, page: PageDep) -> Response:
    """Subscribe to every feed of an uploaded OPML file; a file that is not OPML changes nothing."""
    if (refused := gate(page, Role.admin)) is not None:
        return refused
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return await _sources_page(page, status=400, error=page.t("desk.opml_no_file"))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OPML_UPLOAD + 100_000:
            return await _sources_page(page, status=413, error=page.t("desk.opml_too_big"))
    fields = _multipart_fields(content_type, bytes(body))
    if not ws.csrf_valid(
        page.settings, page.nonce, fields.get(ws.CSRF_FIELD, b"").decode("ascii", "replace")
    ):
        return csrf_refused(page)
    document = fields.get("file", b"")
    if not document.strip():
        return await _sources_page(page, status=400, error=page.t("desk.opml_no_file"))
    try:
        result = await page.api.request(
            "POST", "/api/v1/sources/opml", content=document, headers={"content-type": "text/x-opml"}
        )
    except ApiError as exc:
        return await _sources_page(
            page, status=exc.status, error=page.t("desk.opml_refused", detail=problem(exc))
        )
    return await _sources_page(page, imported=result)


@router.get("/desk/sources/opml")
async def export_opml(page: PageDep) -> Response:
    """Every source as an OPML file to download."""
    if (refused := gate(page, Role.admin)) is not None:
        return refused
    document = await page.api.get("/api/v1/sources/opml")
    response = Response(
        str(document),
        media_type="text/x-opml; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="newstalk-sources.opml"'},
    )
    response.headers["cache-control"] = "private, no-store"
    return response


# -- dead letters ------------------------------------------------------------------------


async def _dead_page(page: Page, *, status: int = 200, error: str | None = None) -> Response:
    stage = page.request.query_params.get("stage") or None
    listing = await page.api.get_or({"items": []}, "/api/v1/pipeline/dead", limit=100, stage=stage)
    return page.render(
        "desk_dead.html", status=status, jobs=listing["items"], stage=stage, error=error, done=done_of(page)
    )


@router.get("/desk/dead", response_class=HTMLResponse)
async def dead(page: PageDep) -> Response:
    """Jobs the pipeline gave up on, with the error that killed them."""
    if (refused := gate(page, Role.admin)) is not None:
        return refused
    return await _dead_page(page)


@router.post("/desk/dead/{job_id}/retry", response_class=HTMLResponse)
async def retry(job_id: int, request: Request, page: PageDep) -> Response:
    if (refused := gate(page, Role.admin)) is not None:
        return refused
    form = await _form(request, page)
    if isinstance(form, Response):
        return form
    try:
        await page.api.request("POST", f"/api/v1/pipeline/dead/{job_id}/retry")
    except ApiError as exc:
        return await _dead_page(page, status=exc.status, error=problem(exc))
    return page.redirect("/desk/dead?done=retried")


# -- users and roles ---------------------------------------------------------------------


async def _users_page(page: Page, *, status: int = 200, error: str | None = None) -> Response:
    listing = await page.api.get_or({"items": []}, "/api/v1/users", limit=500)
    return page.render(
        "desk_users.html",
        status=status,
        users=listing["items"],
        roles=ROLES,
        error=error,
        done=done_of(page),
    )


@router.get("/desk/users", response_class=HTMLResponse)
async def users(page: PageDep) -> Response:
    if (refused := gate(page, Role.admin)) is not None:
        return refused
    return await _users_page(page)


@router.post("/desk/users/{user_id}/role", response_class=HTMLResponse)
async def set_role(user_id: int, request: Request, page: PageDep) -> Response:
    if (refused := gate(page, Role.admin)) is not None:
        return refused
    form = await _form(request, page)
    if isinstance(form, Response):
        return form
    role = form.get("role", "")
    if role not in ROLES:
        return await _users_page(page, status=400, error=page.t("desk.users_bad_role"))
    try:
        await page.api.request("PATCH", f"/api/v1/users/{user_id}", json={"role": role})
    except ApiError as exc:
        return await _users_page(page, status=exc.status, error=problem(exc))
    return page.redirect("/desk/users?done=role")
