"""Fixtures for the client tests: a reference server, request-counting and fault-injecting
transports (async and sync), and a loopback server in a thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from jmapchat import AsyncClient
from jmapchat.server import ChatServer, ServerLimits, serve_in_thread

from ._wire import FAST, AsyncWire, Log, MakeClient

SMALL = ServerLimits(
    max_calls_in_request=4,
    max_objects_in_set=500,
    max_objects_in_get=500,
    max_size_request=10_000_000,
    max_concurrent_requests=4,
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    srv = ChatServer(db=":memory:", users=["alice", "bob"], limits=SMALL)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def live_url(server: ChatServer) -> Iterator[str]:
    """The server on a real loopback socket (hypercorn on trio, in a thread)."""
    with serve_in_thread(server, host="127.0.0.1", port=0) as base_url:
        yield base_url


@pytest.fixture
def wire() -> Log:
    return Log()


@pytest.fixture(params=["asgi", "loopback"])
def make_client(request: pytest.FixtureRequest, server: ChatServer, wire: Log) -> MakeClient:
    """An `AsyncClient` factory: in-process (ASGI) or over a real loopback socket."""
    if request.param == "asgi":
        url = "http://testserver"

        def inner() -> httpx.AsyncBaseTransport:
            return httpx.ASGITransport(app=server.app)
    else:
        url = request.getfixturevalue("live_url")

        def inner() -> httpx.AsyncBaseTransport:
            return httpx.AsyncHTTPTransport()

    def make(
        token: str | None = None,
        wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
        **kw: Any,
    ) -> AsyncClient:
        kw.setdefault("retries", FAST)
        transport: httpx.AsyncBaseTransport = AsyncWire(inner(), wire)
        if wrap is not None:
            transport = wrap(transport)
        return AsyncClient.connect(
            url, token=token or server.tokens["alice"], transport=transport, **kw
        )

    return make
