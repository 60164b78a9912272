"""Fixtures for the mirror tests: a reference server, counted async clients (in-process
ASGI)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from jmapchat import AsyncClient
from jmapchat.server import ChatServer
from jmapchat.testing import NO_BACKOFF, AsyncFaultTransport, Wire

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
def wire() -> Wire:
    return Wire()


@pytest.fixture
def make_client(server: ChatServer, wire: Wire) -> MakeClient:
    """An `AsyncClient` on the in-process server; alice's requests are logged in ``wire``."""

    def make(user: str = "alice", **kw: Any) -> AsyncClient:
        kw.setdefault("retries", NO_BACKOFF)
        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=server.app)
        if user == "alice":
            transport = AsyncFaultTransport(transport, wire)
        return AsyncClient.connect(
            "http://testserver", token=server.tokens[user], transport=transport, **kw
        )

    return make
