"""Fault-injecting httpx transports, the `Wire` recorder and the ready-made faults
(re-exported by `jmapchat.testing`)."""

from __future__ import annotations

import json
import math
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio
import httpx

from jmapchat import RetryPolicy

if TYPE_CHECKING:
    from jmapchat import AsyncClient, Client, Request


NO_BACKOFF = RetryPolicy(retries=3, backoff_base=0.0, jitter=False)
"""Three retries without waiting: a test never sleeps on backoff."""

Before = Callable[[httpx.Request], "httpx.Response | Exception | None"]
"""A hook run before the request reaches the server: an exception to raise, a response to
answer with instead of the server, or None to pass the request on."""

After = Callable[[httpx.Request, httpx.Response, bytes], "httpx.Response | Exception | None"]
"""A hook run after the server answered (with the answer's body): an exception to raise
(the request did run), a response to hand back instead, or None to pass the answer on."""

Target = Literal["api", "session", "upload", "download", "events", "any"]
"""Which requests a fault applies to: the JMAP API endpoint (the default), session
discovery, blob upload, blob download, push events (EventSource or WebSocket), or every
request."""


class AsyncClientFactory(Protocol):
    """The type of the ``jmap_async_client`` fixture."""

    def __call__(
        self,
        user: str = "alice",
        *,
        live: bool = False,
        wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
        **kw: Any,
    ) -> AsyncClient:
        """An unopened ``AsyncClient`` for ``user`` (use it with ``async with``)."""
        ...


class ClientFactory(Protocol):
    """The type of the ``jmap_client`` fixture."""

    def __call__(self, user: str = "alice", **kw: Any) -> Client:
        """An unopened blocking ``Client`` for ``user`` (use it with ``with``)."""
        ...


def _kind(request: httpx.Request) -> str:
    path = request.url.path
    if (
        "eventsource" in path.lower()
        or "text/event-stream" in request.headers.get("accept", "")
        or request.headers.get("upgrade", "").lower() == "websocket"
    ):
        return "events"
    if request.method == "POST" and "/upload" in path:
        return "upload"
    if "/download" in path:
        return "download"
    if request.method == "POST":
        return "api"
    return "session"


@dataclass(frozen=True)
class Fault:
    """One misbehaviour of the network or the server; build them with the functions of
    this module (`reset_before_send`, `rate_limited`, …) and arm them with `Wire.inject`."""

    name: str
    before: Before | None = None
    after: After | None = None
    delay: float = 0.0
    """Seconds to wait before the request is sent (with ``delay_after_send``: after the
    server answered, before the answer is handed back); ``math.inf`` waits until cancelled."""
    delay_after_send: bool = False


@dataclass
class Injected:
    """An armed fault: how often it may still fire, and how often it has."""

    fault: Fault
    target: Target
    remaining: int | None
    skip: int
    hits: int = 0
    _sync_event: threading.Event = field(default_factory=threading.Event, repr=False)
    _async_event: anyio.Event | None = field(default=None, repr=False)

    def _matches(self, request: httpx.Request) -> bool:
        if self.remaining == 0:
            return False
        return self.target == "any" or _kind(request) == self.target

    def _fire(self) -> bool:
        """Count one matching request; True when the fault applies to it."""
        if self.skip > 0:
            self.skip -= 1
            return False
        if self.remaining is not None:
            self.remaining -= 1
        self.hits += 1
        self._sync_event.set()
        if self._async_event is not None:
            self._async_event.set()
        return True

    async def wait(self) -> None:
        """Wait (in async code) until the fault has fired once."""
        if self.hits:
            return
        if self._async_event is None:
            self._async_event = anyio.Event()
        await self._async_event.wait()

    def wait_blocking(self, timeout: float | None = None) -> bool:
        """Wait (in blocking code, another thread) until the fault has fired once."""
        return self._sync_event.wait(timeout)


