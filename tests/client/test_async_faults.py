"""AsyncClient under faults: resets before/after the request is written, 503/429 retries,
cancellation, session refetch, authentication and problem details, concurrency cap.

Faults the server cannot produce are injected by a transport wrapper around the real
server (in-process or loopback); everything else is the real server answering."""

from __future__ import annotations

import json
import logging

import anyio
import httpx
import pytest

import jmapchat
from jmapchat import RetryPolicy
from jmapchat._core import EchoResponse
from jmapchat.models import MessageCreate, MessageFilter
from jmapchat.server import ChatServer

from ._wire import Log, MakeClient, message_state, new_chat, once

pytestmark = pytest.mark.anyio


def reset_before(request: httpx.Request) -> Exception:
    return httpx.ConnectError("[Errno 104] Connection reset by peer", request=request)


async def count_messages(client: jmapchat.AsyncClient, chat_id: str) -> int:
    res = await client.message.query(filter=MessageFilter(chat_id=chat_id), calculate_total=True)
    assert res.total is not None
    return res.total


# --- connection resets -------------------------------------------------------------------------


async def test_reset_before_request_is_written_is_retried(
    make_client: MakeClient, server: ChatServer, wire: Log
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, server)
        wire.before.append(once(reset_before))
        wire.reset()
        req = client.request()
        sent = req.message.set(create={"m": MessageCreate(chat_id=chat_id, body="once")})
        await client.send(req)
        assert wire.api == 2  # the failed attempt and the retry
        assert sent.result.created is not None
        assert await count_messages(client, chat_id) == 1


async def test_reset_after_request_is_written_is_not_blindly_retried(
    make_client: MakeClient, server: ChatServer, wire: Log
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, server)
        hit = False

        def reset_after(
            request: httpx.Request, response: httpx.Response, body: bytes
        ) -> Exception | None:
            nonlocal hit
            if "/api" in request.url.path and not hit:
                hit = True
                return httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
            return None

        wire.after.append(reset_after)
        wire.reset()
        req = client.request()
        sent = req.message.set(create={"m": MessageCreate(chat_id=chat_id, body="once")})
        with pytest.raises(jmapchat.ReadError) as info:
            await client.send(req)
        assert info.value.sent is True
        assert any("not retried" in n for n in getattr(info.value, "__notes__", []))
        assert wire.api == 1
        # The call has no result of its own: its outcome is the request's error.
        assert sent.error is info.value
        # The server did run it, exactly once; the client is still usable.
        assert await count_messages(client, chat_id) == 1


async def test_reset_after_write_is_retried_for_read_only_requests(
    make_client: MakeClient, wire: Log
) -> None:
    async with make_client() as client:
        hit = False

        def reset_after(
            request: httpx.Request, response: httpx.Response, body: bytes
        ) -> Exception | None:
            nonlocal hit
            if "/api" in request.url.path and not hit:
                hit = True
                return httpx.ReadError("connection reset", request=request)
            return None

        wire.after.append(reset_after)
        wire.reset()
        echo = await client.core.echo({"x": 1})
        assert echo.model_extra == {"x": 1}
        assert wire.api == 2


async def test_guarded_set_is_retried_and_never_applied_twice(
    make_client: MakeClient, server: ChatServer, wire: Log
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, server)
        state = await message_state(client)
        hit = False

        def reset_after(
            request: httpx.Request, response: httpx.Response, body: bytes
        ) -> Exception | None:
            nonlocal hit
            if "/api" in request.url.path and not hit:
                hit = True
                return httpx.ReadError("connection reset", request=request)
            return None

        wire.after.append(reset_after)
        wire.reset()
        req = client.request()
        sent = req.message.set(
            create={"m": MessageCreate(chat_id=chat_id, body="guarded")}, if_in_state=state
        )
        await client.send(req)
        assert wire.api == 2  # resent: ifInState makes it safe...
        with pytest.raises(jmapchat.StateMismatch):  # ...the replay is refused, not re-applied
            sent.result  # noqa: B018
        assert await count_messages(client, chat_id) == 1


# --- HTTP-level retries ----------------------------------------------------------------------


