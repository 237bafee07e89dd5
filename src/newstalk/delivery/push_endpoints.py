"""HTTP for push devices: /api/v1/me/devices (the mobile app registers its Expo push token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from newstalk.delivery import push
from newstalk.delivery.push_models import PushDevice
from newstalk.delivery.push_schemas import DeviceIn, DeviceOut
from newstalk.deps import CurrentAccount, DbDep
from newstalk.errors import NotFound

router = APIRouter(prefix="/api/v1/me", tags=["push"])

Token = Annotated[str, Path(min_length=1, max_length=255)]


def _out(device: PushDevice) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        token=device.token,
        platform=device.platform,
        language=device.language,
        created_at=device.created_at,
        updated_at=device.updated_at,
    )


@router.post("/devices", response_model=DeviceOut, status_code=status.HTTP_201_CREATED)
async def register_device(body: DeviceIn, db: DbDep, principal: CurrentAccount) -> DeviceOut:
    """Register this device for pushes about your followed topics (registering again updates it)."""
    async with db.unit() as uow:
        device = await push.register_device(
            uow, principal.account_id, body.token, body.platform, body.language
        )
    return _out(device)


@router.get("/devices", response_model=list[DeviceOut])
async def list_devices(db: DbDep, principal: CurrentAccount) -> list[DeviceOut]:
    """Your registered devices."""
    async with db.reading() as session:
        return [_out(d) for d in await push.list_devices(session, principal.account_id)]


@router.delete("/devices/{token}", status_code=status.HTTP_204_NO_CONTENT)
async def unregister_device(token: Token, db: DbDep, principal: CurrentAccount) -> Response:
    """Stop pushes to one of your devices (the app calls this when you sign out)."""
    async with db.unit() as uow:
        if not await push.unregister_device(uow, principal.account_id, token):
            raise NotFound("push: no such device token on your account")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
