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
from jmapchat.testing import (
    AsyncClientFactory,
    AsyncFaultTransport,
    Fault,
    Wire,
    delay,
    drop,
    hang,
    rate_limited,
    refuse_connection,
    reset_after_send,
    reset_before_send,
    session_state_changed,
    status,
    unavailable,
)

from ._chat import message_state, new_chat

pytestmark = pytest.mark.anyio


async def count_messages(client: jmapchat.AsyncClient, chat_id: str) -> int:
    res = await client.message.query(filter=MessageFilter(chat_id=chat_id), calculate_total=True)
    assert res.total is not None
    return res.total


# --- connection resets -------------------------------------------------------------------------


async def test_reset_before_request_is_written_is_retried(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)
        jmap_wire.inject(reset_before_send())
        jmap_wire.reset()
        req = client.request()
        sent = req.message.set(create={"m": MessageCreate(chat_id=chat_id, body="once")})
        await client.send(req)
        assert jmap_wire.api == 2  # the failed attempt and the retry
        assert sent.result.created is not None
        assert await count_messages(client, chat_id) == 1


async def test_reset_after_request_is_written_is_not_blindly_retried(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)
        jmap_wire.inject(reset_after_send())
        jmap_wire.reset()
        req = client.request()
        sent = req.message.set(create={"m": MessageCreate(chat_id=chat_id, body="once")})
        with pytest.raises(jmapchat.ReadError) as info:
            await client.send(req)
        assert info.value.sent is True
        assert any("not retried" in n for n in getattr(info.value, "__notes__", []))
        assert jmap_wire.api == 1
        # The call has no result of its own: its outcome is the request's error.
        assert sent.error is info.value
        # The server did run it, exactly once; the client is still usable.
        assert await count_messages(client, chat_id) == 1


