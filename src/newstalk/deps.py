"""FastAPI dependencies handed to endpoints as Annotated aliases."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from newstalk.errors import Unauthorized
from newstalk.runtime import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_admin(request: Request) -> None:
    """Write endpoints take the admin token (Authorization: Bearer <NEWSTALK_ADMIN_TOKEN>)."""
    services = get_services(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = services.settings.admin_token.get_secret_value()
    if (
        scheme.lower() != "bearer"
        or not token
        or not secrets.compare_digest(token.encode(), expected.encode())
    ):
        raise Unauthorized("auth: this endpoint needs 'Authorization: Bearer <NEWSTALK_ADMIN_TOKEN>'")


AdminDep = Annotated[None, Depends(require_admin)]
