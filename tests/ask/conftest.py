"""One answerer for the whole run: the e5 model and its caches load once, not once per test.

``client`` here is the shared one with this process's answerer put in the app's stage state;
``fresh_client`` leaves it out, so the service builds its own as it does in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import cache

import httpx
import pytest

from newstalk.ask.answer import Answerer
from newstalk.ask.service import ANSWERER
from newstalk.config import Settings
from newstalk.factcheck.checker import Checker
from newstalk.factcheck.features import LruEncoder
from newstalk.factcheck.verify import Judgement, Pair
from newstalk.providers.embeddings import E5SmallEmbeddings
from newstalk.providers.llm import ChatClient


class NoVerifier:
    """Answers never judge pairs; a call would be a bug."""

    name = "none"

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        raise AssertionError("ask must not call the verifier")


@cache
def shared_checker() -> Checker:
    return Checker(NoVerifier(), LruEncoder(E5SmallEmbeddings()))


async def app_client(settings: Settings, answerer: Answerer | None) -> AsyncIterator[httpx.AsyncClient]:
    from newstalk.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        if answerer is not None:
            app.state.services.resources.set(ANSWERER, answerer)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in app_client(settings, Answerer(shared_checker())):
        yield http


@pytest.fixture
async def fresh_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in app_client(settings, None):
        yield http


def llm_answerer(url: str) -> Answerer:
    """The shared retrieval with a chat model at ``url``."""
    return Answerer(shared_checker(), ChatClient(base_url=url, model="stub-model", max_retries=0))