@dataclass
class Wire:
    """What went over the wire, and the faults to inject into it.

    One `Wire` may be shared by several transports (every client of a test, say).
    ``requests`` lists ``(method, path)`` of every request; ``api_bodies`` the decoded JSON
    of every API request; ``before`` and ``after`` hold raw hooks (see `Before`,
    `After`) for one-off rewrites that no ready-made fault covers.
    """

    requests: list[tuple[str, str]] = field(default_factory=list)
    api_bodies: list[dict[str, Any]] = field(default_factory=list, repr=False)
    before: list[Before] = field(default_factory=list)
    after: list[After] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0
    """The most requests that were inside the transport at the same time."""
    injected: list[Injected] = field(default_factory=list, repr=False)

    kinds: list[str] = field(default_factory=list, repr=False)
    """The `Target` kind of each of ``requests``."""

    @property
    def api(self) -> int:
        """How many API (``POST`` to the API URL) requests were made."""
        return self.kinds.count("api")

    @property
    def session_gets(self) -> int:
        """How many session resources (or ``/.well-known/jmap``) were fetched."""
        return self.kinds.count("session")

    def reset(self) -> None:
        """Forget the recorded requests (armed faults and hooks stay)."""
        self.requests.clear()
        self.kinds.clear()
        self.api_bodies.clear()

    def inject(
        self, fault: Fault, *, times: int | None = 1, skip: int = 0, on: Target = "api"
    ) -> Injected:
        """Arm ``fault`` for the next ``times`` requests of kind ``on`` (``None``: for
        every one), after letting ``skip`` of them through untouched.

        Armed faults queue up in the order they were armed: a request gets at most one.
        """
        if times is not None and times < 1:
            raise ValueError("times must be a positive integer or None")
        armed = Injected(fault, on, times, skip)
        self.injected.append(armed)
        return armed

    def clear(self) -> None:
        """Disarm every injected fault and raw hook."""
        self.injected.clear()
        self.before.clear()
        self.after.clear()

    # --- the shared, I/O-free half of both transports ---------------------------------

    def _record(self, request: httpx.Request, content: bytes) -> None:
        kind = _kind(request)
        self.requests.append((request.method, request.url.path))
        self.kinds.append(kind)
        if kind == "api" and content:
            try:
                self.api_bodies.append(json.loads(content))
            except ValueError:
                self.api_bodies.append({"<not JSON>": content.decode("utf-8", "replace")})

    def _enter(self, request: httpx.Request, content: bytes) -> list[Fault]:
        """Record a request entering a transport; the faults it gets."""
        self._record(request, content)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return self._plan(request)

    def _plan(self, request: httpx.Request) -> list[Fault]:
        # Armed faults queue up: each request gets the first one that applies to it.
        for armed in list(self.injected):
            if armed._matches(request) and armed._fire():
                return [armed.fault]
        return []

    def _before(self, request: httpx.Request, plan: list[Fault]) -> httpx.Response | None:
        hooks = [f.before for f in plan if f.before is not None] + list(self.before)
        for hook in hooks:
            out = hook(request)
            if isinstance(out, Exception):
                raise out
            if isinstance(out, httpx.Response):
                return out
        return None

    def _wants_body(self, plan: list[Fault]) -> bool:
        return bool(self.after) or any(f.after is not None for f in plan)

    def _after(
        self, request: httpx.Request, response: httpx.Response, body: bytes, plan: list[Fault]
    ) -> httpx.Response:
        hooks = [f.after for f in plan if f.after is not None] + list(self.after)
        for hook in hooks:
            out = hook(request, response, body)
            if isinstance(out, Exception):
                raise out
            if isinstance(out, httpx.Response):
                return out
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )


def _delays(plan: list[Fault], after_send: bool) -> list[float]:
    return [f.delay for f in plan if f.delay and f.delay_after_send is after_send]


class AsyncFaultTransport(httpx.AsyncBaseTransport):
    """Wraps a real async transport (``httpx.ASGITransport``, ``httpx.AsyncHTTPTransport``):
    records every request in a `Wire` and injects its faults."""

    def __init__(self, inner: httpx.AsyncBaseTransport, wire: Wire | None = None) -> None:
        self.inner = inner
        self.wire = wire if wire is not None else Wire()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Record, apply the armed faults, and forward to the wrapped transport."""
        wire = self.wire
        content = await request.aread()
        plan = wire._enter(request, content)
        try:
            for seconds in _delays(plan, after_send=False):
                await _async_sleep(seconds)
            early = wire._before(request, plan)
            if early is not None:
                return early
            response = await self.inner.handle_async_request(request)
            later = _delays(plan, after_send=True)
            if not later and not wire._wants_body(plan):
                return response
            try:
                body = await response.aread()
                for seconds in later:
                    await _async_sleep(seconds)
            finally:
                with anyio.CancelScope(shield=True):
                    await response.aclose()
            return wire._after(request, response, body, plan)
        finally:
            wire.in_flight -= 1

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


class FaultTransport(httpx.BaseTransport):
    """The blocking twin of `AsyncFaultTransport` (wraps ``httpx.HTTPTransport``)."""

    def __init__(self, inner: httpx.BaseTransport, wire: Wire | None = None) -> None:
        self.inner = inner
        self.wire = wire if wire is not None else Wire()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Record, apply the armed faults, and forward to the wrapped transport."""
        wire = self.wire
        content = request.read()
        plan = wire._enter(request, content)
        try:
            for seconds in _delays(plan, after_send=False):
                _sync_sleep(seconds)
            early = wire._before(request, plan)
            if early is not None:
                return early
            response = self.inner.handle_request(request)
            later = _delays(plan, after_send=True)
            if not later and not wire._wants_body(plan):
                return response
            try:
                body = response.read()
                for seconds in later:
                    _sync_sleep(seconds)
            finally:
                response.close()
            return wire._after(request, response, body, plan)
        finally:
            wire.in_flight -= 1

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()


