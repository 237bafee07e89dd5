"""Decisions about accounts: who may register and log in, token rotation, reuse, API keys, roles."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.accounts import repository, security
from newstalk.accounts.models import ROLE_RANK, ApiKey, AuthSession, RefreshToken, Role, User
from newstalk.config import Environment, Settings
from newstalk.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from newstalk.kit.db import UnitOfWork, utcnow

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
PASSWORD_MIN = 10
PASSWORD_MAX = 256
PASSWORD_MIN_SCORE = 3
ZXCVBN_MAX_CHARS = 100
MAX_API_KEYS = 10
API_KEY_TOUCH_S = 3600  # last_used_at is refreshed at most this often: reads stay reads
REVOKED_LOGOUT = "logout"
REVOKED_REUSE = "reuse-detected"
REVOKED_DELETED = "account-deleted"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an account (by token or API key) or the development admin token."""

    user_id: int | None
    role: Role
    via: str  # "token", "api_key" or "admin_token"
    session_id: int | None = None
    api_key_id: int | None = None
    api_key_stale: bool = False  # its last_used_at is over an hour old
    expires_at: datetime | None = None  # when the access token expires (None: API key, admin token)

    def has_role(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def account_id(self) -> int:
        """The caller's user id; the development admin token has no account and is Forbidden."""
        if self.user_id is None:
            raise Forbidden("auth: the development admin token is not an account; log in as a user")
        return self.user_id


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


@dataclass(frozen=True, slots=True)
class RefreshRefused:
    """Why a refresh failed; returned (not raised) so a reuse revocation still commits."""

    detail: str
    revoked_session_id: int | None = None  # the login this refusal ended (reuse detected)


def normalize_email(email: str) -> str:
    """Lower-cased and trimmed, or InvalidInput."""
    value = email.strip().lower()
    if not EMAIL_RE.match(value):
        raise InvalidInput(f"accounts: {email!r} is not an email address")
    return value


def check_password(password: str, email: str, display_name: str = "") -> None:
    """Length 10-256, not the email, and not guessable; InvalidInput says which rule failed.

    Guessability is zxcvbn's estimate (Dropbox's model: common-password, name and word lists,
    keyboard walks, repeats, sequences, dates, l33t), scored 0-4; below
    ``PASSWORD_MIN_SCORE`` is refused. The email and display name count as known words.
    """
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"accounts: password must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(f"accounts: password must be at most {PASSWORD_MAX} characters")
    if password.strip().lower() == email:
        raise InvalidInput("accounts: password must not be the email address")
    # zxcvbn's matching grows fast with length; its authors score the first 100 characters.
    from zxcvbn import zxcvbn  # its word lists (about 14 MB) load when a password is first set

    known = [email, email.split("@", 1)[0], display_name]
    estimate = zxcvbn(password[:ZXCVBN_MAX_CHARS], user_inputs=[k for k in known if k])
    if estimate["score"] < PASSWORD_MIN_SCORE:
        warning = estimate["feedback"].get("warning") or "it is too easy to guess"
        raise InvalidInput(
            f"accounts: password is too easy to guess ({warning.rstrip('.')}); "
            "use a longer phrase of unrelated words"
        )


async def create_user(
    uow: UnitOfWork, *, email: str, password: str, display_name: str = "", role: Role = Role.listener
) -> User:
    """Store a new account with an argon2id password hash; Conflict if the email is taken."""
    email = normalize_email(email)
    check_password(password, email)
    if await repository.get_user_by_email(uow.session, email) is not None:
        raise Conflict(f"accounts: {email} already has an account; log in or use another address")
    now = utcnow()
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=await security.hash_password(password),
        role=role.value,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(user)
    await uow.session.flush()
    return user


async def register(
    uow: UnitOfWork, settings: Settings, *, email: str, password: str, display_name: str
) -> User | None:
    """Open registration: create a listener, or do nothing if the email is taken; the caller can't tell.

    Both paths validate the same way and hash the password once (argon2id is what takes the
    time), so neither the answer nor its timing says whether the address has an account.
    Returns the new user, or None when the email was already registered.
    """
    if not settings.registration_open:
        raise Forbidden("accounts: registration is closed on this server; ask an admin for an account")
    email = normalize_email(email)
    check_password(password, email, display_name)
    password_hash = await security.hash_password(password)
    if await repository.get_user_by_email(uow.session, email) is not None:
        return None
    now = utcnow()
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=password_hash,
        role=Role.listener.value,
        created_at=now,
        updated_at=now,
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(user)
    except IntegrityError:
        # Registered by a concurrent request between the lookup and the insert.
        return None
    return user


async def login(
    uow: UnitOfWork, settings: Settings, *, email: str, password: str, user_agent: str | None
) -> tuple[User, TokenPair]:
    """Check the password and start a login session (a new refresh-token family)."""
    try:
        email = normalize_email(email)
    except InvalidInput:
        email = ""
    user = await repository.get_user_by_email(uow.session, email) if email else None
    if not await security.verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("auth: email or password is wrong")
    if security.needs_rehash(user.password_hash):
        user.password_hash = await security.hash_password(password)
    user.last_login_at = utcnow()
    return user, await start_session(uow, settings, user, user_agent)


async def start_session(uow: UnitOfWork, settings: Settings, user: User, user_agent: str | None) -> TokenPair:
    """Start a login session (a new refresh-token family) for a user whose password was checked."""
    now = utcnow()
    auth_session = AuthSession(
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
        user_agent=(user_agent or "")[:256] or None,
    )
    uow.session.add(auth_session)
    await uow.session.flush()
    return await _issue(uow, settings, user, auth_session, now)


async def _issue(
    uow: UnitOfWork,
    settings: Settings,
    user: User,
    auth_session: AuthSession,
    now: datetime,
    *,
    replaces: str | None = None,
) -> TokenPair:
    # A login's first refresh token is random; each rotation derives the next from the one
    # it replaces, so a client retrying a rotation whose answer it lost can be given it again.
    secret = settings.jwt_secret.get_secret_value()
    refresh = (
        security.new_refresh_token() if replaces is None else security.next_refresh_token(secret, replaces)
    )
    uow.session.add(
        RefreshToken(session_id=auth_session.id, token_hash=security.sha256_hex(refresh), issued_at=now)
    )
    await uow.session.flush()
    return _pair(settings, user, auth_session, now, refresh)


def _pair(
    settings: Settings, user: User, auth_session: AuthSession, now: datetime, refresh: str
) -> TokenPair:
    access = security.issue_access_token(
        settings.jwt_secret.get_secret_value(),
        user_id=user.id,
        session_id=auth_session.id,
        role=user.role,
        now=now,
        ttl_s=settings.access_token_ttl_s,
    )
    return TokenPair(
        access_token=access,
        expires_in=settings.access_token_ttl_s,
        refresh_token=refresh,
        refresh_expires_in=int((auth_session.expires_at - now).total_seconds()),
    )


async def refresh(uow: UnitOfWork, settings: Settings, refresh_token: str) -> TokenPair | RefreshRefused:
    """Trade a refresh token for a new pair; a token used twice revokes its whole family.

    A second use means the token leaked (or a client raced itself): whoever holds any
    token of that login, attacker or owner, must log in again. One exception, the grace
    window: a retry within ``refresh_grace_s`` of the rotation, while the token it
    produced is still unused, is a client that lost the answer, and gets that same
    refresh token again (with a fresh access token) instead of ending the login.
    """
    now = utcnow()
    token_hash = security.sha256_hex(refresh_token)
    session_id = await repository.claim_refresh_token(uow.session, token_hash, now)
    if session_id is None:
        used = await repository.find_refresh_token(uow.session, token_hash)
        if used is None:
            return RefreshRefused("auth: refresh token is not valid; log in again")
        retried = await _retry_within_grace(uow, settings, used, refresh_token, now)
        if retried is not None:
            return retried
        await repository.revoke_session(uow.session, used.session_id, REVOKED_REUSE, now)
        return RefreshRefused(
            "auth: refresh token was already used; every token of this login is revoked, log in again",
            revoked_session_id=used.session_id,
        )
    found = await _live_session(uow.session, session_id, now)
    if isinstance(found, RefreshRefused):
        return found
    auth_session, user = found
    auth_session.last_refreshed_at = now
    auth_session.expires_at = now + timedelta(seconds=settings.refresh_token_ttl_s)
    return await _issue(uow, settings, user, auth_session, now, replaces=refresh_token)


async def _retry_within_grace(
    uow: UnitOfWork, settings: Settings, used: RefreshToken, refresh_token: str, now: datetime
) -> TokenPair | RefreshRefused | None:
    """The pair for a retried rotation, or None when this is reuse (too late, or the login moved on)."""
    grace = timedelta(seconds=settings.refresh_grace_s)
    if not grace or used.used_at is None or now - used.used_at > grace:
        return None
    successor = security.next_refresh_token(settings.jwt_secret.get_secret_value(), refresh_token)
    issued = await repository.find_refresh_token(uow.session, security.sha256_hex(successor))
    # Once the successor was itself used, its holder is ahead of whoever sent this one.
    if issued is None or issued.session_id != used.session_id or issued.used_at is not None:
        return None
    found = await _live_session(uow.session, used.session_id, now)
    if isinstance(found, RefreshRefused):
        return found
    auth_session, user = found
    return _pair(settings, user, auth_session, now, successor)


async def _live_session(
    session: AsyncSession, session_id: int, now: datetime
) -> tuple[AuthSession, User] | RefreshRefused:
    auth_session = await repository.get_session(session, session_id)
    if auth_session is None or auth_session.revoked_at is not None:
        return RefreshRefused("auth: this login was ended; log in again")
    if auth_session.expires_at <= now:
        return RefreshRefused("auth: this login expired; log in again")
    user = await repository.get_user(session, auth_session.user_id)
    if user is None:
        return RefreshRefused("auth: the account no longer exists")
    return auth_session, user


async def logout(uow: UnitOfWork, principal: Principal) -> None:
    """End the caller's login session: its access and refresh tokens stop working at once."""
    if principal.session_id is None:
        raise InvalidInput(
            "auth: logout ends a login session; API keys are revoked with DELETE /api/v1/me/api-keys/{id}"
        )
    await repository.revoke_session(uow.session, principal.session_id, REVOKED_LOGOUT, utcnow())


async def authenticate(session: AsyncSession, settings: Settings, credential: str) -> Principal:
    """Resolve a bearer credential (JWT, API key, or the development admin token) or raise Unauthorized."""
    if security.looks_like_api_key(credential):
        found = await repository.api_key_owner(session, security.sha256_hex(credential))
        if found is None:
            raise Unauthorized("auth: API key is not valid or was revoked")
        key, user = found
        now = utcnow()
        stale = key.last_used_at is None or now - key.last_used_at > timedelta(seconds=API_KEY_TOUCH_S)
        return Principal(
            user_id=user.id, role=Role(user.role), via="api_key", api_key_id=key.id, api_key_stale=stale
        )
    if settings.environment is Environment.development and secrets.compare_digest(
        credential.encode(), settings.admin_token.get_secret_value().encode()
    ):
        return Principal(user_id=None, role=Role.admin, via="admin_token")
    claims = security.decode_access_token(settings.jwt_secret.get_secret_value(), credential)
    owner = await repository.user_with_live_session(session, claims.user_id, claims.session_id, utcnow())
    if owner is None:
        raise Unauthorized("auth: this login was ended or the account deleted; log in again")
    # The role comes from the database, so a demotion takes effect on the next request.
    return Principal(
        user_id=owner.id,
        role=Role(owner.role),
        via="token",
        session_id=claims.session_id,
        expires_at=claims.expires_at,
    )


async def note_api_key_use(uow: UnitOfWork, principal: Principal) -> None:
    """Record when a key was last used; called only when it is stale, so reads stay reads."""
    if principal.api_key_id is not None:
        await repository.touch_api_key(uow.session, principal.api_key_id, utcnow())


async def create_api_key(uow: UnitOfWork, user_id: int, name: str) -> tuple[ApiKey, str]:
    """A new personal API key; the plaintext is returned once and never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("accounts: give the API key a name, e.g. 'podcast script'")
    if await repository.count_live_api_keys(uow.session, user_id) >= MAX_API_KEYS:
        raise Conflict(f"accounts: at most {MAX_API_KEYS} live API keys per account; revoke one first")
    plaintext = security.new_api_key()
    key = ApiKey(
        user_id=user_id,
        name=name,
        prefix=plaintext[: len(security.API_KEY_PREFIX) + 6],
        key_hash=security.sha256_hex(plaintext),
        created_at=utcnow(),
    )
    uow.session.add(key)
    await uow.session.flush()
    return key, plaintext


async def revoke_api_key(uow: UnitOfWork, user_id: int, key_id: int) -> None:
    """Revoke one of the caller's keys; another account's key is 'not found'."""
    key = await repository.get_api_key(uow.session, user_id, key_id)
    if key is None:
        raise NotFound(f"accounts: you have no API key {key_id}; see GET /api/v1/me/api-keys")
    if key.revoked_at is None:
        key.revoked_at = utcnow()


async def delete_user(uow: UnitOfWork, user_id: int) -> None:
    """Delete an account and, through foreign keys, its sessions, keys, preferences and feedback."""
    if not await repository.delete_user(uow.session, user_id):
        raise NotFound(f"accounts: no user {user_id}")


async def set_role(uow: UnitOfWork, user_id: int, role: Role, *, actor: Principal) -> User:
    """Change a user's role; an admin cannot demote themselves (someone must stay admin)."""
    user = await repository.get_user(uow.session, user_id)
    if user is None:
        raise NotFound(f"accounts: no user {user_id}")
    if actor.user_id == user_id and role is not Role.admin:
        raise Conflict("accounts: you cannot demote yourself; ask another admin")
    user.role = role.value
    user.updated_at = utcnow()
    return user


async def create_admin(uow: UnitOfWork, *, email: str, password: str) -> User:
    """Bootstrap an admin account (CLI); an existing account is refused, not silently promoted."""
    existing = await repository.get_user_by_email(uow.session, normalize_email(email))
    if existing is not None:
        raise Conflict(
            f"accounts: {existing.email} already has an account ({existing.role}); "
            f"promote it with 'newstalk users set-role {existing.email} admin'"
        )
    return await create_user(uow, email=email, password=password, role=Role.admin)


async def set_role_by_email(uow: UnitOfWork, email: str, role: Role) -> User:
    """Change a user's role by email (CLI)."""
    user = await repository.get_user_by_email(uow.session, normalize_email(email))
    if user is None:
        raise NotFound(f"accounts: no account for {email}")
    user.role = role.value
    user.updated_at = utcnow()
    return user
