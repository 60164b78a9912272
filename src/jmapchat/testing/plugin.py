"""The jmapchat pytest plugin: reference-server and client fixtures for your tests.

Registered through the ``pytest11`` entry point when jmapchat is installed, so there is
nothing to configure; it is inert (it imports neither the server nor trio) until a test
asks for one of its ``jmap_*`` fixtures. Those need the ``testing`` extra
(``pip install 'jmapchat[testing]'``).

Override `jmap_users` or `jmap_limits` in a ``conftest.py`` to change the server every
fixture uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from jmapchat import Request
    from jmapchat.server import ChatServer, ServerLimits
    from jmapchat.testing import AsyncClientFactory, ClientFactory, Wire

__all__ = [
    "jmap_async_client",
    "jmap_client",
    "jmap_envelope",
    "jmap_limits",
    "jmap_live_url",
    "jmap_server",
    "jmap_users",
    "jmap_wire",
]


@pytest.fixture
def jmap_users() -> list[str]:
    """The users of `jmap_server` (override to name your own); default alice and bob."""
    return ["alice", "bob"]


@pytest.fixture
def jmap_limits() -> ServerLimits | None:
    """The `ServerLimits` of `jmap_server` (override to make it split requests); default
    the server's own defaults."""
    return None


@pytest.fixture
def jmap_server(jmap_users: list[str], jmap_limits: ServerLimits | None) -> Iterator[ChatServer]:
    """A fresh in-memory reference server (``jmapchat.server.ChatServer``) per test.

    ``jmap_server.tokens[user]``, ``.account_ids[user]`` and ``.contact_ids[user]`` give
    what each user needs; ``jmap_server.app`` is its ASGI app.
    """
    _require("starlette", "hypercorn", "trio", fixture="jmap_server")
    from jmapchat.server import ChatServer

    with ChatServer(db=":memory:", users=jmap_users, limits=jmap_limits) as server:
        yield server


@pytest.fixture
def jmap_live_url(jmap_server: ChatServer) -> Iterator[str]:
    """`jmap_server` on a real loopback socket (hypercorn in a thread): its base URL."""
    from jmapchat.server import serve_in_thread

    with serve_in_thread(jmap_server, host="127.0.0.1", port=0) as base_url:
        yield base_url


@pytest.fixture
def jmap_wire() -> Wire:
    """The `jmapchat.testing.Wire` every client of the test goes through: it records the
    requests and injects the faults you arm with ``jmap_wire.inject(...)``."""
    from jmapchat.testing import Wire

    return Wire()


@pytest.fixture
def jmap_async_client(
    request: pytest.FixtureRequest, jmap_server: ChatServer, jmap_wire: Wire
) -> AsyncClientFactory:
    """Make an ``AsyncClient`` for a user: ``async with jmap_async_client("bob") as c``.

    In-process (ASGI, no socket) by default, over a loopback socket with ``live=True``;
    through `jmap_wire`; retrying without backoff. Other keywords go to
    ``AsyncClient.connect`` (``token=`` replaces the user's token).
    """
    import httpx

    from jmapchat import AsyncClient
    from jmapchat.testing import NO_BACKOFF, AsyncFaultTransport

    def make(
        user: str = "alice",
        *,
        live: bool = False,
        wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
        **kw: Any,
    ) -> AsyncClient:
        inner: httpx.AsyncBaseTransport
        if live:
            url = request.getfixturevalue("jmap_live_url")
            inner = httpx.AsyncHTTPTransport()
        else:
            url = "http://testserver"
            inner = httpx.ASGITransport(app=jmap_server.app)
        transport: httpx.AsyncBaseTransport = AsyncFaultTransport(inner, jmap_wire)
        if wrap is not None:
            transport = wrap(transport)
        kw.setdefault("retries", NO_BACKOFF)
        token = kw.pop("token", None) or _token(jmap_server, user)
        return AsyncClient.connect(url, token=token, transport=transport, **kw)

    return make


@pytest.fixture
def jmap_client(
    request: pytest.FixtureRequest, jmap_server: ChatServer, jmap_wire: Wire
) -> ClientFactory:
    """Make a blocking ``Client`` for a user: ``with jmap_client("bob") as c``.

    Over a loopback socket (`jmap_live_url`), through `jmap_wire`, retrying without
    backoff; other keywords go to ``Client.connect``.
    """
    import httpx

    from jmapchat import Client
    from jmapchat.testing import NO_BACKOFF, FaultTransport

    def make(user: str = "alice", **kw: Any) -> Client:
        url = request.getfixturevalue("jmap_live_url")
        kw.setdefault("retries", NO_BACKOFF)
        token = kw.pop("token", None) or _token(jmap_server, user)
        transport = FaultTransport(httpx.HTTPTransport(), jmap_wire)
        return Client.connect(url, token=token, transport=transport, **kw)

    return make


@pytest.fixture
def jmap_envelope(request: pytest.FixtureRequest) -> Iterator[Callable[[Request], None]]:
    """Snapshot a request's built envelope with syrupy: ``jmap_envelope(req)``.

    Ids are deterministic for the whole test (``seeded_ids(0)``); pass ``sent_at=`` where
    a method would read the clock.
    """
    from jmapchat.models import seeded_ids
    from jmapchat.testing import envelope

    _require("syrupy", fixture="jmap_envelope")
    snapshot = request.getfixturevalue("snapshot")  # syrupy's fixture

    def check(req: Request) -> None:
        assert envelope(req) == snapshot

    with seeded_ids(0):
        yield check


def _require(*modules: str, fixture: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise pytest.UsageError(
            f"the {fixture} fixture needs {', '.join(missing)}: pip install 'jmapchat[testing]'"
        )


def _token(server: ChatServer, user: str) -> str:
    try:
        return server.tokens[user]
    except KeyError:
        raise LookupError(
            f"no user {user!r} on the test server (it has {sorted(server.tokens)}); "
            "override the jmap_users fixture to add one"
        ) from None
