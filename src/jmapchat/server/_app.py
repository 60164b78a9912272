"""The HTTP layer (starlette): session, API, upload, download, EventSource."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from .._core import ERROR_NOT_JSON
from ._engine import Problem, limit_problem
from ._events import (
    PresenceLimiter,
    encode_states,
    parse_states,
    presence_allowed,
    states,
    typing_allowed,
)
from ._session import session_resource
from ._types.misc import PUSH_TYPES
from ._util import now_utc
from ._ws import WS_PATH, session_capabilities, websocket_endpoint

if TYPE_CHECKING:
    from ._server import ChatServer

__all__ = ["build_app"]

_MIME_RE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}$")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def _problem(p: Problem) -> Response:
    return Response(
        orjson.dumps(p.to_json()), status_code=p.status, media_type="application/problem+json"
    )


def _plain_problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    body = {"type": "about:blank", "status": status, "detail": detail}
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


class _Slots:
    """Per-user in-flight counters for maxConcurrentRequests / maxConcurrentUpload."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[tuple[str, str], int] = {}

    @contextmanager
    def take(self, kind: str, user: str, limit: int, name: str) -> Iterator[None]:
        key = (kind, user)
        with self._lock:
            if self._count.get(key, 0) >= limit:
                raise limit_problem(name, f"more than {name} ({limit}) at once")
            self._count[key] = self._count.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._count[key] -= 1


def build_app(server: ChatServer) -> Starlette:
    slots = _Slots()
    limits = server.limits
    core = server.core

    def auth(request: Request | WebSocket) -> str | None:
        who = auth_token(request)
        return None if who is None else who[0]

    def auth_token(request: Request | WebSocket) -> tuple[str, str] | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        user = server._user_for_token(token.strip())
        return None if user is None else (user, token.strip())

    def unauthorized() -> Response:
        return _plain_problem(
            401, "missing or invalid bearer token", {"WWW-Authenticate": 'Bearer realm="jmapchat"'}
        )

    def base_url(request: Request) -> str:
        """The configured public URL, else the address the server is bound to: never the
        request's Host header, which any client may set."""
        if server.public_url is not None:
            return server.public_url
        scheme = "https" if request.url.scheme in ("https", "wss") else "http"
        host, port = request.scope.get("server") or ("localhost", None)
        host = f"[{host}]" if ":" in str(host) else str(host)
        default = 443 if scheme == "https" else 80
        return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"

    async def read_limited(request: Request, limit: int, name: str) -> bytes:
        cl = request.headers.get("content-length")
        if cl is not None and not (cl.isascii() and cl.isdigit()):
            raise Problem("about:blank", "Content-Length must be a non-negative integer")
        if cl is not None and int(cl) > limit:
            raise limit_problem(
                name,
                f"the body is larger than {name} ({limit} bytes)",
                413 if name == "maxSizeUpload" else 400,
            )
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    break
        except ClientDisconnect:  # gone mid-body (e.g. the server is shutting down)
            raise Problem("about:blank", "the client went away") from None
        if len(body) > limit:
            raise limit_problem(
                name,
                f"the body is larger than {name} ({limit} bytes)",
                413 if name == "maxSizeUpload" else 400,
            )
        return bytes(body)

    async def session(request: Request) -> Response:
        user = auth(request)
        if user is None:
            return unauthorized()
        base = base_url(request)
        state = server.engine.session_state(user)
        body = session_resource(core, user, base, state, session_capabilities(base))
        return _json(body, headers={"Cache-Control": "no-cache, no-store"})

    async def api(request: Request) -> Response:
        user = auth(request)
        if user is None:
            return unauthorized()
        try:
            ctype = request.headers.get("content-type")
            if ctype is not None and ctype.split(";")[0].strip().lower() not in (
                "application/json",
                "text/json",
            ):
                raise Problem(ERROR_NOT_JSON, "Content-Type must be application/json")
            with slots.take("api", user, limits.max_concurrent_requests, "maxConcurrentRequests"):
                body = await read_limited(request, limits.max_size_request, "maxSizeRequest")
                # off the event loop: one slow request must not stall every user
                result = await anyio.to_thread.run_sync(server.engine.handle_bytes, user, body)
        except Problem as p:
            return _problem(p)
        return Response(result, media_type="application/json")

    async def upload(request: Request) -> Response:
        user = auth(request)
        if user is None:
            return unauthorized()
        acc = request.path_params["accountId"]
        if acc != core.accounts[user]:
            return _plain_problem(404, "no such account")
        ctype = request.headers.get("content-type") or "application/octet-stream"
        ctype = ctype.split(";")[0].strip() or "application/octet-stream"
        try:
            with slots.take("upload", user, limits.max_concurrent_upload, "maxConcurrentUpload"):
                data = await read_limited(request, limits.max_size_upload, "maxSizeUpload")
        except Problem as p:
            return _problem(p)
        sha = hashlib.sha256(data).hexdigest()
        blob_id = "B" + sha[:48]

        def store_blob() -> None:
            with core.store.transaction():
                core.store.put_blob(blob_id, ctype, data, sha, now_utc())
                core.store.grant_blob(acc, blob_id)

        # the store's lock may be held by a writer thread: never wait for it on the loop
        await anyio.to_thread.run_sync(store_blob)
        return _json(
            {"accountId": acc, "blobId": blob_id, "type": ctype, "size": len(data), "sha256": sha},
            status=201,
        )

    async def download(request: Request) -> Response:
        user = auth(request)
        if user is None:
            return unauthorized()
        acc = request.path_params["accountId"]
        if acc != core.accounts[user]:
            return _plain_problem(404, "no such account")
        blob_id = request.path_params["blobId"]

        def load() -> tuple[tuple[str, int, str] | None, bytes | None]:
            meta = core.store.blob_meta(acc, blob_id)
            return meta, core.store.blob_data(blob_id) if meta else None

        meta, data = await anyio.to_thread.run_sync(load)  # off the loop, like the API
        if meta is None or data is None:
            return _plain_problem(404, "no such blob")
        wanted = request.query_params.get("type") or meta[0]
        if not _MIME_RE.match(wanted):
            wanted = "application/octet-stream"
        name = request.path_params["name"]
        fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", name) or "download"
        disposition = (
            f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
        )
        return Response(
            data,
            media_type=wanted,
            headers={
                "Content-Disposition": disposition,
                "Cache-Control": "private, immutable, max-age=31536000",
            },
        )

    async def eventsource(request: Request) -> Response:
        user = auth(request)
        if user is None:
            return unauthorized()
        q = request.query_params
        types_raw = q.get("types", "*") or "*"
        closeafter = q.get("closeafter", "no") or "no"
        ping_raw = q.get("ping", "0") or "0"
        # isascii: "²".isdigit() is True but int("²") fails; "٣" would parse as 3
        if (
            closeafter not in ("state", "no")
            or not (ping_raw.isascii() and ping_raw.isdigit())
            or len(ping_raw) > 16
            or int(ping_raw) > 2**53 - 1
        ):
            return _plain_problem(
                400, "closeafter must be state|no and ping an UnsignedInt (ASCII digits)"
            )
        ping = int(ping_raw)
        if ping:
            ping = min(max(ping, 1), 3600)
        wanted = (
            list(PUSH_TYPES)
            if types_raw == "*"
            else [t for t in types_raw.split(",") if t in PUSH_TYPES]
        )
        acc = core.accounts[user]
        last_event_id = request.headers.get("last-event-id")
        stream = _event_stream(server, acc, wanted, closeafter == "state", ping, last_event_id)
        # Subscribe before the response head goes out: a client that saw the head and then
        # changes something must hear about it.
        first = await stream.__anext__()

        async def body() -> AsyncIterator[bytes]:
            try:
                yield first
                async for chunk in stream:
                    yield chunk
            finally:
                await stream.aclose()

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _plain_problem(status, "not found" if status == 404 else "method not allowed")

    routes = [
        Route("/.well-known/jmap", session, methods=["GET"]),
        Route("/jmap/session", session, methods=["GET"]),
        Route("/jmap/api/", api, methods=["POST"]),
        Route("/jmap/api", api, methods=["POST"]),
        Route("/jmap/upload/{accountId}/", upload, methods=["POST"]),
        Route("/jmap/upload/{accountId}", upload, methods=["POST"]),
        Route("/jmap/download/{accountId}/{blobId}/{name}", download, methods=["GET"]),
        Route("/jmap/eventsource/", eventsource, methods=["GET"]),
        Route("/jmap/eventsource", eventsource, methods=["GET"]),
        WebSocketRoute(WS_PATH, websocket_endpoint(server, auth_token)),
        WebSocketRoute(WS_PATH.rstrip("/"), websocket_endpoint(server, auth_token)),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})


