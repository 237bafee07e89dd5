"""FastAPI dependencies handed to endpoints as Annotated aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.accounts.models import Role
from newstalk.accounts.principals import PrincipalCache
from newstalk.accounts.service import Principal, authenticate, note_api_key_use
from newstalk.errors import Forbidden, RateLimited, Unauthorized
from newstalk.kit import logs, ratelimit
from newstalk.kit.api import INTERNAL_SCOPE_KEY, PRINCIPAL_SCOPE_KEY
from newstalk.kit.db import RequestSession
from newstalk.runtime import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain-def dependency in a worker thread, a thread
    # hop on every request for a dictionary lookup.
    return get_services(request)


ServicesDep = Annotated[Services, Depends(_services)]


async def request_db(request: Request) -> AsyncIterator[RequestSession]:
    """The request's database access: one read session, opened on first use, closed after the endpoint.

    FastAPI caches a dependency per request, so authentication, the rate limiter and the
    endpoint all get this one object (the shape of the FastAPI template's ``SessionDep``).
    """
    db = RequestSession(get_services(request).db)
    try:
        yield db
    finally:
        await db.close()


# scope="function": closed when the endpoint returns, before the response is sent, so a
# connection is never held while the answer goes out (or while a stream runs).
DbDep = Annotated[RequestSession, Depends(request_db, scope="function")]


async def read_session(db: DbDep) -> AsyncSession:
    """The request's read-only session (shared with authentication)."""
    return await db.read()


SessionDep = Annotated[AsyncSession, Depends(read_session)]


def principal_cache(request: Request) -> PrincipalCache:
    """This app's principal cache (built on first use with ``auth_cache_ttl_s``)."""
    state = request.app.state
    cache: PrincipalCache | None = getattr(state, "principal_cache", None)
    if cache is None:
        cache = PrincipalCache(get_services(request).settings.auth_cache_ttl_s)
        state.principal_cache = cache
    return cache


async def invalidate_principals(
    request: Request,
    *,
    user_id: int | None = None,
    session_id: int | None = None,
    api_key_id: int | None = None,
) -> None:
    """After a change committed: drop the cached principals of these ids here, then in every other process.

    Never raises for Redis: other processes then drop them within ``auth_cache_ttl_s``.
    """
    principal_cache(request).invalidate(user_id=user_id, session_id=session_id, api_key_id=api_key_id)
    await get_services(request).principal_fanout.publish(
        user_id=user_id, session_id=session_id, api_key_id=api_key_id
    )


_STATE_KEY = PRINCIPAL_SCOPE_KEY
NEEDS_AUTH = (
    "auth: this endpoint needs 'Authorization: Bearer <access token or API key>'; "
    "log in at POST /api/v1/auth/login"
)


async def optional_principal(request: Request, db: DbDep) -> Principal | None:
    """The caller, or None when no credential was sent; a bad credential is Unauthorized.

    Resolved once per request (the rate limiter and the endpoint share it), from the
    principal cache when this credential was resolved in the last few seconds, else with
    the request's session.
    """
    if _STATE_KEY in request.scope:
        cached: Principal | Unauthorized | None = request.scope[_STATE_KEY]
        if isinstance(cached, Unauthorized):
            raise cached
        return cached
    header = request.headers.get("authorization")
    principal: Principal | None = None
    if header is not None:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            error = Unauthorized(NEEDS_AUTH)
            request.scope[_STATE_KEY] = error
            raise error
        credential = credential.strip()
        cache = principal_cache(request)
        principal = cache.get(credential)
        if principal is None:
            generation = cache.generation
            try:
                session = await db.read()
                principal = await authenticate(session, get_services(request).settings, credential)
            except Unauthorized as exc:
                request.scope[_STATE_KEY] = exc
                raise
            if principal.api_key_stale:
                async with db.unit() as uow:
                    await note_api_key_use(uow, principal)
                principal = replace(principal, api_key_stale=False)
            cache.put(credential, principal, generation=generation)
    request.scope[_STATE_KEY] = principal
    if principal is not None and principal.user_id is not None:
        key = get_services(request).settings.jwt_secret.get_secret_value()
        logs.annotate(listener=logs.listener_hash(principal.user_id, key))
    return principal


async def require_principal(request: Request, db: DbDep) -> Principal:
    principal = await optional_principal(request, db)
    if principal is None:
        raise Unauthorized(NEEDS_AUTH)
    return principal


# Declares the bearer scheme in the OpenAPI document (the "Authorize" button in /docs);
# the credential itself is read and checked by optional_principal.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An access token from POST /api/v1/auth/login, or a personal API key (ntk_...)",
)
BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


def _require(
    role: Role,
) -> Callable[[Request, HTTPAuthorizationCredentials | None, RequestSession], Awaitable[Principal]]:
    async def check(request: Request, _: BearerDoc, db: DbDep) -> Principal:
        principal = await require_principal(request, db)
        if not principal.has_role(role):
            raise Forbidden(
                f"auth: this endpoint needs the {role.value} role; you are a {principal.role.value}"
            )
        return principal

    return check


async def require_account(request: Request, _: BearerDoc, db: DbDep) -> Principal:
    """An account (token or API key); the development admin token has no personal data."""
    principal = await require_principal(request, db)
    principal.account_id  # noqa: B018 - raises Forbidden for the development admin token
    return principal


async def enforce_rate_limit(request: Request, db: DbDep) -> None:
    """Count the request against its listener (or its address when anonymous); 429 over the limit.

    Runs on every route, before the endpoint's own dependencies. A request with a bad
    credential counts against its address, so guessing keys is limited too.
    """
    policy: ratelimit.Policy | None = getattr(request.app.state, "rate_limits", None)
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if policy is None or template is None or request.scope.get(INTERNAL_SCOPE_KEY):
        return
    try:
        principal = await optional_principal(request, db)
    except Unauthorized:
        principal = None
    if principal is not None and principal.user_id is not None and template not in ratelimit.ADDRESS_ROUTES:
        who = f"user:{principal.user_id}"
    else:
        who = f"ip:{request.client.host if request.client else 'unknown'}"
    decision = await ratelimit.check(request.scope, policy, request.method, template, who)
    if decision is not None and not decision.allowed:
        raise RateLimited(ratelimit.refusal(decision))


async def enforce_account_limit(request: Request, email: str) -> None:
    """Count a login or register attempt against the account it targets; 429 over the limit.

    Independent of the caller's address and of any credential sent along, so spreading
    guesses over addresses or accounts does not multiply them (issue 13).
    """
    policy: ratelimit.Policy | None = getattr(request.app.state, "rate_limits", None)
    limit = get_services(request).settings.auth_attempts_per_account_hour
    if policy is None or limit <= 0:
        return
    decision = await ratelimit.check_account(policy, email, limit)
    if not decision.allowed:
        request.scope[ratelimit.SCOPE_KEY] = [(b"retry-after", str(ratelimit.retry_after(decision)).encode())]
        raise RateLimited(
            f"ratelimit: more than {limit} sign-in attempts an hour for this account; "
            f"retry in {ratelimit.retry_after(decision)} s"
        )


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentAccount = Annotated[Principal, Depends(require_account)]
ListenerDep = Annotated[Principal, Depends(_require(Role.listener))]
EditorDep = Annotated[Principal, Depends(_require(Role.editor))]
AdminDep = Annotated[Principal, Depends(_require(Role.admin))]