async def _async_sleep(seconds: float) -> None:
    if math.isinf(seconds):
        await anyio.sleep_forever()
    await anyio.sleep(seconds)


def _sync_sleep(seconds: float) -> None:
    if math.isinf(seconds):
        threading.Event().wait()  # pragma: no cover - a blocking hang cannot be cancelled
    threading.Event().wait(seconds)


# --- ready-made faults -------------------------------------------------------------------


def reset_before_send() -> Fault:
    """The connection is reset before the request is written: the server never sees it
    (``httpx.ConnectError``); safe for a client to retry."""
    return Fault(
        "reset_before_send",
        before=lambda r: httpx.ConnectError("[Errno 104] Connection reset by peer", request=r),
    )


def reset_after_send() -> Fault:
    """The server runs the request, then the connection is reset before the answer arrives
    (``httpx.ReadError``): the client cannot know whether it ran."""
    return Fault(
        "reset_after_send",
        after=lambda r, resp, body: httpx.ReadError(
            "[Errno 104] Connection reset by peer", request=r
        ),
    )


def drop() -> Fault:
    """The request is lost on the way (the server never sees it) and no answer ever comes:
    the client's read times out (``httpx.ReadTimeout``), not knowing whether it was sent."""
    return Fault("drop", before=lambda r: httpx.ReadTimeout("timed out", request=r))


def delay(seconds: float, *, after_send: bool = False) -> Fault:
    """Wait ``seconds`` before the request is sent (or, with ``after_send=True``, after the
    server answered and before the answer is handed back)."""
    if seconds < 0:
        raise ValueError("seconds must be >= 0")
    return Fault(f"delay({seconds})", delay=seconds, delay_after_send=after_send)


def hang(*, after_send: bool = False) -> Fault:
    """Never answer, until the waiting task is cancelled (async transports only)."""
    return delay(math.inf, after_send=after_send)


def status(code: int, *, headers: dict[str, str] | None = None, body: bytes = b"") -> Fault:
    """Answer with HTTP ``code`` instead of the server (which never sees the request)."""
    return Fault(
        f"status({code})",
        before=lambda r: httpx.Response(code, headers=headers, content=body, request=r),
    )


def rate_limited(retry_after: float | str = 0) -> Fault:
    """Answer ``429 Too Many Requests`` with ``Retry-After`` (seconds or an HTTP date)."""
    value = str(retry_after if isinstance(retry_after, str) else int(retry_after))
    return status(429, headers={"Retry-After": value})


def unavailable() -> Fault:
    """Answer ``503 Service Unavailable`` (the server never sees the request)."""
    return status(503, body=b"busy")


def truncated(keep: float = 0.5) -> Fault:
    """Hand back only the first ``keep`` fraction of the server's answer (it did run)."""
    if not 0 <= keep < 1:
        raise ValueError("keep must be in [0, 1)")

    def cut(r: httpx.Request, resp: httpx.Response, body: bytes) -> httpx.Response:
        headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
        return httpx.Response(
            resp.status_code, headers=headers, content=body[: int(len(body) * keep)], request=r
        )

    return Fault(f"truncated({keep})", after=cut)


def malformed(body: bytes = b"<html>502 Bad Gateway</html>", status_code: int = 200) -> Fault:
    """Replace the server's answer by ``body`` (not JSON by default); the request did run."""
    return Fault(
        "malformed",
        after=lambda r, resp, _body: httpx.Response(
            status_code, headers={"Content-Type": "text/html"}, content=body, request=r
        ),
    )


def session_state_changed(new_state: str = "changed-by-jmapchat.testing") -> Fault:
    """Rewrite the ``sessionState`` of an API answer, as when the server's session changed
    between two requests: the client should refetch the session."""

    def rewrite(r: httpx.Request, resp: httpx.Response, body: bytes) -> httpx.Response | None:
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        if not isinstance(doc, dict) or "sessionState" not in doc:
            return None
        doc["sessionState"] = new_state
        return httpx.Response(resp.status_code, json=doc, request=r)

    return Fault("session_state_changed", after=rewrite)


def refuse_connection() -> Fault:
    """Really connect to a closed loopback port and raise what the OS says
    (``ECONNREFUSED``, as ``httpx.ConnectError``): the request never left."""

    def refuse(r: httpx.Request) -> Exception:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except OSError as exc:
            return httpx.ConnectError(str(exc), request=r)
        return httpx.ConnectError("connection refused", request=r)  # pragma: no cover

    return Fault("refuse_connection", before=refuse)


# --- snapshots ---------------------------------------------------------------------------


def envelope(request: Request) -> dict[str, Any]:
    """The JSON envelope ``request`` builds, as a dict: snapshot material.

    Build the request inside ``jmapchat.models.seeded_ids(...)`` (the ``jmap_envelope``
    fixture does it for you) and pass ``sent_at=`` so the envelope is deterministic.
    """
    doc: dict[str, Any] = json.loads(request.build())
    return doc