def _sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    out = f"event: {event}\n"
    if event_id is not None:
        out += f"id: {event_id}\n"
    return out.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


async def _event_stream(
    server: ChatServer,
    acc: str,
    types: list[str],
    close_after_state: bool,
    ping: int,
    last_event_id: str | None,
) -> AsyncGenerator[bytes, None]:
    hub = server.core.hub
    sub = hub.subscribe(acc)
    try:
        current = await anyio.to_thread.run_sync(states, server.core, acc, types)
        if last_event_id:
            prev = parse_states(last_event_id)
            changed = {t: s for t, s in current.items() if prev.get(t) != s}
            if changed:
                yield _sse(
                    "state",
                    {"@type": "StateChange", "changed": {acc: changed}},
                    encode_states(current),
                )
                if close_after_state:
                    return
        # An id-only message: a client that drops before the first state event can still
        # resume with Last-Event-ID and learn what changed meanwhile (RFC 8620 §7.3).
        yield f": connected\nid: {encode_states(current)}\n\n".encode()
        next_ping = time.monotonic() + ping if ping else None
        presence = PresenceLimiter(server.core.presence_interval)
        while True:
            timeout = max(0.0, next_ping - time.monotonic()) if next_ping is not None else 30.0
            held = presence.next_due()
            await sub.wait(timeout if held is None else min(timeout, held))
            if sub.closed:
                return
            if sub.dirty:
                sub.dirty = False
                new = await anyio.to_thread.run_sync(states, server.core, acc, types)
                changed = {t: s for t, s in new.items() if current.get(t) != s}
                current = new
                if changed:
                    yield _sse(
                        "state",
                        {"@type": "StateChange", "changed": {acc: changed}},
                        encode_states(current),
                    )
                    if next_ping is not None:
                        next_ping = time.monotonic() + ping
                    if close_after_state:
                        return
            while sub.queue:
                event, data = sub.queue.popleft()
                # Authorization is re-checked at delivery (wss draft §Security, 8.2–8.4).
                if event == "typing" and not typing_allowed(server.core, acc, data):
                    continue
                if event == "presence" and (
                    not presence_allowed(server.core, acc, data) or not presence.offer(data)
                ):
                    continue  # not for this account, or held by the rate limit
                yield _sse(event, data)
            for data in presence.due():
                if presence_allowed(server.core, acc, data):
                    yield _sse("presence", data)
            if next_ping is not None and time.monotonic() >= next_ping:
                yield _sse("ping", {"interval": ping})
                next_ping = time.monotonic() + ping
            await anyio.lowlevel.checkpoint()
    finally:
        hub.unsubscribe(sub)
