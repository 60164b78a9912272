"""`AsyncClient`: the anyio driver (trio or asyncio) for the sans-IO flows.

The source of truth for both clients: ``scripts/unasync.py`` generates the blocking
`Client` (`_sync.py`) from this file. What the two do differently lives in `_primitives`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, aclosing, asynccontextmanager, closing
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, cast

import httpx
from httpx_sse import aconnect_sse
from httpx_ws import WebSocketUpgradeError, aconnect_ws
from pydantic import BaseModel

from jmapchat._core import (
    WEBSOCKET,
    Backoff,
    Call,
    CapabilityNotSupported,
    ChangesResponse,
    DownloadVerifier,
    Emit,
    EventSourceState,
    Flow,
    FreshSession,
    HTTPRequest,
    HTTPResponse,
    Instruction,
    JMAPError,
    LocalProtocolError,
    ObservedSessionState,
    Pushed,
    RemoteProtocolError,
    Reply,
    Response,
    RetryableStream,
    Session,
    Skipped,
    Sleep,
    StreamDigest,
    Timeout,
    TransportError,
    WebSocketChannel,
    WriteError,
    WSReceive,
    WSSend,
    changes_pages_flow,
    check_download_response,
    download_request_flow,
    execute_flow,
    query_iter_flow,
    redact_url,
    session_flow,
    upload_flow,
    websocket_url,
    ws_execute_flow,
)
from jmapchat._namespaces import Request
from jmapchat.models import Event, UploadResponse

from ._base import (
    USER_AGENT,
    ClientBase,
    ClientOptions,
    UploadSource,
    body_cap,
    deadline_until,
    log,
    map_transport_errors,
    past_deadline,
    timeout_until,
    to_response,
    too_large,
    upgrade_error,
)
from ._generated import AsyncNamespaces
from ._mirror import NamespaceMirror
from ._primitives import (
    AsyncCapacityLimiter,
    AsyncLock,
    AsyncSocketRunner,
    AsyncWakeup,
    async_bind_handles,
    async_event_pump,
    async_sleep,
    async_upload_chunks,
    async_upload_source,
    async_wait_for,
)

__all__ = ["AsyncClient"]

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)

_CHUNK = 64 * 1024


class ConnectOptions(ClientOptions, total=False):
    """`ClientOptions` plus the transport: an ``http_client`` or a ``transport``, and
    ``websocket=True`` to send requests (and listen) over the session's WebSocket."""

    http_client: httpx.AsyncClient | None
    transport: httpx.AsyncBaseTransport | None
    websocket: bool


