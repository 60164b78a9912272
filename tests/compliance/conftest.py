"""Fixtures for the JMAP Chat compliance suite (raw HTTP against the reference server)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ._harness import USERS, Harness
from ._push import PushProbe, push_probe

# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture
def jmap_users() -> list[str]:
    return list(USERS)


@pytest.fixture
def server(jmap_server: Any) -> Any:
    """The `jmapchat.testing` plugin's in-memory server, with the suite's users.

    Presence events are not rate-limited here (the default holds a contact's second event
    for 30 s): the cases check what events carry and who gets them; the rate limit itself
    has its own case (``test_08_websocket.py::test_presence_events_are_rate_limited``).
    """
    jmap_server.presence_interval = 0
    return jmap_server


@pytest.fixture
def client(server: Any) -> Iterator[httpx.Client]:
    with warnings.catch_warnings():
        # Starlette >= 1.x prefers `httpx2` and warns when falling back to `httpx`.
        warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    with TestClient(server.app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def h(server: Any, client: httpx.Client) -> Harness:
    return Harness(server, client)


@pytest.fixture
def push(h: Harness) -> Iterator[PushProbe]:
    with push_probe(h) as probe:
        yield probe
