"""API shapes for accounts, tokens and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from newstalk.accounts.models import Role


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, examples=["minji@example.org"])
    password: str = Field(min_length=10, max_length=256)
    display_name: str = Field("", max_length=100)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class Tokens(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Seconds the access token stays valid (at most 900)")
    refresh_token: str = Field(
        description="Use once at POST /api/v1/auth/refresh; a second use revokes the login"
    )
    refresh_expires_in: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    role: Role
    created_at: datetime
    last_login_at: datetime | None


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class RegisterAccepted(BaseModel):
    status: str = Field("accepted", examples=["accepted"])
    detail: str = Field(
        "accounts: registration received; log in with POST /api/v1/auth/login. "
        "If the address already had an account, its password is unchanged.",
    )


class AuthResult(BaseModel):
    user: UserOut
    tokens: Tokens


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["nightly export"])


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="The first characters of the key, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once an hour")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself; shown only now, store it safely")