async def test_reset_after_write_is_retried_for_read_only_requests(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        jmap_wire.inject(reset_after_send())
        jmap_wire.reset()
        echo = await client.core.echo({"x": 1})
        assert echo.model_extra == {"x": 1}
        assert jmap_wire.api == 2


async def test_guarded_set_is_retried_and_never_applied_twice(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)
        state = await message_state(client)
        jmap_wire.inject(reset_after_send())
        jmap_wire.reset()
        req = client.request()
        sent = req.message.set(
            create={"m": MessageCreate(chat_id=chat_id, body="guarded")}, if_in_state=state
        )
        await client.send(req)
        assert jmap_wire.api == 2  # resent: ifInState makes it safe...
        with pytest.raises(jmapchat.StateMismatch):  # ...the replay is refused, not re-applied
            sent.result  # noqa: B018
        assert await count_messages(client, chat_id) == 1


# --- HTTP-level retries ----------------------------------------------------------------------


async def test_503_is_retried(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)
        jmap_wire.inject(unavailable())
        jmap_wire.reset()
        res = await client.message.set(create={"m": MessageCreate(chat_id=chat_id, body="x")})
        assert res.created is not None
        assert jmap_wire.api == 2
        assert await count_messages(client, chat_id) == 1


async def test_429_with_retry_after_is_retried(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        jmap_wire.inject(rate_limited(retry_after=0))
        jmap_wire.reset()
        await client.core.echo({})
        assert jmap_wire.api == 2


async def test_429_with_long_retry_after_raises_rate_limited(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        jmap_wire.inject(rate_limited(retry_after=120))
        jmap_wire.reset()
        with pytest.raises(jmapchat.RateLimited) as info:
            await client.core.echo({})
        assert info.value.retry_after == 120
        assert jmap_wire.api == 1


async def test_no_retries_when_disabled(make_client: AsyncClientFactory, jmap_wire: Wire) -> None:
    async with make_client(retries=0) as client:
        jmap_wire.inject(unavailable())
        with pytest.raises(jmapchat.HTTPStatusError) as info:
            await client.core.echo({})
        assert info.value.status_code == 503


# --- cancellation ----------------------------------------------------------------------------


async def test_cancelling_send_mid_flight_leaves_client_usable(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    # The server answers the first API request, then its answer stalls until cancelled.
    async with make_client() as client:
        stalled = jmap_wire.inject(hang(after_send=True))
        req = client.request()
        req.core.echo({"n": 1})
        scope = anyio.CancelScope()

        async def victim() -> None:
            with scope:
                await client.send(req)

        async with anyio.create_task_group() as tg:
            tg.start_soon(victim)
            await stalled.wait()
            scope.cancel()
        assert scope.cancelled_caught
        assert client._limiter is not None
        assert client._limiter.borrowed_tokens == 0
        # Usable again, for several sends.
        for i in range(3):
            assert (await client.core.echo({"i": i})).model_extra == {"i": i}
        chat_id = await new_chat(client, jmap_server)
        assert chat_id


# --- session ---------------------------------------------------------------------------------


async def test_session_is_refetched_once_after_session_state_changes(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        jmap_wire.inject(session_state_changed())
        await client.core.echo({})
        jmap_wire.reset()
        await client.core.echo({})
        assert [m for m, _ in jmap_wire.requests] == ["GET", "POST"]  # refetch, then send
        jmap_wire.reset()
        await client.core.echo({})
        assert [m for m, _ in jmap_wire.requests] == ["POST"]


async def test_session_refetch_is_single_flight(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        jmap_wire.inject(session_state_changed())
        await client.core.echo({})
        jmap_wire.reset()
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(client.core.echo, {"i": i})
        assert jmap_wire.session_gets == 1
        assert jmap_wire.api == 6


async def test_session_discovery_follows_redirects_and_resolves_relative_urls(
    jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    inner = httpx.ASGITransport(app=jmap_server.app)

    def redirect(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/.well-known/jmap":
            return httpx.Response(307, headers={"Location": "/jmap/session"})
        return None

    jmap_wire.before.append(redirect)
    async with jmapchat.AsyncClient.connect(
        "http://testserver",
        token=jmap_server.tokens["alice"],
        transport=AsyncFaultTransport(inner, jmap_wire),
    ) as client:
        assert jmap_wire.requests[:2] == [("GET", "/.well-known/jmap"), ("GET", "/jmap/session")]
        assert client.session.api_url.startswith("http://testserver/")
        assert client.account_id == jmap_server.account_ids["alice"]


async def test_explicit_session_url(jmap_server: ChatServer, jmap_wire: Wire) -> None:
    async with jmapchat.AsyncClient.connect(
        session_url="http://testserver/jmap/session",
        token=jmap_server.tokens["bob"],
        transport=AsyncFaultTransport(httpx.ASGITransport(app=jmap_server.app), jmap_wire),
    ) as client:
        assert jmap_wire.requests == [("GET", "/jmap/session")]
        assert client.account_id == jmap_server.account_ids["bob"]


# --- request-level errors --------------------------------------------------------------------


async def test_401_is_authentication_error_without_the_token(
    make_client: AsyncClientFactory, caplog: pytest.LogCaptureFixture
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
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    # Make the client believe in a larger maxCallsInRequest than the server enforces,
    # so the real server answers with urn:ietf:params:jmap:error:limit.
    def lie(request: httpx.Request, response: httpx.Response, body: bytes) -> httpx.Response | None:
        if request.method != "GET":
            return None
        doc = json.loads(body)
        doc["capabilities"]["urn:ietf:params:jmap:core"]["maxCallsInRequest"] = 100
        return httpx.Response(200, json=doc, request=request)

    jmap_wire.after.append(lie)
    async with make_client() as client:
        req = client.request()
        for i in range(6):
            req.core.echo({"i": i})
        with pytest.raises(jmapchat.LimitExceeded) as info:
            await client.send(req)
        assert info.value.limit == "maxCallsInRequest"
        assert info.value.status == 400


async def test_capability_the_server_lacks_fails_before_sending(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        req = client.request()
        req.invoke("Foo/bar", {}, using=["urn:example:unknown"], response=EchoResponse)
        jmap_wire.reset()
        with pytest.raises(jmapchat.CapabilityNotSupported):
            await client.send(req)
        assert jmap_wire.requests == []


async def test_method_errors_are_per_call(make_client: AsyncClientFactory, jmap_wire: Wire) -> None:
    async with make_client() as client:
        req = client.request()
        bad = req.message.changes(since_state="no-such-state")
        ok = req.core.echo({"still": "runs"})
        await client.send(req)
        assert isinstance(bad.error, jmapchat.MethodError)
        assert ok.result.model_extra == {"still": "runs"}


# --- concurrency -----------------------------------------------------------------------------


async def test_max_concurrent_requests_is_respected(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    # Every request pauses on its way, so concurrent sends overlap in the transport.
    async with make_client() as client:
        jmap_wire.inject(delay(0.001), times=None)
        assert client.session.core.max_concurrent_requests == 4
        results: list[int] = []

        async def one(i: int) -> None:
            res = await client.core.echo({"i": i})
            results.append(res.model_extra["i"] if res.model_extra else -1)

        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(one, i)
        assert sorted(results) == list(range(16))
        assert 1 <= jmap_wire.peak_in_flight <= 4


async def test_retry_policy_object(make_client: AsyncClientFactory, jmap_wire: Wire) -> None:
    policy = RetryPolicy(retries=5, backoff_base=0.0, jitter=False)
    async with make_client(retries=policy) as client:
        assert client.retry_policy is policy
        jmap_wire.inject(status(503), times=4)
        jmap_wire.reset()
        await client.core.echo({})
        assert jmap_wire.api == 5


# --- timeouts --------------------------------------------------------------------------------


async def test_timeouts_are_configurable_and_typed(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
        assert client._http is not None
        assert client._http.timeout == httpx.Timeout(5.0, connect=2.0)
        chat_id = await new_chat(client, jmap_server)
        # A connect timeout: the request never left, so it is retried.
        jmap_wire.inject(
            Fault("connect timeout", before=lambda r: httpx.ConnectTimeout("slow", request=r))
        )
        jmap_wire.reset()
        await client.core.echo({})
        assert jmap_wire.api == 2
        # A read timeout on a write: it may have run, so it is raised, typed, not resent.
        jmap_wire.inject(drop())
        jmap_wire.reset()
        with pytest.raises(jmapchat.Timeout) as info:
            await client.message.set(create={"m": MessageCreate(chat_id=chat_id, body="t")})
        assert info.value.sent
        assert jmap_wire.api == 1


async def test_real_refused_connection_is_retried(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    # The first API request really goes to a closed loopback port (ECONNREFUSED).
    refused = jmap_wire.inject(refuse_connection())
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)  # first API request: refused, then retried
        assert refused.hits == 1
        assert await count_messages(client, chat_id) == 0


async def test_cancelling_a_split_send_between_envelopes(
    make_client: AsyncClientFactory,
    jmap_server: ChatServer,
    jmap_wire: Wire,
    request: pytest.FixtureRequest,
) -> None:
    in_process = request.node.callspec.params["make_client"] == "asgi"
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)  # API request 1
        # Signal when the next API request starts. In-process, the app answers without
        # ever yielding, so there is no moment to cancel in: hold the request there.
        # Over a socket the cancellation lands in the real I/O.
        trip = jmap_wire.inject(hang() if in_process else delay(0))
        req = client.request()
        big = req.message.set(
            create={f"m{i}": MessageCreate(chat_id=chat_id, body=str(i)) for i in range(3000)}
        )
        tail = req.core.echo({"never": "sent"})
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.send, req)
                await trip.wait()  # the 1st of 2 envelopes is on the wire
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
