"""Push notifications for followed topics, sent through a provider chosen by settings.

When the ``live`` stage announces a story for the first time (``story.updated`` with
``new``), every device of a listener who follows the story's category or one of its
keywords, and mutes none of them, gets one notification. Sending happens after the live
stage's commit and is at most once: a process that dies in between loses that push (the
story still reaches the feed, SSE and webhooks).

The only provider is Expo's push service (``NEWSTALK_PUSH_PROVIDER=expo``; the app's
tokens are Expo push tokens): messages go out in batches of at most 100, 429 / 5xx /
network errors are retried with doubling delays, and a ``DeviceNotRegistered`` answer, in
a ticket at once or in a receipt read ``NEWSTALK_PUSH_RECEIPT_DELAY_S`` later, deletes the
token. Pending receipts live in the process: a restart forgets them (the next send to a
dead token is refused again and removes it then).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk import __version__
from newstalk.delivery import push_repository as repo
from newstalk.delivery.push_models import PushDevice
from newstalk.errors import InvalidInput
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.kit.resources import ResourceKey
from newstalk.listeners.models import Preferences
from newstalk.pipeline import topics

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.delivery.live_fanout import LiveMessage
    from newstalk.pipeline.context import StageServices

log = logging.getLogger(__name__)

BATCH = 100  # Expo accepts at most 100 messages per send request
RECEIPT_BATCH = 1000  # and at most 1,000 ids per receipts request
NOT_REGISTERED = "DeviceNotRegistered"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TOKEN_PREFIXES = ("ExponentPushToken[", "ExpoPushToken[")


@dataclass(frozen=True)
class PushMessage:
    token: str
    title: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ticket:
    """The provider's answer for one message: an id to ask for its receipt, or an error."""

    token: str
    id: str | None
    error: str | None = None


class PushProvider(Protocol):
    """Sends notifications and reports which tokens are dead."""

    async def send(self, messages: Sequence[PushMessage]) -> list[Ticket]:
        """One ticket per message, in order."""
        ...

    async def receipts(self, ids: Sequence[str]) -> dict[str, str | None]:
        """For each known receipt id: None when delivered, else the error code."""
        ...

    async def aclose(self) -> None: ...


class PushError(Exception):
    """The provider refused a whole request after every retry."""


class ExpoPushProvider:
    """Expo's push HTTP API (``/--/api/v2/push/send`` and ``/getReceipts``)."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": f"NewsTalk-Push/{__version__}",
        }
        token = settings.push_expo_access_token
        if token is not None:
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        self._base = settings.push_expo_url.rstrip("/")
        self._attempts = settings.push_max_attempts
        self._retry_base_s = settings.push_retry_base_s
        self._http = httpx.AsyncClient(
            headers=headers, timeout=settings.push_timeout_s, transport=transport, follow_redirects=False
        )

    async def _post(self, path: str, body: Any) -> Any:
        last = ""
        for attempt in range(self._attempts):
            if attempt:
                await asyncio.sleep(self._retry_base_s * 2 ** (attempt - 1))
            try:
                res = await self._http.post(f"{self._base}{path}", json=body)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if res.status_code in RETRY_STATUSES:
                last = f"HTTP {res.status_code}"
                continue
            if res.status_code != 200:
                raise PushError(f"push: Expo answered HTTP {res.status_code}: {res.text[:200]}")
            return res.json()
        raise PushError(f"push: Expo failed {self._attempts} times ({last}); these notifications are dropped")

    async def send(self, messages: Sequence[PushMessage]) -> list[Ticket]:
        tickets: list[Ticket] = []
        for start in range(0, len(messages), BATCH):
            batch = messages[start : start + BATCH]
            body = [
                {
                    "to": m.token,
                    "title": m.title,
                    "body": m.body,
                    "data": m.data,
                    "sound": "default",
                    "channelId": "news",
                }
                for m in batch
            ]
            answer = await self._post("/--/api/v2/push/send", body)
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list) or len(data) != len(batch):
                raise PushError("push: Expo's answer does not hold one ticket per message")
            for message, ticket in zip(batch, data, strict=True):
                if ticket.get("status") == "ok":
                    tickets.append(Ticket(message.token, str(ticket.get("id"))))
                else:
                    details = ticket.get("details") or {}
                    tickets.append(
                        Ticket(message.token, None, str(details.get("error") or ticket.get("message")))
                    )
        return tickets

    async def receipts(self, ids: Sequence[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for start in range(0, len(ids), RECEIPT_BATCH):
            answer = await self._post(
                "/--/api/v2/push/getReceipts", {"ids": list(ids[start : start + RECEIPT_BATCH])}
            )
            data = answer.get("data") if isinstance(answer, dict) else None
            for receipt_id, receipt in (data or {}).items():
                if receipt.get("status") == "ok":
                    out[receipt_id] = None
                else:
                    out[receipt_id] = str(
                        (receipt.get("details") or {}).get("error") or receipt.get("message")
                    )
        return out

    async def aclose(self) -> None:
        await self._http.aclose()


def build_provider(settings: Settings) -> PushProvider | None:
    """The configured provider, or None when push is off."""
    if settings.push_provider == "expo":
        return ExpoPushProvider(settings)
    return None


@dataclass
class PushSender:
    """A provider and the tickets whose receipts are still to be read (this process only)."""

    provider: PushProvider
    receipt_delay_s: float
    pending: dict[str, tuple[str, float]] = field(default_factory=dict)  # ticket id -> (token, sent at)

    async def aclose(self) -> None:
        await self.provider.aclose()


PUSH_SENDER: ResourceKey[PushSender | None] = ResourceKey("push")


def _sender(services: StageServices) -> PushSender | None:
    def build() -> PushSender | None:
        provider = build_provider(services.settings)
        return PushSender(provider, services.settings.push_receipt_delay_s) if provider else None

    return services.resources.get_or_build(PUSH_SENDER, build)


# Device registration (the API)


def check_token(token: str) -> str:
    token = token.strip()
    if not token.startswith(TOKEN_PREFIXES) or not token.endswith("]") or len(token) > 255:
        raise InvalidInput("push: the token must be an Expo push token, e.g. ExponentPushToken[xxxxxxxx]")
    return token


async def register_device(
    uow: UnitOfWork, user_id: int, token: str, platform: str, language: str
) -> PushDevice:
    """Register (or move to this listener) one device's token."""
    token = check_token(token)
    now = utcnow()
    device = await repo.device_by_token(uow.session, token)
    if device is None:
        device = PushDevice(
            user_id=user_id, token=token, platform=platform, language=language, created_at=now, updated_at=now
        )
        uow.session.add(device)
    else:
        # A token follows whoever signed in on that device last.
        device.user_id, device.platform, device.language, device.updated_at = user_id, platform, language, now
    await uow.session.flush()
    return device


