"""`AsyncClient`: the anyio driver (trio or asyncio) for the sans-IO flows.

The source of truth for both clients: ``scripts/unasync.py`` generates the blocking
`Client` (`_sync.py`) from this file. What the two do differently lives in `_primitives`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, closing
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

import httpx
from pydantic import BaseModel

from jmapchat._core import (
    WEBSOCKET,
    Call,
    CapabilityNotSupported,
    ChangesResponse,
    Emit,
    Flow,
    FreshSession,
    HTTPRequest,
    HTTPResponse,
    Instruction,
    LocalProtocolError,
    ObservedSessionState,
    Response,
    Session,
    Sleep,
    TransportError,
    WSReceive,
    WSSend,
    changes_pages_flow,
    execute_flow,
    query_iter_flow,
    redact_url,
    session_flow,
    websocket_url,
    ws_execute_flow,
)
from jmapchat._namespaces import Request

from ._base import ClientBase, ClientOptions, UploadSource
from ._blobs_async import AsyncBlobsMixin, stream_upload
from ._direct import DirectRoute, env_proxies
from ._events_async import AsyncEventsMixin
from ._generated import AsyncNamespaces
from ._http import (
    USER_AGENT,
    body_cap,
    deadline_until,
    log,
    map_transport_errors,
    past_deadline,
    timeout_until,
    to_response,
    too_large,
)
from ._mirror import NamespaceMirror
from ._primitives import (
    AsyncCapacityLimiter,
    AsyncLock,
    async_bind_handles,
    async_sleep,
)
from ._socket_async import AsyncSocket

__all__ = ["AsyncClient"]

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)


class ConnectOptions(ClientOptions, total=False):
    """`ClientOptions` plus the transport: an ``http_client`` or a ``transport``, and
    ``websocket=True`` to send requests (and listen) over the session's WebSocket."""

    http_client: httpx.AsyncClient | None
    transport: httpx.AsyncBaseTransport | None
    websocket: bool


class AsyncClient(AsyncNamespaces, AsyncEventsMixin, AsyncBlobsMixin, ClientBase):
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
        self._direct: DirectRoute | None = None
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
            # Our own transport, so API requests can skip the client (see _direct);
            # unless an environment proxy applies: httpx mounts it only without one.
            transport = self._transport
            if transport is None and not env_proxies():
                transport = httpx.AsyncHTTPTransport()
            self._http = httpx.AsyncClient(
                transport=transport,
                timeout=self._timeout,
                headers={"User-Agent": USER_AGENT},
            )
            if transport is not None:
                self._direct = DirectRoute.for_client(transport, self._http, self._auth)
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
        self._direct = None
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
        self,
        type: str,
        since_state: str,
        *,
        max_changes: int | None = None,
        deadline: float | None = None,
    ) -> AsyncIterator[ChangesResponse]:
        """Every ``/changes`` page since ``since_state`` (follows ``hasMoreChanges``).

        ``type`` is a data type (``"Message"``) or namespace (``"message"``).
        ``deadline`` (seconds from this call) bounds the whole iteration, as `query_iter`'s.
        """
        until = deadline_until(deadline)
        flow = changes_pages_flow(
            self.request,
            self._changes_adder(type, max_changes),
            since_state,
            account_id=self.account_id,
            policy=self._policy,
        )
        return self._iterate(flow, until)

    def query_iter(
        self,
        type: str,
        *,
        filter: Any = None,
        sort: Sequence[Any] | None = None,
        page_size: int = 100,
        properties: Sequence[str] | None = None,
        fetch: bool = True,
        deadline: float | None = None,
    ) -> AsyncIterator[Any]:
        """Walk a ``/query`` by position: objects (query + get per page), or ids.

        One HTTP request per page of ``page_size`` (capped at ``maxObjectsInGet``).
        ``deadline`` (seconds from this call) bounds the whole iteration — every page's
        request, retry and wait, and the time the caller spends between pages: past it
        `jmapchat.Timeout` is raised (pages already yielded stay yielded).
        """
        until = deadline_until(deadline)
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
        return self._iterate(flow, until)

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

    def _auth_kw(self, until: float | None = None) -> dict[str, Any]:
        """httpx keywords of a request through the client: the credentials, and with a
        deadline (``until``) every timeout phase cut to the time left."""
        kw: dict[str, Any] = {"auth": self._auth} if self._auth is not None else {}
        if until is not None:
            kw["timeout"] = timeout_until(self._client().timeout, until)
        return kw

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

    async def _iterate(self, flow: Flow[None], until: float | None = None) -> AsyncIterator[Any]:
        """Drive an iterator flow, yielding what it emits, by ``until`` if given."""
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
                    reply, error = await self._do(instr, until)

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
            content = stream_upload(content, req.digest)
        what = f"{req.method} {redact_url(req.url)}"
        started = time.perf_counter()
        route = self._direct
        direct = route.request(req, http.cookies, until) if route is not None else None
        with map_transport_errors(what):
            if direct is not None:
                assert route is not None
                transport = route.transport
                assert isinstance(transport, httpx.AsyncBaseTransport)
                r = await transport.handle_async_request(direct)
                r.request = direct
                try:
                    body = await self._read_body(r, req.kind, until, what)
                finally:
                    await r.aclose()
                resp = to_response(r, body, req.url)
                if "set-cookie" in resp.headers:
                    http.cookies.extract_cookies(r)
            else:
                stream = http.stream(
                    req.method,
                    req.url,
                    headers=dict(req.headers),
                    content=content,
                    follow_redirects=req.follow_redirects,
                    **self._auth_kw(until),
                )
                async with stream as r:
                    body = await self._read_body(r, req.kind, until, what)
                resp = to_response(r, body)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s -> %d (%d bytes out, %d bytes in, %.3fs)",
                what,
                r.status_code,
                len(req.body) if isinstance(req.body, bytes) else -1,
                len(body),
                time.perf_counter() - started,
            )
        return resp

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