async def test_503_is_retried(make_client: MakeClient, server: ChatServer, wire: Log) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, server)
        wire.before.append(once(lambda r: httpx.Response(503, text="busy")))
        wire.reset()
        res = await client.message.set(create={"m": MessageCreate(chat_id=chat_id, body="x")})
        assert res.created is not None
        assert wire.api == 2
        assert await count_messages(client, chat_id) == 1


async def test_429_with_retry_after_is_retried(make_client: MakeClient, wire: Log) -> None:
    async with make_client() as client:
        wire.before.append(once(lambda r: httpx.Response(429, headers={"Retry-After": "0"})))
        wire.reset()
        await client.core.echo({})
        assert wire.api == 2


async def test_429_with_long_retry_after_raises_rate_limited(
    make_client: MakeClient, wire: Log
) -> None:
    async with make_client() as client:
        wire.before.append(once(lambda r: httpx.Response(429, headers={"Retry-After": "120"})))
        wire.reset()
        with pytest.raises(jmapchat.RateLimited) as info:
            await client.core.echo({})
        assert info.value.retry_after == 120
        assert wire.api == 1


async def test_no_retries_when_disabled(make_client: MakeClient, wire: Log) -> None:
    async with make_client(retries=0) as client:
        wire.before.append(once(lambda r: httpx.Response(503, text="busy")))
        with pytest.raises(jmapchat.HTTPStatusError) as info:
            await client.core.echo({})
        assert info.value.status_code == 503


# --- cancellation ----------------------------------------------------------------------------


