"""Request-counting, fault-injecting httpx transports (async and sync) for the tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from jmapchat import AsyncClient, RetryPolicy
from jmapchat.models import ChatCreate
from jmapchat.server import ChatServer

# --- fault injection -----------------------------------------------------------------------

Fault = Callable[[httpx.Request], "httpx.Response | Exception | None"]
"""Before the request: return an exception to raise, a response to answer with, or None."""
After = Callable[[httpx.Request, httpx.Response, bytes], "httpx.Response | Exception | None"]
"""After the real server answered: replace the answer, raise, or None to pass it on."""


@dataclass
class Log:
    """What went over the wire: (method, path) of every request, and the API bodies."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    api_bodies: list[dict[str, Any]] = field(default_factory=list)
    before: list[Fault] = field(default_factory=list)
    after: list[After] = field(default_factory=list)

    @property
    def api(self) -> int:
        return sum(1 for m, p in self.requests if m == "POST" and "/api" in p)

    @property
    def session_gets(self) -> int:
        return sum(
            1 for m, p in self.requests if m == "GET" and "jmap" in p and "download" not in p
        )

    def reset(self) -> None:
        self.requests.clear()
        self.api_bodies.clear()

    def _record(self, request: httpx.Request, content: bytes | None) -> None:
        self.requests.append((request.method, request.url.path))
        if content is not None and request.method == "POST" and "/api" in request.url.path:
            self.api_bodies.append(json.loads(content))

    def _before(self, request: httpx.Request) -> httpx.Response | None:
        for fault in list(self.before):
            out = fault(request)
            if isinstance(out, Exception):
                raise out
            if isinstance(out, httpx.Response):
                return out
        return None

    def _after(
        self, request: httpx.Request, response: httpx.Response, body: bytes
    ) -> httpx.Response:
        for hook in list(self.after):
            out = hook(request, response, body)
            if isinstance(out, Exception):
                raise out
            if isinstance(out, httpx.Response):
                return out
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )


class AsyncWire(httpx.AsyncBaseTransport):
    """Wraps a real async transport: counts requests, injects faults before/after."""

    def __init__(self, inner: httpx.AsyncBaseTransport, log: Log) -> None:
        self.inner = inner
        self.log = log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        self.log._record(request, content)
        early = self.log._before(request)
        if early is not None:
            return early
        response = await self.inner.handle_async_request(request)
        if not self.log.after:
            return response
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return self.log._after(request, response, body)

    async def aclose(self) -> None:
        await self.inner.aclose()


class SyncWire(httpx.BaseTransport):
    """The blocking twin of `AsyncWire`."""

    def __init__(self, inner: httpx.BaseTransport, log: Log) -> None:
        self.inner = inner
        self.log = log

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        self.log._record(request, content)
        early = self.log._before(request)
        if early is not None:
            return early
        response = self.inner.handle_request(request)
        if not self.log.after:
            return response
        try:
            body = response.read()
        finally:
            response.close()
        return self.log._after(request, response, body)

    def close(self) -> None:
        self.inner.close()


# --- small helpers ---------------------------------------------------------------------------


def once(fn: Fault) -> Fault:
    """Apply ``fn`` to the first API request only."""
    done = False

    def fault(request: httpx.Request) -> httpx.Response | Exception | None:
        nonlocal done
        if done or "/api" not in request.url.path:
            return None
        done = True
        return fn(request)

    return fault


# --- client helpers -----------------------------------------------------------------------

FAST = RetryPolicy(retries=3, backoff_base=0.0, jitter=False)
"""Retries without waiting (tests never sleep on backoff)."""

MakeClient = Callable[..., AsyncClient]


async def new_chat(client: AsyncClient, server: ChatServer) -> str:
    res = await client.chat.set(
        create={"c": ChatCreate.direct(contact_id=server.contact_ids["bob"])}
    )
    assert res.created is not None
    return res.created["c"].id


async def message_state(client: AsyncClient) -> str:
    return (await client.message.get(ids=[])).state
