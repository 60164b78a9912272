"""Sans-IO decisions for an EventSource listener (RFC 8620 §7.3 + the chat events).

`EventSourceState` decides everything about one ``client.events()`` stream; the drivers
(`AsyncClient.events`, `Client.events`) only open the HTTP stream, hand each SSE message
(decoded by httpx-sse) to `on_message`, and sleep for what `on_disconnect` answers:

- the URL (types, ``closeafter``, ``ping``) and headers (``Last-Event-ID`` once seen);
- the read timeout: two ping intervals without a byte mean the connection is dead;
- what a message is: a typed `StateChange`, `TypingEvent` or `PresenceEvent`, or None
  for pings, unknown event names, unwanted categories and malformed data (skipped);
- whether a failed connection is worth retrying, and after how long (capped
  exponential backoff with jitter, reset by a successful connection).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

from ._errors import AuthenticationError, HTTPStatusError, LocalProtocolError

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["Backoff", "EventSourceState", "RetryableStream"]


class RetryableStream(Exception):
    """An event-source response that is worth retrying (5xx, 429, not an event stream)."""


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``initial * 2**n`` capped at ``cap``, with "equal jitter" (each
    delay is drawn from its upper half), so many clients dropped together spread out."""

    initial: float = 0.5
    cap: float = 30.0

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.cap):
            raise ValueError("Backoff needs 0 < initial <= cap")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The delay before retry number ``attempt`` (0 for the first retry)."""
        base = float(min(self.cap, self.initial * 2.0 ** min(attempt, 32)))
        return base / 2 + rand() * base / 2


class EventSourceState:
    """One EventSource stream's state machine (no I/O).

    ``types``: data types to hear about (None: all). ``typing`` / ``presence``: also yield
    those ephemeral events. ``ping``: the keep-alive interval asked of the server (0: none,
    then no dead-connection detection). ``close_after_state``: end after the first
    StateChange (``closeafter=state``). ``models`` maps the event names ``state``,
    ``typing`` and ``presence`` to the model each is validated with (the layer above
    passes `jmapchat.models`' StateChange, TypingEvent, PresenceEvent)."""

    def __init__(
        self,
        models: Mapping[str, type[BaseModel]],
        *,
        types: Sequence[str] | None = None,
        typing: bool = False,
        presence: bool = False,
        ping: int = 30,
        close_after_state: bool = False,
        backoff: Backoff | None = None,
        last_event_id: str | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if isinstance(types, str):
            raise LocalProtocolError('types must be a list of type names, e.g. ["Message"]')
        if types is not None and (not types or not all(isinstance(t, str) and t for t in types)):
            raise LocalProtocolError("types must be a non-empty list of type names, or None")
        if isinstance(ping, bool) or not isinstance(ping, int) or ping < 0:
            raise LocalProtocolError("ping must be a non-negative number of seconds")
        self.types = None if types is None else list(types)
        self.typing = typing
        self.presence = presence
        self.ping = ping
        self.close_after_state = close_after_state
        self.backoff = backoff or Backoff()
        self.last_event_id = last_event_id
        self.finished = False
        self.attempt = 0
        self._rand = rand
        self._models = dict(models)
        self._retry_after = 0.0

    # --- what to open -------------------------------------------------------------------

    def url(self, session: Session) -> str:
        types = "*" if self.types is None else ",".join(self.types)
        closeafter = "state" if self.close_after_state else "no"
        return session.event_source_url_for(types, closeafter=closeafter, ping=self.ping)

    def headers(self) -> dict[str, str]:
        out = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id:
            out["Last-Event-ID"] = self.last_event_id
        return out

    def read_timeout(self) -> float | None:
        """Seconds without a byte after which the connection counts as dead."""
        return 2.0 * self.ping if self.ping else None

    # --- what happened ------------------------------------------------------------------

    def check_response(
        self, status: int, content_type: str, body: bytes = b"", retry_after: str | None = None
    ) -> None:
        """After the response head: raise for a failure not worth retrying (bad
        credentials, a 4xx); return for a stream to read. 5xx, 429 and a non-SSE body
        raise `RetryableStream`, which the driver answers with `on_disconnect` (which
        then waits at least a 429/503's ``Retry-After`` seconds, capped by the backoff's
        ``cap``)."""
        if retry_after is not None and retry_after.strip().isdigit():
            self._retry_after = min(float(retry_after.strip()), self.backoff.cap)
        if status in (401, 403):
            raise AuthenticationError(
                f"event source: HTTP {status}: credentials refused", status_code=status
            )
        if status == 429 or status >= 500:
            raise RetryableStream(f"event source: HTTP {status}")
        if not 200 <= status < 300:
            raise HTTPStatusError(f"event source: HTTP {status}", status_code=status, body=body)
        if not content_type.split(";")[0].strip().lower() == "text/event-stream":
            raise RetryableStream(f"event source: not an event stream ({content_type!r})")

    def connected(self) -> None:
        """The stream is open (its head was good). The backoff restarts only once a
        message arrives: a server that accepts and at once hangs up keeps backing off."""

    def on_message(self, event: str, data: str, id: str | None = None) -> BaseModel | None:
        """The typed event for one SSE message, or None to skip it."""
        self.attempt = 0  # the connection works: the next failure starts afresh
        if id:
            self.last_event_id = id
        wanted = (
            event == "state"
            or (event == "typing" and self.typing)
            or (event == "presence" and self.presence)
        )
        model = self._models.get(event) if wanted else None
        if model is None:
            return None  # ping, an id-only message, an unknown or unwanted event
        try:
            out = model.model_validate(json.loads(data))
        except ValueError:  # bad JSON or a pydantic ValidationError: skip, never fatal
            return None
        if event == "state" and self.close_after_state:
            self.finished = True
        return out

    def on_disconnect(self) -> float:
        """The stream ended or failed: seconds to wait before reconnecting."""
        delay = self.backoff.delay(self.attempt, self._rand)
        self.attempt += 1
        wait, self._retry_after = self._retry_after, 0.0
        return max(delay, wait)
