"""FastAPI dependencies handed to endpoints as Annotated aliases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from newstalk.accounts.models import Role
from newstalk.accounts.service import Principal, authenticate, note_api_key_use
from newstalk.errors import Forbidden, RateLimited, Unauthorized
from newstalk.kit import ratelimit
from newstalk.runtime import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain-def dependency in a worker thread, a thread
    # hop on every request for a dictionary lookup.
    return get_services(request)


ServicesDep = Annotated[Services, Depends(_services)]

_STATE_KEY = "newstalk_principal"
NEEDS_AUTH = (
    "auth: this endpoint needs 'Authorization: Bearer <access token or API key>'; "
    "log in at POST /api/v1/auth/login"
)


async def optional_principal(request: Request) -> Principal | None:
    """The caller, or None when no credential was sent; a bad credential is Unauthorized.

    Resolved once per request (the rate limiter and the endpoint share it).
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
        services = get_services(request)
        try:
            async with services.db.read() as session:
                principal = await authenticate(session, services.settings, credential.strip())
        except Unauthorized as exc:
            request.scope[_STATE_KEY] = exc
            raise
        if principal.api_key_stale:
            async with services.db.unit() as uow:
                await note_api_key_use(uow, principal)
    request.scope[_STATE_KEY] = principal
    return principal


async def require_principal(request: Request) -> Principal:
    principal = await optional_principal(request)
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


def _require(role: Role) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    async def check(request: Request, _: BearerDoc) -> Principal:
        principal = await require_principal(request)
        if not principal.has_role(role):
            raise Forbidden(
                f"auth: this endpoint needs the {role.value} role; you are a {principal.role.value}"
            )
        return principal

    return check


async def require_account(request: Request, _: BearerDoc) -> Principal:
    """An account (token or API key); the development admin token has no personal data."""
    principal = await require_principal(request)
    principal.account_id  # noqa: B018 - raises Forbidden for the development admin token
    return principal


async def enforce_rate_limit(request: Request) -> None:
    """Count the request against its listener (or its address when anonymous); 429 over the limit.

    Runs on every route, before the endpoint's own dependencies. A request with a bad
    credential counts against its address, so guessing keys is limited too.
    """
    policy: ratelimit.Policy | None = getattr(request.app.state, "rate_limits", None)
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if policy is None or template is None:
        return
    try:
        principal = await optional_principal(request)
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
