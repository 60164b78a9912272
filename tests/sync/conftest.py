"""Fixtures for the mirror tests: a reference server, counted async clients (in-process
ASGI)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from jmapchat import AsyncClient
from jmapchat.server import ChatServer

from ..client._wire import FAST, AsyncWire, Log

MakeClient = Callable[..., AsyncClient]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    srv = ChatServer(db=":memory:", users=["alice", "bob"])
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def wire() -> Log:
    return Log()


@pytest.fixture
def make_client(server: ChatServer, wire: Log) -> MakeClient:
    """An `AsyncClient` on the in-process server; alice's requests are logged in ``wire``."""

    def make(user: str = "alice", **kw: Any) -> AsyncClient:
        kw.setdefault("retries", FAST)
        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=server.app)
        if user == "alice":
            transport = AsyncWire(transport, wire)
        return AsyncClient.connect(
            "http://testserver", token=server.tokens[user], transport=transport, **kw
        )

    return make