class Stall(httpx.AsyncBaseTransport):
    """Lets the server answer the first API request, then stalls until cancelled."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.entered: anyio.Event | None = None
        self.stalled = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "/api" in request.url.path and self.stalled == 0:
            self.stalled += 1
            assert self.entered is not None
            self.entered.set()
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await response.aclose()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_cancelling_send_mid_flight_leaves_client_usable(
    make_client: MakeClient, server: ChatServer
) -> None:
    stall: Stall | None = None

    def wrap(t: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        nonlocal stall
        stall = Stall(t)
        return stall

    async with make_client(wrap=wrap) as client:
        assert stall is not None
        stall.entered = anyio.Event()
        req = client.request()
        req.core.echo({"n": 1})
        scope = anyio.CancelScope()

        async def victim() -> None:
            with scope:
                await client.send(req)

        async with anyio.create_task_group() as tg:
            tg.start_soon(victim)
            await stall.entered.wait()
            scope.cancel()
        assert scope.cancelled_caught
        assert client._limiter is not None
        assert client._limiter.borrowed_tokens == 0
        # Usable again, for several sends.
        for i in range(3):
            assert (await client.core.echo({"i": i})).model_extra == {"i": i}
        chat_id = await new_chat(client, server)
        assert chat_id


# --- session ---------------------------------------------------------------------------------


def flip_session_state(wire: Log, times: int = 1) -> None:
    left = times

    def hook(
        request: httpx.Request, response: httpx.Response, body: bytes
    ) -> httpx.Response | None:
        nonlocal left
        if "/api" not in request.url.path or left == 0:
            return None
        left -= 1
        doc = json.loads(body)
        doc["sessionState"] = "something-new"
        return httpx.Response(200, json=doc, request=request)

    wire.after.append(hook)


async def test_session_is_refetched_once_after_session_state_changes(
    make_client: MakeClient, wire: Log
) -> None:
    async with make_client() as client:
        flip_session_state(wire)
        await client.core.echo({})
        wire.reset()
        await client.core.echo({})
        assert [m for m, _ in wire.requests] == ["GET", "POST"]  # refetch, then send
        wire.reset()
        await client.core.echo({})
        assert [m for m, _ in wire.requests] == ["POST"]


async def test_session_refetch_is_single_flight(make_client: MakeClient, wire: Log) -> None:
    async with make_client() as client:
        flip_session_state(wire)
        await client.core.echo({})
        wire.reset()
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(client.core.echo, {"i": i})
        assert wire.session_gets == 1
        assert wire.api == 6


async def test_session_discovery_follows_redirects_and_resolves_relative_urls(
    server: ChatServer, wire: Log
) -> None:
    inner = httpx.ASGITransport(app=server.app)

    def redirect(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/.well-known/jmap":
            return httpx.Response(307, headers={"Location": "/jmap/session"})
        return None

    from ._wire import AsyncWire

    wire.before.append(redirect)
    async with jmapchat.AsyncClient.connect(
        "http://testserver", token=server.tokens["alice"], transport=AsyncWire(inner, wire)
    ) as client:
        assert wire.requests[:2] == [("GET", "/.well-known/jmap"), ("GET", "/jmap/session")]
        assert client.session.api_url.startswith("http://testserver/")
        assert client.account_id == server.account_ids["alice"]


async def test_explicit_session_url(server: ChatServer, wire: Log) -> None:
    from ._wire import AsyncWire

    async with jmapchat.AsyncClient.connect(
        session_url="http://testserver/jmap/session",
        token=server.tokens["bob"],
        transport=AsyncWire(httpx.ASGITransport(app=server.app), wire),
    ) as client:
        assert wire.requests == [("GET", "/jmap/session")]
        assert client.account_id == server.account_ids["bob"]


# --- request-level errors --------------------------------------------------------------------


async def test_401_is_authentication_error_without_the_token(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-secret-token-123"
    caplog.set_level(logging.DEBUG, logger="jmapchat")
    client = make_client(token=secret)
    assert secret not in repr(client)
    with pytest.raises(jmapchat.AuthenticationError) as info:
        async with client:
            pass
    assert info.value.status_code == 401
    assert secret not in str(info.value)
    assert all(secret not in r.getMessage() for r in caplog.records)


async def test_problem_details_become_typed_errors(
    make_client: MakeClient, server: ChatServer, wire: Log
) -> None:
    # Make the client believe in a larger maxCallsInRequest than the server enforces,
    # so the real server answers with urn:ietf:params:jmap:error:limit.
    def lie(request: httpx.Request, response: httpx.Response, body: bytes) -> httpx.Response | None:
        if request.method != "GET":
            return None
        doc = json.loads(body)
        doc["capabilities"]["urn:ietf:params:jmap:core"]["maxCallsInRequest"] = 100
        return httpx.Response(200, json=doc, request=request)

    wire.after.append(lie)
    async with make_client() as client:
        req = client.request()
        for i in range(6):
            req.core.echo({"i": i})
        with pytest.raises(jmapchat.LimitExceeded) as info:
            await client.send(req)
        assert info.value.limit == "maxCallsInRequest"
        assert info.value.status == 400


async def test_capability_the_server_lacks_fails_before_sending(
    make_client: MakeClient, wire: Log
) -> None:
    async with make_client() as client:
        req = client.request()
        req.invoke("Foo/bar", {}, using=["urn:example:unknown"], response=EchoResponse)
        wire.reset()
        with pytest.raises(jmapchat.CapabilityNotSupported):
            await client.send(req)
        assert wire.requests == []


async def test_method_errors_are_per_call(make_client: MakeClient, wire: Log) -> None:
    async with make_client() as client:
        req = client.request()
        bad = req.message.changes(since_state="no-such-state")
        ok = req.core.echo({"still": "runs"})
        await client.send(req)
        assert isinstance(bad.error, jmapchat.MethodError)
        assert ok.result.model_extra == {"still": "runs"}


# --- concurrency -----------------------------------------------------------------------------


class Gauge(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.inflight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            for _ in range(5):
                await anyio.lowlevel.checkpoint()
            return await self.inner.handle_async_request(request)
        finally:
            self.inflight -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_max_concurrent_requests_is_respected(make_client: MakeClient) -> None:
    gauge: Gauge | None = None

    def wrap(t: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        nonlocal gauge
        gauge = Gauge(t)
        return gauge

    async with make_client(wrap=wrap) as client:
        assert client.session.core.max_concurrent_requests == 4
        results: list[int] = []

        async def one(i: int) -> None:
            res = await client.core.echo({"i": i})
            results.append(res.model_extra["i"] if res.model_extra else -1)

        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(one, i)
        assert sorted(results) == list(range(16))
        assert gauge is not None
        assert 1 <= gauge.peak <= 4


async def test_retry_policy_object(make_client: MakeClient, wire: Log) -> None:
    policy = RetryPolicy(retries=5, backoff_base=0.0, jitter=False)
    async with make_client(retries=policy) as client:
        assert client.retry_policy is policy
        for _ in range(4):
            wire.before.append(once(lambda r: httpx.Response(503)))
        wire.reset()
        await client.core.echo({})
        assert wire.api == 5


# --- timeouts --------------------------------------------------------------------------------


async def test_timeouts_are_configurable_and_typed(
    make_client: MakeClient, server: ChatServer, wire: Log
) -> None:
    async with make_client(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
        assert client._http is not None
        assert client._http.timeout == httpx.Timeout(5.0, connect=2.0)
        chat_id = await new_chat(client, server)
        # A connect timeout: the request never left, so it is retried.
        wire.before.append(once(lambda r: httpx.ConnectTimeout("slow", request=r)))
        wire.reset()
        await client.core.echo({})
        assert wire.api == 2
        # A read timeout on a write: it may have run, so it is raised, typed, not resent.
        wire.before.append(once(lambda r: httpx.ReadTimeout("slow", request=r)))
        wire.reset()
        with pytest.raises(jmapchat.Timeout) as info:
            await client.message.set(create={"m": MessageCreate(chat_id=chat_id, body="t")})
        assert info.value.sent
        assert wire.api == 1


class RefusedFirst(httpx.AsyncBaseTransport):
    """The first API request really goes to a closed loopback port (ECONNREFUSED)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        import socket

        self.inner = inner
        self.refused = 0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.dead_port = s.getsockname()[1]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/api" in request.url.path and not self.refused:
            self.refused += 1
            dead = httpx.Request(
                request.method,
                request.url.copy_with(host="127.0.0.1", port=self.dead_port, scheme="http"),
                headers=request.headers,
                content=await request.aread(),
            )
            async with httpx.AsyncHTTPTransport() as real:
                return await real.handle_async_request(dead)  # raises httpx.ConnectError
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_real_refused_connection_is_retried(
    make_client: MakeClient, server: ChatServer, wire: Log
) -> None:
    refused: RefusedFirst | None = None

    def wrap(t: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        nonlocal refused
        refused = RefusedFirst(t)
        return refused

    async with make_client(wrap=wrap) as client:
        chat_id = await new_chat(client, server)  # first API request: refused, then retried
        assert refused is not None
        assert refused.refused == 1
        assert await count_messages(client, chat_id) == 0


class Tripwire(httpx.AsyncBaseTransport):
    """Signals when the Nth API request starts, then lets it run (cancel lands mid-I/O)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, nth: int) -> None:
        self.inner = inner
        self.nth = nth
        self.seen = 0
        self.tripped: anyio.Event | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/api" in request.url.path:
            self.seen += 1
            if self.seen == self.nth and self.tripped is not None:
                self.tripped.set()
                if isinstance(getattr(self.inner, "inner", None), httpx.ASGITransport):
                    # In-process, the app answers without ever yielding, so there is no
                    # moment to cancel in; hold the request here instead. Over a socket
                    # the cancellation lands in the real I/O.
                    await anyio.sleep_forever()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_cancelling_a_split_send_between_envelopes(
    make_client: MakeClient, server: ChatServer
) -> None:
    trip: Tripwire | None = None

    def wrap(t: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        nonlocal trip
        trip = Tripwire(t, nth=2)
        return trip

    async with make_client(wrap=wrap) as client:
        assert trip is not None
        chat_id = await new_chat(client, server)  # API request 1
        trip.seen = 1
        trip.tripped = anyio.Event()
        req = client.request()
        big = req.message.set(
            create={f"m{i}": MessageCreate(chat_id=chat_id, body=str(i)) for i in range(3000)}
        )
        tail = req.core.echo({"never": "sent"})
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.send, req)
                await trip.tripped.wait()  # the 1st of 2 envelopes is on the wire
                scope.cancel()
        assert scope.cancelled_caught
        # Neither call got a result; their outcome says the send was interrupted.
        for call in (big, tail):
            assert isinstance(call.error, jmapchat.TransportError)
            assert "interrupted" in str(call.error)
        assert client._limiter is not None
        assert client._limiter.borrowed_tokens == 0
        assert (await client.core.echo({"ok": True})).model_extra == {"ok": True}
        # Whatever reached the server is there once; nothing was sent twice.
        assert await count_messages(client, chat_id) in (0, 2000)
