"""The web app's routes: each page gathers what it shows from the API and renders one template.

Adding a page: docs/web.md, "Adding a page".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import parse_qs

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from newstalk import __version__
from newstalk.accounts import service as accounts
from newstalk.accounts.service import Principal
from newstalk.config import Settings
from newstalk.deps import (
    DbDep,
    enforce_account_limit,
    get_services,
    invalidate_principals,
    optional_principal,
)
from newstalk.errors import InvalidInput, NewsTalkError, Unauthorized
from newstalk.web import session as ws
from newstalk.web.client import Api
from newstalk.web.i18n import LANGUAGES, Translator, choose

router = APIRouter(include_in_schema=False)


@cache
def _static_version(name: str) -> str:
    data = resources.files("newstalk.web").joinpath("static", name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:10]


def static_url(name: str) -> str:
    """A static file's URL with its content hash, so browsers may keep it for a year."""
    return f"/static/{name}?v={_static_version(name)}"


def _local_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime(fmt) + (" UTC" if moment.utcoffset() is not None else "")


def _iso(value: str | datetime | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.isoformat()


_NUMBER = re.compile(r"\d[\d.,]*")
_PUNCT = ".,;:!?\"'()[]“”‘’…"


def conflict_terms(claim: str, quote: str, conflicts: list[str]) -> list[str]:
    """What to mark in an evidence quote: the evidence's side of each conflict, as written there.

    Conflicts read ``"number: 4.5 percent vs 5.5 percent"`` (the claim's value, then the
    evidence's), normalized, so the quote may write it differently (``4천100억 원`` for
    ``41000000000 krw``). The evidence's value is marked where the quote has it; else its
    leading number; else the words of the quote with digits that the claim does not have.
    """
    lowered = quote.lower()
    terms: list[str] = []
    for conflict in conflicts:
        _kind, _, values = conflict.partition(": ")
        _claimed, sep, found = values.partition(" vs ")
        if not sep:
            continue
        if found and found.lower() in lowered:
            terms.append(found)
            continue
        number = _NUMBER.match(found)
        if number and re.search(rf"(?<![\d.]){re.escape(number.group())}(?![\d])", quote):
            terms.append(number.group())
            continue
        claim_words = {w.strip(_PUNCT) for w in claim.split()}
        terms.extend(
            word
            for word in (w.strip(_PUNCT) for w in quote.split())
            if _NUMBER.search(word) and word not in claim_words
        )
    return terms


def highlight(text: str, terms: list[str]) -> Markup:
    """``text`` escaped, each occurrence of a term (a conflicting number, date or name) in ``<mark>``."""
    spans: list[tuple[int, int]] = []
    lowered = text.lower()
    for term in sorted({t for t in terms if t.strip()}, key=len, reverse=True):
        start = lowered.find(term.lower())
        while start >= 0:
            end = start + len(term)
            if all(end <= a or start >= b for a, b in spans):
                spans.append((start, end))
            start = lowered.find(term.lower(), end)
    return mark_spans(text, spans)


def mark_spans(text: str, spans: list[tuple[int, int]] | list[list[int]]) -> Markup:
    """``text`` escaped with the character ranges ``spans`` (non-overlapping) in ``<mark>``."""
    out, at = [], 0
    for start, end in sorted((int(a), int(b)) for a, b in spans):
        if start < at or end > len(text):
            continue
        out.append(escape(text[at:start]))
        out.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("newstalk.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["static_url"] = static_url
    env.globals["app_version"] = __version__
    env.globals["languages"] = LANGUAGES
    env.filters["when"] = _local_time
    env.filters["iso"] = _iso
    env.filters["pct"] = lambda v: f"{round(float(v) * 100)}%" if v is not None else ""
    env.filters["highlight"] = highlight
    env.filters["spans"] = mark_spans
    env.globals["conflict_terms"] = conflict_terms
    return env


@dataclass
class Page:
    """What every page handler gets: who asks, in which language, their API client and cookies."""

    request: Request
    settings: Settings
    lang: str
    t: Translator
    principal: Principal | None
    api: Api
    csrf: str
    jar: ws.CookieJar
    nonce: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.principal is not None and self.principal.user_id is not None

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        html = (
            environment()
            .get_template(template)
            .render(page=self, t=self.t, lang=self.lang, csrf=self.csrf, user=self.principal, **values)
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["cache-control"] = "private, no-cache"
        response.headers["vary"] = "Cookie, Accept-Language"
        self.jar.apply(response)
        return response

    def fragment(self, template: str, **values: Any) -> HTMLResponse:
        """A piece of a page (live updates fetch it), same context as render."""
        html = (
            environment()
            .get_template(template)
            .render(page=self, t=self.t, lang=self.lang, csrf=self.csrf, user=self.principal, **values)
        )
        response = HTMLResponse(html)
        response.headers["cache-control"] = "private, no-cache"
        self.jar.apply(response)
        return response

    def not_found(self) -> HTMLResponse:
        return self.render(
            "error.html", status=404, title=self.t("error.not_found"), detail=self.t("error.not_found_detail")
        )

    def redirect(self, to: str) -> RedirectResponse:
        response = RedirectResponse(to, status_code=303)
        self.jar.apply(response)
        return response


def safe_next(value: str | None) -> str:
    """A local path to go back to (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def _page(request: Request, db: DbDep) -> AsyncIterator[Page]:
    services = get_services(request)
    settings = services.settings
    jar = ws.CookieJar(secure=ws.secure_cookies(settings))
    cookies = request.cookies
    nonce = cookies.get(ws.CSRF_COOKIE) or ""
    if not nonce:
        nonce = ws.new_nonce()
        jar.put(ws.CSRF_COOKIE, nonce, settings.refresh_token_ttl_s)
    access = cookies.get(ws.ACCESS_COOKIE)
    principal: Principal | None = None
    try:
        principal = await optional_principal(request, db)
    except Unauthorized:
        access = None
        jar.drop(ws.ACCESS_COOKIE)
    if principal is None and cookies.get(ws.REFRESH_COOKIE):
        # The access cookie ran out (or was revoked): refresh now, so the page is signed in.
        async with db.unit() as uow:
            outcome = await accounts.refresh(uow, settings, cookies[ws.REFRESH_COOKIE])
        if isinstance(outcome, accounts.RefreshRefused):
            jar.drop(ws.REFRESH_COOKIE)
            jar.drop(ws.ACCESS_COOKIE)
        else:
            _keep_tokens(jar, outcome)
            access = outcome.access_token
            principal = await accounts.authenticate(await db.read(), settings, access)
    lang = choose(
        cookies.get(ws.LANG_COOKIE), cookies.get(ws.LANG_PREF_COOKIE), request.headers.get("accept-language")
    )
    host = request.client.host if request.client else "127.0.0.1"
    api = Api(request.app, access if principal is not None else None, host)
    try:
        yield Page(
            request=request,
            settings=settings,
            lang=lang,
            t=Translator(lang),
            principal=principal,
            api=api,
            csrf=ws.csrf_token(settings, nonce),
            jar=jar,
            nonce=nonce,
        )
    finally:
        await api.aclose()


PageDep = Annotated[Page, Depends(_page, scope="function")]


def _keep_tokens(jar: ws.CookieJar, pair: accounts.TokenPair) -> None:
    jar.put(ws.ACCESS_COOKIE, pair.access_token, pair.expires_in)
    jar.put(ws.REFRESH_COOKIE, pair.refresh_token, pair.refresh_expires_in)


class Form(dict[str, str]):
    """A posted form: the first value of each field, and ``getlist`` for repeated ones (checkboxes)."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        super().__init__({k: v[0] for k, v in values.items()})
        self.lists = values

    def getlist(self, name: str) -> list[str]:
        return [v for v in self.lists.get(name, []) if v]


async def read_form(request: Request, page: Page) -> Form:
    """The posted form (urlencoded), after its CSRF token checked out; raises CsrfRefused otherwise."""
    body = (await request.body()).decode("utf-8", errors="replace")
    form = Form(parse_qs(body, keep_blank_values=True))
    if not ws.csrf_valid(page.settings, page.nonce, form.get(ws.CSRF_FIELD)):
        raise CsrfRefused
    return form


class CsrfRefused(Exception):
    """A form without our page's CSRF token."""


def csrf_refused(page: Page) -> HTMLResponse:
    return page.render(
        "error.html", status=403, title=page.t("error.csrf_title"), detail=page.t("error.csrf")
    )


@router.get("/", response_class=HTMLResponse)
async def today(page: PageDep) -> HTMLResponse:
    """Today: the personal feed (signed in), trending with its reasons, the latest stories."""
    api = page.api
    calls = [
        api.get_or({"items": []}, "/api/v1/stories", limit=12),
        api.get_or([], "/api/v1/trending", limit=5),
    ]
    if page.signed_in:
        calls.append(api.get_or({"items": []}, "/api/v1/feed", limit=10))
        calls.append(api.get_or({"items": []}, "/api/v1/me/briefings", limit=1))
    results = await api.gather(*calls)
    feed = results[2]["items"] if len(results) > 2 else None
    briefings = results[3]["items"] if len(results) > 3 else []
    return page.render(
        "today.html", latest=results[0]["items"], trending=results[1], feed=feed, briefings=briefings
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(page: PageDep, next: str | None = None) -> Response:
    if page.signed_in:
        return page.redirect(safe_next(next))
    return page.render("auth.html", mode="login", next=safe_next(next), error=None, email="")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, page: PageDep, db: DbDep) -> Response:
    try:
        form = await read_form(request, page)
    except CsrfRefused:
        return csrf_refused(page)
    email, password, next_path = form.get("email", ""), form.get("password", ""), safe_next(form.get("next"))
    try:
        await enforce_account_limit(request, email)
        async with db.unit() as uow:
            _user, pair = await accounts.login(
                uow,
                page.settings,
                email=email,
                password=password,
                user_agent=request.headers.get("user-agent"),
            )
    except NewsTalkError as exc:
        message = page.t("auth.wrong") if isinstance(exc, Unauthorized) else exc.detail
        return page.render(
            "auth.html", status=exc.status_code, mode="login", next=next_path, error=message, email=email
        )
    _keep_tokens(page.jar, pair)
    await _adopt_language(page, pair.access_token)
    return page.redirect(next_path)


async def _adopt_language(page: Page, access_token: str) -> None:
    """The UI follows the account's first preferred language (``nt_lang_pref``) where the switch
    (``nt_lang``) has not chosen one: at sign-in and after registering (another account's
    choice on this browser is dropped when the new one has none)."""
    api = Api(
        page.request.app, access_token, page.request.client.host if page.request.client else "127.0.0.1"
    )
    try:
        prefs = await api.get_or({}, "/api/v1/me/preferences")
    finally:
        await api.aclose()
    adopt_languages(page, prefs.get("languages", []))


def adopt_languages(page: Page, languages: list[str]) -> None:
    """Keep the first of ``languages`` we have a UI for as the adopted UI language (or none)."""
    preferred = [code for code in languages if code in LANGUAGES]
    if preferred:
        page.jar.put(ws.LANG_PREF_COOKIE, preferred[0], 365 * 86400)
    elif page.request.cookies.get(ws.LANG_PREF_COOKIE):
        page.jar.drop(ws.LANG_PREF_COOKIE)


@router.get("/register", response_class=HTMLResponse)
async def register_form(page: PageDep) -> Response:
    if page.signed_in:
        return page.redirect("/")
    return page.render("auth.html", mode="register", next="/", error=None, email="")


@router.post("/register", response_class=HTMLResponse)
async def register(request: Request, page: PageDep, db: DbDep) -> Response:
    try:
        form = await read_form(request, page)
    except CsrfRefused:
        return csrf_refused(page)
    email, password = form.get("email", ""), form.get("password", "")
    try:
        await enforce_account_limit(request, email)
        if len(password) < 10:
            raise InvalidInput(page.t("auth.password_short"))
        async with db.unit() as uow:
            await accounts.register(
                uow,
                page.settings,
                email=email,
                password=password,
                display_name=form.get("display_name", "")[:100],
            )
        async with db.unit() as uow:
            _user, pair = await accounts.login(
                uow,
                page.settings,
                email=email,
                password=password,
                user_agent=request.headers.get("user-agent"),
            )
    except NewsTalkError as exc:
        # A taken address answers like a wrong password would at login: no account enumeration.
        message = page.t("auth.register_failed") if isinstance(exc, Unauthorized) else exc.detail
        return page.render(
            "auth.html", status=exc.status_code, mode="register", next="/", error=message, email=email
        )
    _keep_tokens(page.jar, pair)
    await _adopt_language(page, pair.access_token)
    return page.redirect("/")


@router.post("/logout")
async def logout(request: Request, page: PageDep, db: DbDep) -> Response:
    try:
        await read_form(request, page)
    except CsrfRefused:
        return csrf_refused(page)
    if page.principal is not None and page.principal.session_id is not None:
        async with db.unit() as uow:
            await accounts.logout(uow, page.principal)
        await invalidate_principals(request, session_id=page.principal.session_id)
    page.jar.drop(ws.ACCESS_COOKIE)
    page.jar.drop(ws.REFRESH_COOKIE)
    if page.request.cookies.get(ws.LANG_PREF_COOKIE):
        page.jar.drop(ws.LANG_PREF_COOKIE)  # the account's, not this browser's
    return page.redirect("/")


@router.post("/session/refresh")
async def refresh(request: Request, page: PageDep, db: DbDep) -> Response:
    """The page's script calls this in the background before the access cookie runs out (204; 401 signed out)."""
    if not ws.csrf_valid(page.settings, page.nonce, request.headers.get(ws.CSRF_HEADER)):
        return Response(status_code=403)
    token = request.cookies.get(ws.REFRESH_COOKIE)
    if not token:
        return Response(status_code=401)
    async with db.unit() as uow:
        outcome = await accounts.refresh(uow, page.settings, token)
    response = Response(status_code=204)
    if isinstance(outcome, accounts.RefreshRefused):
        if outcome.revoked_session_id is not None:
            await invalidate_principals(request, session_id=outcome.revoked_session_id)
        page.jar.drop(ws.ACCESS_COOKIE)
        page.jar.drop(ws.REFRESH_COOKIE)
        response.status_code = 401
    else:
        _keep_tokens(page.jar, outcome)
        response.headers["x-expires-in"] = str(outcome.expires_in)
    page.jar.apply(response)
    return response


@router.get("/lang/{code}")
async def switch_language(code: str, page: PageDep, next: str | None = None) -> Response:
    if code in LANGUAGES:
        page.jar.put(ws.LANG_COOKIE, code, 365 * 86400)
    return page.redirect(safe_next(next))
