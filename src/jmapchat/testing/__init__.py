"""Test helpers for code that uses jmapchat: fault-injecting transports and a pytest plugin.

The pytest plugin (`jmapchat.testing.plugin`, registered through the ``pytest11`` entry
point) gives fixtures for an in-process reference server with named users, the same server
on a loopback socket, and blocking and async clients per user; it is inert until a test
asks for one of its ``jmap_*`` fixtures. Install the ``testing`` extra for it.

This module needs only httpx and anyio: it imports neither the server nor trio.

```python
from jmapchat.testing import AsyncFaultTransport, Wire, reset_after_send

wire = Wire()
transport = AsyncFaultTransport(httpx.ASGITransport(app=server.app), wire)
wire.inject(reset_after_send())          # the next API request is run, its answer is lost
```
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from ._faults import (
        NO_BACKOFF,
        After,
        AsyncClientFactory,
        AsyncFaultTransport,
        Before,
        ClientFactory,
        Fault,
        FaultTransport,
        Injected,
        Target,
        Wire,
        delay,
        drop,
        envelope,
        hang,
        malformed,
        rate_limited,
        refuse_connection,
        reset_after_send,
        reset_before_send,
        session_state_changed,
        status,
        truncated,
        unavailable,
    )

__all__ = [
    "NO_BACKOFF",
    "After",
    "AsyncClientFactory",
    "AsyncFaultTransport",
    "Before",
    "ClientFactory",
    "Fault",
    "FaultTransport",
    "Injected",
    "Target",
    "Wire",
    "delay",
    "drop",
    "envelope",
    "hang",
    "malformed",
    "rate_limited",
    "refuse_connection",
    "reset_after_send",
    "reset_before_send",
    "session_state_changed",
    "status",
    "truncated",
    "unavailable",
]

# Loaded on first use: the pytest plugin (a submodule) imports this package at pytest start
# in every project where jmapchat is installed, and should cost nothing until used.


def __getattr__(name: str) -> _Any:
    if name in __all__:
        from . import _faults

        value = getattr(_faults, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'jmapchat.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