async def unregister_device(uow: UnitOfWork, user_id: int, token: str) -> bool:
    """Forget one of this listener's tokens (signing out); False when it was not theirs."""
    return await repo.delete_tokens(uow.session, [token], user_id=user_id) > 0


async def list_devices(session: AsyncSession, user_id: int) -> Sequence[PushDevice]:
    return await repo.devices_of(session, user_id)


# Sending (the live stage)


def _fold(values: Sequence[str] | None) -> set[str]:
    return {v.casefold() for v in values or () if v.strip()}


def _wants(prefs: Preferences, category: str | None, keywords: set[str]) -> bool:
    topics_ = ({category.casefold()} if category else set()) | keywords
    if topics_ & _fold(prefs.muted_topics):
        return False
    followed = _fold(prefs.categories) | _fold(prefs.keywords)
    return bool(topics_ & followed)


_COPY = {
    "en": "New on {topic}",
    "ko": "{topic} 새 소식",
}


def messages_for(
    story: dict[str, Any], targets: Sequence[tuple[PushDevice, Preferences]]
) -> list[PushMessage]:
    """One message per device of a listener who follows this story's topic."""
    category = story.get("category")
    keywords = _fold(story.get("keywords"))
    out = []
    for device, prefs in targets:
        if not _wants(prefs, category, keywords):
            continue
        topic = category or next(iter(sorted(keywords & (_fold(prefs.keywords) or keywords))), "NewsTalk")
        copy = _COPY.get(device.language, _COPY["en"])
        out.append(
            PushMessage(
                device.token,
                copy.format(topic=topic),
                str(story.get("title") or ""),
                {"story_id": story.get("id"), "url": f"newstalk://story/{story.get('id')}"},
            )
        )
    return out


async def _forget(services: StageServices, tokens: Sequence[str]) -> None:
    if not tokens:
        return
    async with services.db.unit() as uow:
        removed = await repo.delete_tokens(uow.session, tokens)
    log.info("push: removed %d tokens Expo reports as not registered", removed)


async def read_receipts(services: StageServices, sender: PushSender, *, now: float | None = None) -> int:
    """Read the receipts that are due; delete tokens reported as not registered. Returns how many were read."""
    now = time.monotonic() if now is None else now
    due = [rid for rid, (_, sent) in sender.pending.items() if now - sent >= sender.receipt_delay_s]
    if not due:
        return 0
    answers = await sender.provider.receipts(due)
    dead = [sender.pending[rid][0] for rid in due if answers.get(rid) == NOT_REGISTERED]
    for rid in due:
        # Unknown ids (expired at Expo, 24 h) are dropped too: nothing more will come.
        sender.pending.pop(rid, None)
    await _forget(services, dead)
    return len(due)


async def send_story_pushes(services: StageServices, story: dict[str, Any]) -> list[Ticket]:
    """Notify followers' devices of one new story; tokens refused as not registered are deleted."""
    sender = _sender(services)
    if sender is None:
        return []
    async with services.db.read() as session:
        targets = await repo.devices_with_preferences(session)
    messages = messages_for(story, targets)
    if not messages:
        return []
    tickets = await sender.provider.send(messages)
    sent_at = time.monotonic()
    for ticket in tickets:
        if ticket.id:
            sender.pending[ticket.id] = (ticket.token, sent_at)
    await _forget(services, [t.token for t in tickets if t.error == NOT_REGISTERED])
    return tickets


async def notify(services: StageServices, messages: Sequence[LiveMessage]) -> None:
    """The live stage's hook, after its commit: pushes for newly announced stories, then due receipts."""
    sender = _sender(services)
    if sender is None:
        return
    for msg in messages:
        if msg.type != topics.STORY_UPDATED or not msg.data.get("new"):
            continue
        story = dict(msg.data.get("story") or {})
        story.setdefault("category", msg.category)
        story.setdefault("keywords", list(msg.keywords))
        try:
            await send_story_pushes(services, story)
        except Exception as exc:  # best-effort: the live stage has committed; never fail it for a push
            log.warning("push: story %s not pushed: %s", story.get("id"), exc)
    try:
        await read_receipts(services, sender)
    except Exception as exc:  # same: receipts are read again after the next send
        log.warning("push: reading receipts failed (%s); trying again after the next send", exc)
