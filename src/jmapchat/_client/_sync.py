"""`Client`: the blocking driver for the sans-IO flows (same surface as `AsyncClient`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import BaseModel

from jmapchat._core._call import Call
from jmapchat._core._errors import LocalProtocolError, TransportError
from jmapchat._core._flows import (
    DownloadVerifier,
    Emit,
    Flow,
    FreshSession,
    HTTPRequest,
    HTTPResponse,
    Instruction,
    ObservedSessionState,
    RetryPolicy,
    Sleep,
    StreamDigest,
    changes_pages_flow,
    check_download_response,
    download_request_flow,
    execute_flow,
    query_iter_flow,
    session_flow,
    upload_flow,
)
from jmapchat._core._response import Response
from jmapchat._core._responses import ChangesResponse
from jmapchat._core._session import Session
from jmapchat._namespaces import Request
from jmapchat.models import UploadResponse

from ._base import USER_AGENT, ClientBase, UploadSource, log, map_transport_errors, to_response
from ._generated import SyncNamespaces
from ._mirror import NamespaceMirror

__all__ = ["Client"]

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)

_CHUNK = 64 * 1024


class Client(SyncNamespaces, ClientBase):
    """The blocking JMAP Chat client; the twin of `AsyncClient`, same surface.

    ::

        with jmapchat.Client.connect(url, token=token) as client:
            req = client.request()
            ...
            client.send(req)

    Thread-safe: several threads may share one client (``maxConcurrentRequests`` is
    honoured across them). Secrets never appear in ``repr``, errors or logs.
    """

    _is_async = False

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        username: str | None = None,
        password: str | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        session_url: str | None = None,
        timeout: float | httpx.Timeout | None = 30.0,
        retries: int | RetryPolicy = 3,
        account_id: str | None = None,
    ) -> None:
        super().__init__(
            url,
            token=token,
            auth=auth,
            username=username,
            password=password,
            session_url=session_url,
            timeout=timeout,
            retries=retries,
            account_id=account_id,
        )
        if http_client is not None and transport is not None:
            raise TypeError("pass http_client= or transport=, not both")
        self._own_http = http_client is None
        self._http: httpx.Client | None = http_client
        self._transport = transport
        self._session_lock = threading.Lock()
        self._limiter = threading.BoundedSemaphore(4)
        self._upload_limiter = threading.BoundedSemaphore(4)

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        *,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        username: str | None = None,
        password: str | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        session_url: str | None = None,
        timeout: float | httpx.Timeout | None = 30.0,
        retries: int | RetryPolicy = 3,
        account_id: str | None = None,
    ) -> Client:
        """A client for ``url``; use it as ``with Client.connect(...) as client``.

        Same options as `AsyncClient.connect` (with ``httpx.Client`` / sync transports).
        """
        return cls(
            url,
            token=token,
            auth=auth,
            username=username,
            password=password,
            http_client=http_client,
            transport=transport,
            session_url=session_url,
            timeout=timeout,
            retries=retries,
            account_id=account_id,
        )

    # --- lifecycle --------------------------------------------------------------------

    def open(self) -> Client:
        """Create the HTTP client (if needed) and fetch the session."""
        if self._http is None:
            self._http = httpx.Client(
                transport=self._transport,
                timeout=self._timeout,
                headers={"User-Agent": USER_AGENT},
            )
        try:
            self._fresh_session()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Close the HTTP client if this client created it."""
        http, self._http = self._http, None
        if http is not None and self._own_http:
            http.close()

    def __enter__(self) -> Client:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- sending ----------------------------------------------------------------------

    def send(self, request: Request) -> Response:
        """Send ``request`` (splitting it if the server's limits need it); bind results."""
        return self._run(execute_flow(request, account_id=self.account_id, policy=self._policy))

    def call(self, build: Callable[[Request], Call[R]]) -> R:
        """Send a one-call request: ``client.call(lambda r: r.chat.get(None))``."""
        req = self.request()
        handle = build(req)
        self.send(req)
        return handle.result

    def changes_pages(
        self, type: str, since_state: str, *, max_changes: int | None = None
    ) -> Iterator[ChangesResponse]:
        """Every ``/changes`` page since ``since_state`` (follows ``hasMoreChanges``)."""
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
    ) -> Iterator[Any]:
        """Walk a ``/query`` by position: objects (query + get per page), or ids."""
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

    # --- blobs ------------------------------------------------------------------------

    def upload(
        self,
        data: Any,
        *,
        type: str = "application/octet-stream",
        account_id: str | None = None,
    ) -> UploadResponse:
        """Upload bytes, a file path, a binary file object or an iterator of bytes."""
        src = UploadSource.of(data)
        if src.kind == "aiter":
            raise TypeError("the blocking Client cannot upload from an async iterator")
        body: Any = src.value if src.kind == "bytes" else src
        doc = self._run(
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

    @contextmanager
    def download_stream(
        self,
        blob_id: str,
        *,
        type: str = "application/octet-stream",
        name: str = "blob",
        max_size: int | None = None,
        sha256: str | None = None,
        account_id: str | None = None,
        chunk_size: int = _CHUNK,
    ) -> Iterator[Iterator[bytes]]:
        """``with client.download_stream(blob_id) as chunks: for c in chunks: ...``."""
        req = self._run(
            download_request_flow(
                blob_id, account_id=account_id or self.account_id, type=type, name=name
            )
        )
        verifier = DownloadVerifier(blob_id, max_size=max_size, sha256=sha256)
        http = self._client()
        what = f"download {blob_id}"
        with (
            map_transport_errors(what),
            http.stream("GET", req.url, headers=dict(req.headers), **self._auth_kw()) as r,
        ):
            if not 200 <= r.status_code < 300:
                r.read()
                check_download_response(to_response(r, r.content), blob_id, max_size)
            check_download_response(to_response(r, b""), blob_id, max_size)
            yield _Chunks(r.iter_bytes(chunk_size), verifier, what)

    def download(
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
        with self.download_stream(
            blob_id,
            type=type,
            name=name,
            max_size=max_size,
            sha256=sha256,
            account_id=account_id,
        ) as chunks:
            return b"".join(chunks)

    # --- the driver -------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        if self._http is None:
            raise LocalProtocolError("the client is closed")
        return self._http

    def _auth_kw(self) -> dict[str, Any]:
        return {"auth": self._auth} if self._auth is not None else {}

    def _run(self, flow: Flow[T]) -> T:
        """Drive a flow to completion (it must not `Emit`)."""
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
                reply, error = self._do(instr)

    def _iterate(self, flow: Flow[None]) -> Iterator[Any]:
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
                    reply, error = self._do(instr)

    def _do(self, instr: Instruction) -> tuple[Any, BaseException | None]:
        """Perform one instruction: (reply, None), or (None, error to throw into the flow)."""
        if isinstance(instr, HTTPRequest):
            try:
                return self._perform(instr), None
            except TransportError as exc:
                return None, exc
        if isinstance(instr, Sleep):
            log.debug("retrying in %.2fs", instr.seconds)
            time.sleep(instr.seconds)
            return None, None
        if isinstance(instr, FreshSession):
            return self._fresh_session(), None
        if isinstance(instr, ObservedSessionState):
            self._observe(instr.state)
            return None, None
        raise RuntimeError(f"unknown flow instruction {instr!r}")  # pragma: no cover

    def _fresh_session(self) -> Session:
        if self._session is not None and not self._stale:
            return self._session
        with self._session_lock:  # single-flight across threads
            if self._session is None or self._stale:
                session = self._run(session_flow(self._session_url, self._policy))
                self._install_session(session)
                core = session.core
                self._limiter = threading.BoundedSemaphore(max(1, core.max_concurrent_requests))
                self._upload_limiter = threading.BoundedSemaphore(
                    max(1, core.max_concurrent_upload)
                )
        assert self._session is not None
        return self._session

    def _perform(self, req: HTTPRequest) -> HTTPResponse:
        limiter: Any = (
            self._limiter
            if req.kind == "api"
            else self._upload_limiter
            if req.kind == "upload"
            else nullcontext()
        )
        with limiter:
            return self._exchange(req)

    def _exchange(self, req: HTTPRequest) -> HTTPResponse:
        http = self._client()
        content: Any = req.body
        if isinstance(content, UploadSource):
            content = _stream_upload(content, req.digest)
        what = f"{req.method} {req.url}"
        started = time.perf_counter()
        with map_transport_errors(what):
            r = http.request(
                req.method,
                req.url,
                headers=dict(req.headers),
                content=content,
                follow_redirects=req.follow_redirects,
                **self._auth_kw(),
            )
        log.debug(
            "%s -> %d (%d bytes out, %d bytes in, %.3fs)",
            what,
            r.status_code,
            len(req.body) if isinstance(req.body, bytes) else -1,
            len(r.content),
            time.perf_counter() - started,
        )
        return to_response(r, r.content)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> NamespaceMirror[Any]:
            # Namespaces added to Request after _generated.py was written still work.
            from ._base import namespace_names

            if not name.startswith("_") and name in namespace_names():
                return NamespaceMirror(self, name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class _Chunks:
    """The iterator handed out by `Client.download_stream`."""

    def __init__(self, source: Iterator[bytes], verifier: DownloadVerifier, what: str) -> None:
        self._source = source
        self._verifier = verifier
        self._what = what
        self._finished = False

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> bytes:
        with map_transport_errors(self._what):
            try:
                chunk = next(self._source)
            except StopIteration:
                if not self._finished:
                    self._finished = True
                    self._verifier.finish()
                raise
        self._verifier.update(chunk)
        return chunk


def _stream_upload(src: UploadSource, digest: StreamDigest | None) -> Iterator[bytes]:
    if digest is not None:
        digest.reset()

    def feed(chunk: bytes) -> bytes:
        if digest is not None:
            digest.update(chunk)
        return chunk

    if src.kind == "path":
        with open(src.value, "rb") as f:
            while chunk := f.read(_CHUNK):
                yield feed(chunk)
    elif src.kind == "file":
        while chunk := src.value.read(_CHUNK):
            yield feed(bytes(chunk))
    elif src.kind == "iter":
        try:
            for chunk in src.value:
                yield feed(bytes(chunk))
        finally:
            close = getattr(src.value, "close", None)
            if close is not None:
                close()
    else:
        yield feed(src.value)
