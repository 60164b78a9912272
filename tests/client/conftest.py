"""Fixtures for the client tests, on top of the `jmapchat.testing` pytest plugin: the
plugin's server (with small limits, so requests split) and clients in-process or over a
real loopback socket."""

from __future__ import annotations

import functools

import pytest

from jmapchat.server import ServerLimits
from jmapchat.testing import AsyncClientFactory

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
def jmap_limits() -> ServerLimits:
    return SMALL


@pytest.fixture(params=["asgi", "loopback"])
def make_client(
    request: pytest.FixtureRequest, jmap_async_client: AsyncClientFactory
) -> AsyncClientFactory:
    """The plugin's `AsyncClient` factory, in-process (ASGI) or over a loopback socket."""
    return functools.partial(jmap_async_client, live=request.param == "loopback")
