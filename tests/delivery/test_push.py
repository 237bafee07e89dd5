"""Push notifications: the device and position endpoints, and the Expo provider against a local
stub of Expo's push API (batches of at most 100, retries on 503, DeviceNotRegistered tickets
and receipts delete the token), driven through the real live stage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import select

from newstalk.accounts.models import Role
from newstalk.config import Settings
from newstalk.delivery import push
from newstalk.delivery.push_models import PushDevice
from newstalk.runtime import Services
from tests.conftest import make_settings
from tests.delivery.expo_push_stub import ExpoStub, expo_stub
from tests.delivery.live_helpers import emit, make_story, run_stage, story_updated
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio

AUDIO_ID = "ab" * 32


def token(name: str) -> str:
    return f"ExponentPushToken[{name}]"


@pytest.fixture
def stub() -> Iterator[ExpoStub]:
    with expo_stub() as s:
        yield s


@pytest.fixture
def push_settings(database_url: str, stub: ExpoStub) -> Settings:
    return make_settings(
        database_url,
        push_provider="expo",
        push_expo_url=stub.url,
        push_expo_access_token="expo-access-token-for-tests",
        push_retry_base_s=0,
        push_receipt_delay_s=0,
    )


@pytest.fixture
async def push_services(push_settings: Settings) -> AsyncIterator[Services]:
    svc = Services.build(push_settings)
    try:
        yield svc
    finally:
        await svc.aclose()


async def tokens_in_db(services: Services) -> set[str]:
    async with services.db.read() as session:
        return set((await session.execute(select(PushDevice.token))).scalars())


async def test_device_registration_needs_an_account_and_validates_the_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = {"token": token("aaaa"), "platform": "ios", "language": "ko"}
    assert (await client.post("/api/v1/me/devices", json=body)).status_code == 401
    listener = await make_account(settings, Role.listener, "minji@example.org")
    bad = await client.post(
        "/api/v1/me/devices", json={**body, "token": "not-a-token"}, headers=listener.headers
    )
    assert bad.status_code == 422
    assert "Expo push token" in bad.json()["detail"]
    res = await client.post("/api/v1/me/devices", json=body, headers=listener.headers)
    assert res.status_code == 201
    assert res.json()["platform"] == "ios"
    assert res.json()["language"] == "ko"
    again = await client.post(
        "/api/v1/me/devices", json={**body, "platform": "android"}, headers=listener.headers
    )
    assert again.status_code == 201
    assert again.json()["id"] == res.json()["id"]
    listed = (await client.get("/api/v1/me/devices", headers=listener.headers)).json()
    assert [d["platform"] for d in listed] == ["android"]

    # Another listener signing in on the same device takes the token over.
    other = await make_account(settings, Role.listener, "jun@example.org")
    moved = await client.post("/api/v1/me/devices", json=body, headers=other.headers)
    assert moved.status_code == 201
    assert (await client.get("/api/v1/me/devices", headers=listener.headers)).json() == []
    gone = await client.delete(f"/api/v1/me/devices/{body['token']}", headers=listener.headers)
    assert gone.status_code == 404
    assert (
        await client.delete(f"/api/v1/me/devices/{body['token']}", headers=other.headers)
    ).status_code == 204
    assert (await client.get("/api/v1/me/devices", headers=other.headers)).json() == []


async def test_account_deletion_removes_devices_and_positions(
    client: httpx.AsyncClient, settings: Settings, services: Services
) -> None:
    listener = await make_account(settings, Role.listener, "delete-me@example.org")
    body = {"token": token("bbbb"), "platform": "android"}
    assert (await client.post("/api/v1/me/devices", json=body, headers=listener.headers)).status_code == 201
    put = await client.put(
        f"/api/v1/me/positions/{AUDIO_ID}", json={"position_s": 12.5}, headers=listener.headers
    )
    assert put.status_code == 200
    assert (await client.delete("/api/v1/me", headers=listener.headers)).status_code == 204
    assert await tokens_in_db(services) == set()


async def test_positions_are_per_listener(client: httpx.AsyncClient, settings: Settings) -> None:
    a = await make_account(settings, Role.listener, "a@example.org")
    b = await make_account(settings, Role.listener, "b@example.org")
    url = f"/api/v1/me/positions/{AUDIO_ID}"
    assert (await client.get(url, headers=a.headers)).json()["position_s"] == 0
    assert (await client.put(url, json={"position_s": 42.5}, headers=a.headers)).status_code == 200
    assert (await client.put(url, json={"position_s": 61.0}, headers=a.headers)).json()["position_s"] == 61.0
    assert (await client.get(url, headers=a.headers)).json()["position_s"] == 61.0
    assert (await client.get(url, headers=b.headers)).json()["position_s"] == 0
    assert (await client.put(url, json={"position_s": -1}, headers=a.headers)).status_code == 422
    assert (await client.get("/api/v1/me/positions/not-an-id", headers=a.headers)).status_code == 422
    assert (await client.get(url)).status_code == 401


async def test_provider_batches_retries_and_reports_dead_tokens(
    push_settings: Settings, stub: ExpoStub
) -> None:
    stub.dead = {token("dead")}
    stub.fail_next = 1
    provider = push.ExpoPushProvider(push_settings)
    try:
        messages = [push.PushMessage(token(f"t{i}"), "title", "body") for i in range(249)]
        messages.append(push.PushMessage(token("dead"), "title", "body"))
        tickets = await provider.send(messages)
    finally:
        await provider.aclose()
    assert [len(batch) for batch in stub.sends] == [100, 100, 50]
    assert stub.refused == 1  # the first try answered 503 and was sent again
    assert len(tickets) == 250
    assert tickets[-1] == push.Ticket(token("dead"), None, push.NOT_REGISTERED)
    assert all(t.id and t.error is None for t in tickets[:-1])
    assert set(stub.auth) == {"Bearer expo-access-token-for-tests"}


async def test_provider_gives_up_after_its_attempts(push_settings: Settings, stub: ExpoStub) -> None:
    stub.fail_next = 100
    provider = push.ExpoPushProvider(push_settings)
    try:
        with pytest.raises(push.PushError, match="failed 3 times"):
            await provider.send([push.PushMessage(token("x"), "t", "b")])
    finally:
        await provider.aclose()
    assert stub.refused == push_settings.push_max_attempts
    assert stub.sends == []


async def test_new_story_pushes_to_followers_and_dead_tokens_go(
    push_services: Services, stub: ExpoStub
) -> None:
    from newstalk.listeners import service as listeners

    settings = push_services.settings
    fan = await make_account(settings, Role.listener, "fan@example.org")
    other = await make_account(settings, Role.listener, "other@example.org")
    muter = await make_account(settings, Role.listener, "muter@example.org")
    devices = {
        fan.id: [token("fan-ok"), token("fan-dead"), token("fan-dead-later")],
        other.id: [token("other")],
        muter.id: [token("muter")],
    }
    async with push_services.db.unit() as uow:
        await listeners.update_preferences(uow, fan.id, {"categories": ["economy"]})
        await listeners.update_preferences(uow, other.id, {"categories": ["sports"]})
        await listeners.update_preferences(
            uow, muter.id, {"categories": ["economy"], "muted_topics": ["tariffs"]}
        )
        for user_id, tokens in devices.items():
            for t in tokens:
                await push.register_device(uow, user_id, t, "android", "ko" if user_id == fan.id else "en")
    stub.dead = {token("fan-dead")}
    stub.dead_later = {token("fan-dead-later")}

    story_id = await make_story(push_services, "Tariffs rise again", category="economy", keywords=["tariffs"])
    await emit(push_services, story_updated(story_id))
    assert await run_stage(push_services, "live") == 1

    sent = [m for batch in stub.sends for m in batch]
    assert sorted(m["to"] for m in sent) == sorted(devices[fan.id])
    first = sent[0]
    assert first["body"] == "Tariffs rise again"
    assert first["title"] == "economy 새 소식"
    assert first["data"] == {"story_id": story_id, "url": f"newstalk://story/{story_id}"}
    # The ticket refused one token at once; the receipt (read right away: delay 0) the other.
    assert stub.receipt_requests
    assert len(stub.receipt_requests[0]) == 2
    assert await tokens_in_db(push_services) == {token("fan-ok"), token("other"), token("muter")}

    # A later version of the same story is not new: no second push.
    await emit(push_services, story_updated(story_id, version=2))
    await run_stage(push_services, "live")
    assert len([m for batch in stub.sends for m in batch]) == len(sent)


async def test_push_is_off_by_default(services: Services) -> None:
    assert services.settings.push_provider == "none"
    assert push.build_provider(services.settings) is None
