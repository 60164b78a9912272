"""`AsyncEventsMixin`: `AsyncClient.events`, listening over the session's EventSource (or
its WebSocket). The blocking `EventsMixin` (`_events_sync.py`) is generated from this file
by ``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

import httpx
from httpx_sse import aconnect_sse

from jmapchat._core import Backoff, EventSourceState, RetryableStream, Session, TransportError
from jmapchat.models import Event

from ._base import ClientBase
from ._http import log, map_transport_errors
from ._primitives import async_event_pump, async_sleep

if TYPE_CHECKING:
    from ._socket_async import AsyncSocket

__all__ = ["AsyncEventsMixin"]


class AsyncEventsMixin(ClientBase):
    """`events()` for `AsyncClient` (the driver's methods it uses are `AsyncClient`'s)."""

    if TYPE_CHECKING:
        _socket: AsyncSocket | None

        def _client(self) -> httpx.AsyncClient: ...

        def _auth_kw(self, until: float | None = None) -> dict[str, Any]: ...

        async def _fresh_session(self, until: float | None = None) -> Session: ...

    # --- listening --------------------------------------------------------------------

    @asynccontextmanager
    async def events(
        self,
        types: Sequence[str] | None = None,
        *,
        typing: bool = False,
        presence: bool = False,
        ping: int = 30,
        close_after_state: bool = False,
        backoff: Backoff | None = None,
    ) -> AsyncIterator[AsyncIterator[Event]]:
        """Listen: ``async with client.events(["Message"]) as events: async for e in events``.

        Yields `StateChange` (for ``types``, None: all), and `TypingEvent` /
        `PresenceEvent` when ``typing`` / ``presence`` are set. Runs over the session's
        EventSource with this client's auth; a dropped connection (or two ``ping``
        intervals of silence) reconnects by itself after a capped, jittered `Backoff`,
        resending ``Last-Event-ID`` so a change made meanwhile still arrives as a
        StateChange. ``close_after_state`` ends after the first StateChange. Bad
        credentials raise `AuthenticationError`; unknown or malformed events are skipped.

        On a ``websocket=True`` client the same events come over the socket
        (``WebSocketPushEnable`` and ``ChatStreamEnable``), re-enabled after a reconnect
        from the last ``pushState``; ``ping`` is then left to the WebSocket's own
        keep-alive pings.
        """
        if self._socket is not None:
            async with self._socket.events(
                types,
                typing=typing,
                presence=presence,
                close_after_state=close_after_state,
                backoff=backoff or Backoff(),
            ) as socket_events:
                yield socket_events
            return
        state = self._event_state(
            types,
            typing=typing,
            presence=presence,
            ping=ping,
            close_after_state=close_after_state,
            backoff=backoff,
        )
        async with async_event_pump(self._event_stream(state), state) as events:
            yield events

    async def _event_stream(self, state: EventSourceState) -> AsyncGenerator[Event | None, None]:
        """Events, after one None once the first connection is open (see `async_event_pump`)."""
        http = self._client()
        self._check_streams(http)
        first = True
        while True:
            session = await self._fresh_session()
            try:
                with map_transport_errors("event source"):
                    connection = aconnect_sse(
                        http,
                        "GET",
                        state.url(session),
                        headers=state.headers(),
                        timeout=self._event_timeout(state),
                        **self._auth_kw(),
                    )
                    async with connection as source:
                        r = source.response
                        body = b"" if 200 <= r.status_code < 300 else await r.aread()
                        state.check_response(
                            r.status_code,
                            r.headers.get("content-type", ""),
                            body,
                            r.headers.get("retry-after"),
                        )
                        state.connected()
                        log.debug("event source connected")
                        if first:
                            first = False
                            yield None
                        # Never leave this loop early (a return or break would strand
                        # httpx's generators half-way, which trio reports): after a
                        # closeafter=state event the server ends the stream itself.
                        async for sse in source.aiter_sse():
                            event = state.on_message(sse.event, sse.data, sse.id or None)
                            if event is not None:
                                yield cast("Event", event)
                if state.finished:
                    return
            except (TransportError, RetryableStream) as exc:
                log.info("event source lost (%s); reconnecting", type(exc).__name__)
            await async_sleep(state.on_disconnect())