class AsyncClient(AsyncNamespaces, ClientBase):
    """The JMAP Chat client::

        async with jmapchat.AsyncClient.connect(url, token=token) as client:
            req = client.request()
            ...
            await client.send(req)

    Safe to share between tasks (and, for the blocking client, between threads):
    ``maxConcurrentRequests`` is honoured across them and a stale session is refetched
    once. Secrets passed here never appear in ``repr``, errors or logs.
    """

    _is_async = True

    def __init__(self, url: str | None = None, **options: Unpack[ConnectOptions]) -> None:
        http_client = options.pop("http_client", None)
        transport = options.pop("transport", None)
        self._use_websocket = bool(options.pop("websocket", False))
        super().__init__(url, options)
        if http_client is not None and transport is not None:
            raise TypeError("pass http_client= or transport=, not both")
        self._own_http = http_client is None
        self._http: httpx.AsyncClient | None = http_client
        self._transport = transport
        self._socket: AsyncSocket | None = None
        self._new_primitives()

    @classmethod
    def connect(cls, url: str | None = None, **options: Unpack[ConnectOptions]) -> AsyncClient:
        """A client for ``url``; use it as ``async with AsyncClient.connect(...) as client``.

        Authenticate with ``token=`` (Bearer), ``username=``/``password=`` (Basic) or any
        ``auth=httpx.Auth``. Pass an ``http_client`` (left open on exit) or a
        ``transport`` (e.g. ``httpx.MockTransport(handler)``) to control the HTTP layer.
        ``session_url`` skips ``/.well-known/jmap`` discovery. ``retries`` is a count or
        a `RetryPolicy`; ``timeout`` is seconds or an ``httpx.Timeout``. The keywords are
        `ConnectOptions` (`ClientOptions` plus the HTTP layer).

        ``websocket=True``: `send` and `events` go over the session's JMAP WebSocket
        (RFC 8887), opened with the same credentials; `CapabilityNotSupported` if the
        server advertises none. Uploads and downloads stay on HTTP.
        """
        return cls(url, **options)

    # --- lifecycle --------------------------------------------------------------------

    async def open(self) -> AsyncClient:
        """Create the HTTP client (if needed) and fetch the session."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                transport=self._transport,
                timeout=self._timeout,
                headers={"User-Agent": USER_AGENT},
            )
        self._new_primitives()
        try:
            session = await self._fresh_session()
            if self._use_websocket:
                url = websocket_url(session)
                try:
                    self._check_streams(self._client())
                except CapabilityNotSupported:
                    raise CapabilityNotSupported(
                        "websocket=True needs a network transport: httpx's in-process "
                        "transports cannot upgrade to a WebSocket (serve the app on a "
                        "loopback socket, e.g. jmapchat.server.serve_in_thread)",
                        capability=WEBSOCKET,
                    ) from None
                socket = AsyncSocket(self, url, self._ws_channel())
                self._socket = await self._stack.enter_async_context(socket)
                await socket.connection()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        """Close the WebSocket, and the HTTP client if this client created it."""
        self._socket = None
        try:
            await self._stack.aclose()
        finally:
            http, self._http = self._http, None
            if http is not None and self._own_http:
                await http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- sending ----------------------------------------------------------------------

    async def send(self, request: Request, *, deadline: float | None = None) -> Response:
        """Send ``request`` (splitting it if the server's limits need it); bind results.

        Returns the `Response`; each call's ``.result`` is then typed, or raises that
        call's `MethodError`. Request-level failures raise (see `jmapchat.JMAPError`).
        ``deadline`` (seconds) bounds the whole send — every envelope, retry and wait:
        past it `jmapchat.Timeout` is raised (results already confirmed stay bound).
        """
        until = deadline_until(deadline)
        async_bind_handles(request)
        if self._socket is not None:
            flow = ws_execute_flow(
                request,
                account_id=self.account_id,
                policy=self._policy,
                channel=self._socket.channel,
            )
            sent: list[str] = []
            try:
                return await self._run(flow, until, sent)
            finally:
                self._socket.forget(sent)
        return await self._run(
            execute_flow(request, account_id=self.account_id, policy=self._policy), until
        )

    def request(self) -> Request:
        """A new, empty `Request` for this client's account (pure builder, no I/O).

        With the async client its call handles are also awaitable: other tasks can wait
        on them while this one sends the request.
        """
        req = super().request()
        async_bind_handles(req)
        return req

    async def call(
        self, build: Callable[[Request], Call[R]], *, deadline: float | None = None
    ) -> R:
        """Send a one-call request: ``await client.call(lambda r: r.chat.get(None))``."""
        req = self.request()
        handle = build(req)
        await self.send(req, deadline=deadline)
        return handle.result

    def changes_pages(
        self, type: str, since_state: str, *, max_changes: int | None = None
    ) -> AsyncIterator[ChangesResponse]:
        """Every ``/changes`` page since ``since_state`` (follows ``hasMoreChanges``).

        ``type`` is a data type (``"Message"``) or namespace (``"message"``).
        """
        flow = changes_pages_flow(
            self.request,
            self._changes_adder(type, max_changes),
            since_state,
            account_id=self.account_id,
            policy=self._policy,
        )
        return self._iterate(flow)

    def query_iter(
        self,
        type: str,
        *,
        filter: Any = None,
        sort: Sequence[Any] | None = None,
        page_size: int = 100,
        properties: Sequence[str] | None = None,
        fetch: bool = True,
    ) -> AsyncIterator[Any]:
        """Walk a ``/query`` by position: objects (query + get per page), or ids.

        One HTTP request per page of ``page_size`` (capped at ``maxObjectsInGet``).
        """
        flow = query_iter_flow(
            self.request,
            self._query_adder(
                type,
                filter=filter,
                sort=sort,
                page_size=page_size,
                properties=properties,
                fetch=fetch,
            ),
            account_id=self.account_id,
            policy=self._policy,
        )
        return self._iterate(flow)

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

    # --- blobs ------------------------------------------------------------------------

    async def upload(
        self,
        data: Any,
        *,
        type: str = "application/octet-stream",
        account_id: str | None = None,
    ) -> UploadResponse:
        """Upload bytes, a file path, a binary file object or an iterator of bytes.

        The async client also takes async iterators. Streams; checks ``maxSizeUpload``
        first; verifies the server's size and sha256.
        """
        src = async_upload_source(data)
        body: Any = src.value if src.kind == "bytes" else src
        doc = await self._run(
            upload_flow(
                body,
                content_type=type,
                account_id=account_id or self.account_id,
                size=src.size,
                replayable=src.replayable,
                policy=self._policy,
            )
        )
        return UploadResponse.model_validate(doc)

    @asynccontextmanager
    async def download_stream(
        self,
        blob_id: str,
        *,
        type: str = "application/octet-stream",
        name: str = "blob",
        max_size: int | None = None,
        sha256: str | None = None,
        account_id: str | None = None,
        chunk_size: int = _CHUNK,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """``async with client.download_stream(blob_id) as chunks: async for c in chunks``.

        Raises `LocalProtocolError` past ``max_size`` bytes and `RemoteProtocolError`
        at the end if ``sha256`` (lower-case hex) does not match.
        """
        req = await self._run(
            download_request_flow(
                blob_id, account_id=account_id or self.account_id, type=type, name=name
            )
        )
        verifier = DownloadVerifier(blob_id, max_size=max_size, sha256=sha256)
        http = self._client()
        what = f"download {blob_id}"
        with map_transport_errors(what):
            stream = http.stream("GET", req.url, headers=dict(req.headers), **self._auth_kw())
            async with stream as r:
                if not 200 <= r.status_code < 300:
                    await r.aread()
                    check_download_response(to_response(r, r.content), blob_id, max_size)
                check_download_response(to_response(r, b""), blob_id, max_size)
                yield _Chunks(r.aiter_bytes(chunk_size), verifier, what)

    async def download(
        self,
        blob_id: str,
        *,
        type: str = "application/octet-stream",
        name: str = "blob",
        max_size: int | None = None,
        sha256: str | None = None,
        account_id: str | None = None,
    ) -> bytes:
        """Download a blob as bytes (same checks as `download_stream`)."""
        async with self.download_stream(
            blob_id,
            type=type,
            name=name,
            max_size=max_size,
            sha256=sha256,
            account_id=account_id,
        ) as chunks:
            parts: list[bytes] = []
            async for chunk in chunks:
                parts.append(chunk)
            return b"".join(parts)

    # --- the driver -------------------------------------------------------------------

    def _new_primitives(self) -> None:
        # Also on every open(): anyio's belong to the event loop that first uses them.
        self._stack = AsyncExitStack()
        self._session_lock = AsyncLock()
        self._limiter = AsyncCapacityLimiter(4)
        self._upload_limiter = AsyncCapacityLimiter(4)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            raise LocalProtocolError("the client is closed")
        return self._http

    def _auth_kw(self) -> dict[str, Any]:
        return {"auth": self._auth} if self._auth is not None else {}

    async def _run(
        self, flow: Flow[T], until: float | None = None, sent: list[str] | None = None
    ) -> T:
        """Drive a flow to completion (it must not `Emit`), by ``until`` if given;
        ``sent`` collects the ids of the WebSocket requests it sent."""
        with closing(flow):
            reply: Any = None
            error: BaseException | None = None
            while True:
                try:
                    instr = flow.throw(error) if error is not None else flow.send(reply)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                if isinstance(instr, Emit):
                    raise RuntimeError("this flow cannot emit values")
                if isinstance(instr, WSSend) and sent is not None and instr.request_id:
                    sent.append(instr.request_id)
                reply, error = await self._do(instr, until)

    async def _iterate(self, flow: Flow[None]) -> AsyncIterator[Any]:
        """Drive an iterator flow, yielding what it emits."""
        with closing(flow):
            reply: Any = None
            error: BaseException | None = None
            while True:
                try:
                    instr = flow.throw(error) if error is not None else flow.send(reply)
                except StopIteration:
                    return
                if isinstance(instr, Emit):
                    reply, error = None, None
                    yield instr.value
                else:
                    reply, error = await self._do(instr)

    async def _do(
        self, instr: Instruction, until: float | None = None
    ) -> tuple[Any, BaseException | None]:
        """Perform one instruction: (reply, None), or (None, error to throw into the flow)."""
        if isinstance(instr, HTTPRequest):
            try:
                return await self._perform(instr, until), None
            except TransportError as exc:
                return None, exc
        if isinstance(instr, Sleep):
            if until is not None and time.monotonic() + instr.seconds > until:
                # A retry only follows an attempt that changed nothing, or a read-only one.
                return None, past_deadline(f"a {instr.seconds:.2f}s wait to retry", sent=False)
            log.debug("retrying in %.2fs", instr.seconds)
            await async_sleep(instr.seconds)
            return None, None
        if isinstance(instr, FreshSession):
            return await self._fresh_session(until), None
        if isinstance(instr, ObservedSessionState):
            self._observe(instr.state)
            return None, None
        if isinstance(instr, WSSend | WSReceive):
            if self._socket is None:
                raise LocalProtocolError("the client's WebSocket is closed")
            if isinstance(instr, WSReceive):
                wait = self._read_timeout()
                if until is not None:
                    left = max(0.0, until - time.monotonic())
                    wait = left if wait is None else min(wait, left)
                return await self._socket.receive(instr.request_ids, wait), None
            try:
                await self._socket.send(instr.frame, instr.request_id)
            except TransportError as exc:
                return None, exc
            return None, None
        raise RuntimeError(f"unknown flow instruction {instr!r}")  # pragma: no cover

    async def _fresh_session(self, until: float | None = None) -> Session:
        if self._session is not None and not self._stale:
            return self._session
        # Single-flight: one refetch however many tasks (or threads) notice.
        async with self._session_lock:
            if self._session is None or self._stale:
                with self._session_hints():
                    session = await self._run(session_flow(self._session_url, self._policy), until)
                self._install_session(session)
                core = session.core
                self._limiter.total_tokens = max(1, core.max_concurrent_requests)
                self._upload_limiter.total_tokens = max(1, core.max_concurrent_upload)
        assert self._session is not None
        return self._session

    async def _perform(self, req: HTTPRequest, until: float | None = None) -> HTTPResponse:
        limiter = (
            self._limiter
            if req.kind == "api"
            else self._upload_limiter
            if req.kind == "upload"
            else None
        )
        if limiter is None:
            return await self._exchange(req, until)
        async with limiter:
            return await self._exchange(req, until)

    async def _exchange(self, req: HTTPRequest, until: float | None = None) -> HTTPResponse:
        http = self._client()
        content: Any = req.body
        if isinstance(content, UploadSource):
            content = _stream_upload(content, req.digest)
        what = f"{req.method} {redact_url(req.url)}"
        kw = self._auth_kw()
        if until is not None:
            kw["timeout"] = timeout_until(http.timeout, until)
        started = time.perf_counter()
        with map_transport_errors(what):
            stream = http.stream(
                req.method,
                req.url,
                headers=dict(req.headers),
                content=content,
                follow_redirects=req.follow_redirects,
                **kw,
            )
            async with stream as r:
                body = await self._read_body(r, req.kind, until, what)
        log.debug(
            "%s -> %d (%d bytes out, %d bytes in, %.3fs)",
            what,
            r.status_code,
            len(req.body) if isinstance(req.body, bytes) else -1,
            len(body),
            time.perf_counter() - started,
        )
        return to_response(r, body)

    async def _read_body(
        self, r: httpx.Response, kind: str, until: float | None, what: str
    ) -> bytes:
        """The reply body, read up to the size cap and (chunk by chunk) the deadline."""
        limit = body_cap(
            kind,
            session=self._max_session_bytes,
            response=self._max_response_bytes,
            declared=r.headers.get("content-length"),
        )
        parts: list[bytes] = []
        size = 0
        async for chunk in r.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise too_large(kind, limit)
            parts.append(chunk)
            if until is not None and time.monotonic() > until:
                raise past_deadline(f"{what}: reading the reply", sent=True)
        return b"".join(parts)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> NamespaceMirror[Any]:
            # Namespaces added to Request after _generated.py was written still work.
            from ._base import namespace_names

            if not name.startswith("_") and name in namespace_names():
                return NamespaceMirror(self, name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


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
        self._events: deque[Any] = deque()
        self._events_wake: Any = None

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
        self._events.append(item)
        if self._events_wake is not None:
            self._events_wake.set()

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
        frames = self.channel.enable(
            types, typing=typing, presence=presence, close_after_state=close_after_state
        )
        self._events.clear()
        try:
            current = self._current
            ws, _ = await self.connection()  # a new connection already subscribed
            if current is not None and current[0] is ws:
                for frame in frames:
                    await self._send_on(ws, frame)
            yield AsyncSocketEvents(self, backoff)
        finally:
            off = self.channel.disable()
            current = self._current
            if current is not None:
                for frame in off:
                    try:
                        await self._send_on(current[0], frame)
                    except TransportError:
                        break
            self._events.clear()

    async def next_event(self, backoff: Backoff) -> Any:
        """The next event; a lost connection is reconnected (and re-subscribed) first."""
        attempt = 0
        while True:
            if self._events:
                item = self._events.popleft()
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
            self._events_wake = AsyncWakeup()
            if not self._events:
                await async_wait_for(self._events_wake, None)


class AsyncSocketEvents:
    """The iterator ``events()`` yields on a WebSocket client."""

    def __init__(self, socket: AsyncSocket, backoff: Backoff) -> None:
        self._socket = socket
        self._backoff = backoff

    def __aiter__(self) -> AsyncSocketEvents:
        return self

    async def __anext__(self) -> Event:
        if self._socket.channel.finished:  # close_after_state: that was the last one
            raise StopAsyncIteration
        return cast("Event", await self._socket.next_event(self._backoff))


_LOST = object()  # in the event queue: the connection ended


class _Chunks:
    """The chunk iterator handed out by `AsyncClient.download_stream`."""

    def __init__(self, source: AsyncIterator[bytes], verifier: DownloadVerifier, what: str) -> None:
        self._source = source
        self._verifier = verifier
        self._what = what
        self._finished = False

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        with map_transport_errors(self._what):
            try:
                chunk = await self._source.__anext__()
            except StopAsyncIteration:
                if not self._finished:
                    self._finished = True
                    self._verifier.finish()
                raise
        self._verifier.update(chunk)
        return chunk


async def _stream_upload(src: UploadSource, digest: StreamDigest | None) -> AsyncIterator[bytes]:
    if digest is not None:
        digest.reset()
    async with aclosing(async_upload_chunks(src, _CHUNK)) as chunks:
        async for chunk in chunks:
            if digest is not None:
                digest.update(chunk)
            yield chunk
