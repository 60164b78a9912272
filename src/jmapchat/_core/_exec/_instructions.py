"""The plain values a flow yields to its driver (and the HTTP reply it gets back).

=====================  =================================  ==========================
instruction            driver does                        sent back into the flow
=====================  =================================  ==========================
`HTTPRequest`          the HTTP exchange                  `HTTPResponse`; or a
                                                          `TransportError` is thrown in
`Sleep`                waits ``seconds``                  None
`FreshSession`         refetches the session if stale     the current `Session`
                       (single-flight), else returns it
`ObservedSessionState` marks the session stale if the     None
                       state differs
`Emit`                 hands ``value`` to the caller      None
                       (iterator flows only)
`WSSend`, `WSReceive`  the WebSocket (see `_websocket`)
=====================  =================================  ==========================
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from ._blobs import StreamDigest

__all__ = [
    "Emit",
    "Flow",
    "FreshSession",
    "HTTPRequest",
    "HTTPResponse",
    "Instruction",
    "ObservedSessionState",
    "Sleep",
    "WSReceive",
    "WSSend",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """An HTTP request for the driver to perform. No httpx types, no credentials.

    ``body`` is bytes, or (uploads) an opaque iterable / async iterable of bytes that the
    driver streams, feeding every chunk to ``digest``. ``replay_safe`` tells the flow's
    retry logic (not the driver) whether a resend after a partial exchange is harmless.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    kind: str = "api"
    follow_redirects: bool = False
    replay_safe: bool = False
    digest: StreamDigest | None = None


@dataclass(frozen=True, slots=True)
class HTTPResponse:
    """What the driver got back. ``headers`` keys are lower-case; ``url`` is the final URL."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class FreshSession:
    """Ask the driver for the current session (refetched first if it went stale)."""


@dataclass(frozen=True, slots=True)
class ObservedSessionState:
    """A response carried ``sessionState``; the driver marks the session stale if new."""

    state: str


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand ``value`` to the consumer of an iterator flow."""

    value: Any


@dataclass(frozen=True, slots=True)
class WSSend:
    """Send ``frame`` (one text frame). ``request_id`` is set for ``Request`` frames."""

    frame: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class WSReceive:
    """Wait for the reply to one of ``request_ids`` (whichever comes first)."""

    request_ids: tuple[str, ...]


Instruction: TypeAlias = (
    HTTPRequest | Sleep | FreshSession | ObservedSessionState | Emit | WSSend | WSReceive
)
Flow: TypeAlias = Generator[Instruction, Any, T]
