"""`AsyncSocket`: the client's JMAP WebSocket driver (RFC 8887), and the event iterator
it hands out. The blocking `Socket` (`_socket_sync.py`) is generated from this file by
``scripts/unasync.py``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from httpx_ws import WebSocketUpgradeError, aconnect_ws

from jmapchat._core import (
    Backoff,
    JMAPError,
    Listener,
    Pushed,
    RemoteProtocolError,
    Reply,
    Skipped,
    Timeout,
    TransportError,
    WebSocketChannel,
    WriteError,
)
from jmapchat.models import Event, StateChange

from ._http import log, map_transport_errors, upgrade_error
from ._primitives import AsyncLock, AsyncSocketRunner, AsyncWakeup, async_sleep, async_wait_for

if TYPE_CHECKING:
    from ._async import AsyncClient

__all__ = ["AsyncSocket", "AsyncSocketEvents"]


class AsyncSocket:
    """The client's JMAP WebSocket: (re)connects, sends frames, and hands every frame
    the server sends to whoever waits for it. What a frame means, and what to send after
    a reconnect, is decided by the sans-IO `WebSocketChannel`; this only moves frames.

    Each connection is read by its own task (thread, for the blocking client); a request
    waits for its reply by ``requestId``; when a connection ends, every request still
    waiting on it gets the error (and the flow applies the retry rules); ``events()``
    hears of it and reconnects with backoff.
    """

    def __init__(self, client: AsyncClient, url: str, channel: WebSocketChannel) -> None:
        self._client = client
        self.url = url
        self.channel = channel
        self._runner = AsyncSocketRunner()
        self._current: tuple[Any, int] | None = None  # (session, generation)
        self._generation = 0
        self._generation_of: dict[int, int] = {}  # id(session) -> its generation
        self._lock = AsyncLock()
        self._pending: dict[str, int] = {}  # request id -> generation it was sent on
        self._replies: dict[str, Any] = {}
        self._wake: dict[str, Any] = {}
        # Per events() listener: its queue of events (and _LOST marks), and its wakeup.
        self._queues: dict[Listener, deque[Any]] = {}
        self._queue_wake: dict[Listener, Any] = {}

    async def __aenter__(self) -> AsyncSocket:
        await self._runner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._current = None
        await self._runner.__aexit__(exc_type, exc, tb)

    # --- connecting ---------------------------------------------------------------------

    async def connection(self) -> tuple[Any, int]:
        """The open connection (and its generation), connecting first if there is none;
        a new connection is sent the subscription frames of what is enabled."""
        current = self._current
        if current is not None:
            return current
        async with self._lock:
            if self._current is None:
                ws = await self._connect()
                self._generation += 1
                self._generation_of[id(ws)] = self._generation
                self._current = (ws, self._generation)
                log.debug("WebSocket connected (connection %d)", self._generation)
                for frame in self.channel.subscription_frames():
                    await self._send_on(ws, frame)
            return self._current

    async def _connect(self) -> Any:
        http = self._client._client()
        what = f"WebSocket {self.url}"

        def connect() -> Any:
            return aconnect_ws(
                self.url,
                http,
                subprotocols=["jmap"],
                max_message_size_bytes=1 << 20,
                queue_size=4096,
                **self._client._auth_kw(),
            )

        with map_transport_errors(what):
            try:
                ws = await self._runner.start(connect, self._on_frame, self._on_closed)
            except WebSocketUpgradeError as exc:
                r = exc.response
                body = await r.aread() if not r.is_closed else b""
                raise upgrade_error(r.status_code, body, self.url) from None
        if ws.subprotocol != "jmap":
            await ws.close(1002)
            raise RemoteProtocolError(f"{what}: the server did not agree on the jmap subprotocol")
        return ws

    # --- sending and waiting ------------------------------------------------------------

    async def send(self, frame: str, request_id: str | None = None) -> None:
        ws, generation = await self.connection()
        if request_id is not None:
            self._pending[request_id] = generation
        try:
            await self._send_on(ws, frame)
        except TransportError:
            if request_id is not None:
                self._pending.pop(request_id, None)
            raise

    async def _send_on(self, ws: Any, frame: str) -> None:
        try:
            await ws.send_text(frame)
        except Exception as exc:
            # An incomplete frame is never a message: the request did not reach JMAP.
            self._dropped(ws)
            raise WriteError(
                f"WebSocket: the frame could not be sent ({type(exc).__name__})", sent=False
            ) from None

    async def receive(self, request_ids: Sequence[str], timeout: float | None) -> tuple[str, Any]:
        """The first reply to one of ``request_ids``: a document or a `JMAPError`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for rid in request_ids:
                if rid in self._replies:
                    return rid, self._take(rid)
            wake = AsyncWakeup()
            for rid in request_ids:
                self._wake[rid] = wake
            if any(rid in self._replies for rid in request_ids):
                continue
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not await async_wait_for(wake, left):
                rid = request_ids[0]
                self._take(rid)
                return rid, Timeout(f"WebSocket: no reply within {timeout:g}s", sent=True)

    def _take(self, rid: str) -> Any:
        self._pending.pop(rid, None)
        self._wake.pop(rid, None)
        return self._replies.pop(rid, None)

    def forget(self, request_ids: Sequence[str]) -> None:
        """The sender stopped waiting (done, or failed): drop what is left of these."""
        for rid in request_ids:
            self._take(rid)

    # --- what the reader hands over -----------------------------------------------------

    def _deliver(self, rid: str, value: Any) -> None:
        if rid in self._pending and rid not in self._replies:
            self._replies[rid] = value
            wake = self._wake.get(rid)
            if wake is not None:
                wake.set()

    def _push(self, item: Any) -> None:
        """Hand a pushed event to every listener it is for (`_LOST` to all of them)."""
        targets: list[tuple[Listener, Any]]
        if item is _LOST:
            targets = [(listener, item) for listener in list(self._queues)]
        else:
            targets = list(self.channel.deliveries(item))
        for listener, event in targets:
            queue = self._queues.get(listener)
            if queue is None:
                continue
            queue.append(event)
            wake = self._queue_wake.get(listener)
            if wake is not None:
                wake.set()

    def _on_frame(self, ws: Any, data: str | bytes) -> int | None:
        got = self.channel.classify(data)
        if isinstance(got, Reply):
            if got.request_id in self._pending:
                self._deliver(got.request_id, got.value)
            else:
                log.debug("WebSocket: a reply nobody waits for (%s)", got.request_id)
        elif isinstance(got, Pushed):
            self._push(got.event)
        elif isinstance(got, Skipped):
            log.debug("WebSocket frame skipped: %s", got.reason)
        else:
            log.warning("WebSocket: %s; closing the connection (%d)", got.error, got.code)
            self._fail_generation(ws, got.error)
            return got.code
        return None

    def _on_closed(self, ws: Any, code: int | None) -> None:
        self._fail_generation(ws, self.channel.closed_error(code))
        self._dropped(ws)
        self._generation_of.pop(id(ws), None)

    def _fail_generation(self, ws: Any, error: JMAPError) -> None:
        """Every request sent on connection ``ws`` (and not yet answered) gets ``error``."""
        generation = self._generation_of.get(id(ws))
        for rid, gen in list(self._pending.items()):
            if gen == generation:
                self._deliver(rid, error)

    def _dropped(self, ws: Any) -> None:
        current = self._current
        if current is not None and current[0] is ws:
            self._current = None
            log.info("WebSocket connection %d lost", current[1])
            self._push(_LOST)

    # --- events -------------------------------------------------------------------------

    @asynccontextmanager
    async def events(
        self,
        types: Sequence[str] | None,
        *,
        typing: bool,
        presence: bool,
        close_after_state: bool,
        backoff: Backoff,
    ) -> AsyncIterator[AsyncSocketEvents]:
        """One listener on the socket; several may be open at once, each handed only the
        events it asked for (the socket subscribes to what they want together)."""
        listener, frames = self.channel.listen(
            types, typing=typing, presence=presence, close_after_state=close_after_state
        )
        self._queues[listener] = deque()
        try:
            current = self._current
            ws, _ = await self.connection()  # a new connection already subscribed
            if current is not None and current[0] is ws:
                for frame in frames:
                    await self._send_on(ws, frame)
            yield AsyncSocketEvents(self, listener, backoff)
        finally:
            off = self.channel.unlisten(listener)
            self._queues.pop(listener, None)
            self._queue_wake.pop(listener, None)
            current = self._current
            if current is not None:
                for frame in off:
                    try:
                        await self._send_on(current[0], frame)
                    except TransportError:
                        break

    async def next_event(self, listener: Listener, backoff: Backoff) -> Any:
        """``listener``'s next event; a lost connection is reconnected (and
        re-subscribed) first."""
        queue = self._queues[listener]
        attempt = 0
        while True:
            if queue:
                item = queue.popleft()
                if item is not _LOST:
                    return item
                while True:
                    await async_sleep(backoff.delay(attempt))
                    attempt += 1
                    try:
                        await self.connection()
                        break
                    except TransportError as exc:
                        log.info("WebSocket reconnect failed (%s)", type(exc).__name__)
                continue
            wake = self._queue_wake[listener] = AsyncWakeup()
            if not queue:
                await async_wait_for(wake, None)


class AsyncSocketEvents:
    """The iterator ``events()`` yields on a WebSocket client."""

    def __init__(self, socket: AsyncSocket, listener: Listener, backoff: Backoff) -> None:
        self._socket = socket
        self._listener = listener
        self._backoff = backoff

    def __aiter__(self) -> AsyncSocketEvents:
        return self

    async def __anext__(self) -> Event:
        listener = self._listener
        if listener.finished:  # close_after_state: that was the last one
            raise StopAsyncIteration
        event = await self._socket.next_event(listener, self._backoff)
        if listener.close_after_state and isinstance(event, StateChange):
            listener.finished = True
        return cast("Event", event)


_LOST = object()  # in the event queue: the connection ended
