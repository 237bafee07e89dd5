"""HTTP for accounts: /api/v1/auth, /api/v1/me, /api/v1/me/api-keys and /api/v1/users (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from newstalk.accounts import repository, service
from newstalk.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AuthResult,
    LoginRequest,
    RefreshRequest,
    RegisterAccepted,
    RegisterRequest,
    RoleUpdate,
    Tokens,
    UserOut,
    UserPage,
)
from newstalk.deps import (
    AdminDep,
    CurrentAccount,
    DbDep,
    ServicesDep,
    SessionDep,
    enforce_account_limit,
    invalidate_principals,
)
from newstalk.errors import NotFound, Unauthorized
from newstalk.kit.api import decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["accounts"])

UserAgent = Annotated[str | None, Header(include_in_schema=False)]


def _tokens(pair: service.TokenPair) -> Tokens:
    return Tokens(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
    )


@router.post("/auth/register", response_model=RegisterAccepted, status_code=status.HTTP_202_ACCEPTED)
async def register(
    body: RegisterRequest, request: Request, services: ServicesDep, db: DbDep
) -> RegisterAccepted:
    """Create a listener account; then log in. The answer is the same whether the email was free or taken."""
    await enforce_account_limit(request, body.email)
    async with db.unit() as uow:
        await service.register(
            uow, services.settings, email=body.email, password=body.password, display_name=body.display_name
        )
    return RegisterAccepted()


@router.post("/auth/login", response_model=AuthResult)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    services: ServicesDep,
    db: DbDep,
    user_agent: UserAgent = None,
) -> AuthResult:
    """Exchange email and password for an access token (15 min) and a refresh token."""
    await enforce_account_limit(request, body.email)
    async with db.unit() as uow:
        user, pair = await service.login(
            uow, services.settings, email=body.email, password=body.password, user_agent=user_agent
        )
    response.headers["Cache-Control"] = "no-store"
    return AuthResult(user=UserOut.model_validate(user), tokens=_tokens(pair))


@router.post("/auth/refresh", response_model=Tokens)
async def refresh(
    body: RefreshRequest, request: Request, response: Response, services: ServicesDep, db: DbDep
) -> Tokens:
    """Rotate: the refresh token is spent and a new pair issued. Reusing a spent one ends the login."""
    async with db.unit() as uow:
        outcome = await service.refresh(uow, services.settings, body.refresh_token)
    # Raised after the commit: a detected reuse must stay revoked.
    if isinstance(outcome, service.RefreshRefused):
        if outcome.revoked_session_id is not None:
            await invalidate_principals(request, session_id=outcome.revoked_session_id)
        raise Unauthorized(outcome.detail)
    response.headers["Cache-Control"] = "no-store"
    return _tokens(outcome)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, db: DbDep, principal: CurrentAccount) -> Response:
    """End this login: its access token and refresh tokens stop working now."""
    async with db.unit() as uow:
        await service.logout(uow, principal)
    await invalidate_principals(request, session_id=principal.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut)
async def me(session: SessionDep, principal: CurrentAccount) -> UserOut:
    user = await repository.get_user(session, principal.account_id)
    if user is None:
        raise NotFound("accounts: your account no longer exists")
    return UserOut.model_validate(user)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(request: Request, db: DbDep, principal: CurrentAccount) -> Response:
    """Delete your account and everything stored about you (sessions, keys, preferences, feedback)."""
    async with db.unit() as uow:
        await service.delete_user(uow, principal.account_id)
    await invalidate_principals(request, user_id=principal.account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/api-keys", response_model=list[ApiKeyOut])
async def list_api_keys(session: SessionDep, principal: CurrentAccount) -> list[ApiKeyOut]:
    """Your API keys, revoked ones included; the keys themselves are never shown again."""
    keys = await repository.list_api_keys(session, principal.account_id)
    return [ApiKeyOut.model_validate(k) for k in keys]


@router.post("/me/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(body: ApiKeyCreate, db: DbDep, principal: CurrentAccount) -> ApiKeyCreated:
    """A personal API key with your role, for scripts: send it as 'Authorization: Bearer <key>'."""
    async with db.unit() as uow:
        key, plaintext = await service.create_api_key(uow, principal.account_id, body.name)
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=plaintext)


@router.delete("/me/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: int, request: Request, db: DbDep, principal: CurrentAccount) -> Response:
    async with db.unit() as uow:
        await service.revoke_api_key(uow, principal.account_id, key_id)
    await invalidate_principals(request, api_key_id=key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users", response_model=UserPage)
async def list_users(
    db: DbDep,
    _: AdminDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> UserPage:
    """Every account in id order (admins)."""
    after = int(decode_cursor(cursor, 1)[0]) if cursor else None
    async with db.reading() as session:
        rows = await repository.list_users(session, after_id=after, limit=limit + 1)
    items = [UserOut.model_validate(r) for r in rows[:limit]]
    return UserPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(
    user_id: int, body: RoleUpdate, request: Request, db: DbDep, actor: AdminDep
) -> UserOut:
    """Change a user's role (admins); it applies from the user's next request."""
    async with db.unit() as uow:
        user = await service.set_role(uow, user_id, body.role, actor=actor)
    await invalidate_principals(request, user_id=user_id)
    return UserOut.model_validate(user)


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: int, request: Request, db: DbDep, _: AdminDep) -> Response:
    """Delete an account and its personal data (admins)."""
    async with db.unit() as uow:
        await service.delete_user(uow, user_id)
    await invalidate_principals(request, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
