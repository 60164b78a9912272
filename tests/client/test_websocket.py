"""``connect(..., websocket=True)``: requests and events over the session's JMAP WebSocket
(RFC 8887 + chat-wss), end to end on a real loopback socket: asyncio, trio and the
blocking client against the reference server, and a scripted server for the failure paths
(malformed, oversized and unknown frames, RequestError, a socket closed mid-request)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from jmapchat import (
    AsyncClient,
    AuthenticationError,
    CapabilityNotSupported,
    Client,
    RemoteProtocolError,
    TransportError,
)
from jmapchat._core import WEBSOCKET, Backoff, LimitExceeded, NotJSON, SetResponse
from jmapchat.models import ChatCreate, MessageCreate, StateChange, TypingEvent
from jmapchat.server import ChatServer, ServerLimits, serve_in_thread

from ._fake_ws import Conn, FakeServer
from ._live import LiveServer
from .test_events import message_state

FAST = Backoff(initial=0.05, cap=0.5)
LIMIT = 60.0


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serve an app on loopback until the test ends (torn down outside the event loop)."""
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serve_in_thread(app, port=0))


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path / "chat.sqlite")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


# --- the reference server ---------------------------------------------------------------


@pytest.mark.anyio
async def test_send_goes_over_the_socket_and_split_requests_pipeline(
    serve: Callable[[Any], str],
) -> None:
    limits = ServerLimits(max_calls_in_request=2, max_objects_in_set=50, max_concurrent_requests=3)
    with ChatServer(db=":memory:", users=["alice", "bob"], limits=limits) as server:
        base = serve(server)
        async with AsyncClient.connect(base, token=server.tokens["alice"], websocket=True) as c:
            assert c._socket is not None
            echoed = await c.call(lambda r: r.core.echo({"hello": "socket"}))
            assert echoed.model_extra == {"hello": "socket"}
            req = c.request()
            chat = req.chat.set(create={"c": ChatCreate.direct(server.contact_ids["bob"])})
            # 7 echo calls, then 230 creates chunked by 50, each referring to the chat
            # created in the first envelope: 2 calls per envelope, 3 envelopes in flight.
            echoes = [req.core.echo({"i": i}) for i in range(7)]
            msgs = req.message.set(
                create={
                    f"m{i}": MessageCreate(chat_id=chat.created_id("c"), body=f"#{i}")
                    for i in range(230)
                }
            )
            await c.send(req)
            assert [e.result.model_extra for e in echoes] == [{"i": i} for i in range(7)]
            assert len(msgs.result.created) == 230
            assert not msgs.result.not_created
            got = await c.call(
                lambda r: r.message.query(
                    filter={"chatId": chat.result.created["c"].id}, calculate_total=True
                )
            )
            assert got.total == 230


@pytest.mark.anyio
async def test_events_over_the_socket_survive_a_restart(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = live.direct_chat("bob", "alice")
    token = live.tokens["alice"]

    bob_token = live.tokens["bob"]  # (a restarted server lists only tokens it made)

    async def bob_says(text: str) -> None:
        # Through the served app (the engine called from this thread would not wake the
        # server's pump task, which lives on the server's own event loop).
        async with AsyncClient.connect(live.base, token=bob_token) as bob:
            await bob.call(
                lambda r: r.message.set(create={"m": MessageCreate(chat_id=chat, body=text)})
            )

    async with AsyncClient.connect(live.base, token=token, websocket=True) as alice:
        acc = alice.account_id
        async with alice.events(["Message"], typing=True, backoff=FAST) as events:

            async def next_state(after: str | None) -> str:
                with anyio.fail_after(LIMIT):
                    async for event in events:
                        state = message_state(event, acc)
                        if state is not None and state != after:
                            return state
                raise AssertionError("the stream ended")

            await bob_says("one")
            first = await next_state(None)
            async with AsyncClient.connect(live.base, token=bob_token) as bob:
                await bob.call(lambda r: r.chat.typing(chat_id=chat, typing=True))
            with anyio.fail_after(LIMIT):
                typing = await events.__anext__()
            assert isinstance(typing, TypingEvent)
            assert typing.sender_id == "bob"
            await anyio.to_thread.run_sync(live.stop)
            live.send("bob", chat, "while you were away")  # the server is down
            await anyio.to_thread.run_sync(live.start)
            caught_up = await next_state(first)  # pushState resumed on the new socket
            await bob_says("after the restart")
            latest = await next_state(caught_up)
            # requests still work on the new connection
            assert (await alice.call(lambda r: r.core.echo({"a": 1}))).model_extra == {"a": 1}
        assert len({first, caught_up, latest}) == 3
        assert token not in repr(alice)
    assert all(token not in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_several_events_listeners_share_one_socket(live: LiveServer) -> None:
    """Two ``events()`` at once on one WebSocket client: each gets what it asked for
    (StateChanges narrowed to its types, typing only where asked); leaving one narrows
    the socket's subscriptions and the other goes on."""
    chat = live.direct_chat("bob", "alice")
    bob_token = live.tokens["bob"]

    async def bob(step: Callable[[Any], Any]) -> None:
        async with AsyncClient.connect(live.base, token=bob_token) as client:
            await client.call(step)

    async def next_of(events: Any, kind: type, pred: Callable[[Any], bool] = bool) -> Any:
        with anyio.fail_after(LIMIT):
            async for event in events:
                if isinstance(event, kind) and pred(event):
                    return event
        raise AssertionError("the stream ended")

    async with AsyncClient.connect(live.base, token=live.tokens["alice"], websocket=True) as a:
        acc = a.account_id
        assert a._socket is not None
        channel = a._socket.channel
        async with a.events(["Message"], backoff=FAST) as messages:
            async with a.events(None, typing=True, backoff=FAST) as everything:
                assert channel.push_types is None
                assert channel.stream == ("typing",)
                await bob(
                    lambda r: r.message.set(create={"m": MessageCreate(chat_id=chat, body="1")})
                )
                first = await next_of(messages, StateChange)
                assert set(first.changed[acc]) == {"Message"}  # narrowed to its types
                wide = await next_of(everything, StateChange, lambda e: "Message" in e.changed[acc])
                assert wide.changed[acc]["Message"] == first.changed[acc]["Message"]
                await bob(lambda r: r.chat.typing(chat_id=chat, typing=True))
                typing = await next_of(everything, TypingEvent)
                assert typing.sender_id == "bob"
            assert channel.push_types == ["Message"]
            assert channel.stream == ()
            await bob(lambda r: r.message.set(create={"m": MessageCreate(chat_id=chat, body="2")}))
            with anyio.fail_after(LIMIT):
                after = await messages.__anext__()  # the typing event never reached it
            assert isinstance(after, StateChange)
            assert after.changed[acc]["Message"] != first.changed[acc]["Message"]
        assert not channel.push_on
        assert (await a.call(lambda r: r.core.echo({"still": 1}))).model_extra == {"still": 1}


def test_blocking_client_listeners_share_one_socket(live: LiveServer) -> None:
    chat = live.direct_chat("bob", "alice")
    with Client.connect(live.base, token=live.tokens["alice"], websocket=True) as alice:
        acc = alice.account_id
        with (
            alice.events(["Message"], close_after_state=True, backoff=FAST) as one,
            alice.events(["Message"], close_after_state=True, backoff=FAST) as two,
        ):
            with Client.connect(live.base, token=live.tokens["bob"]) as bob:
                bob.call(
                    lambda r: r.message.set(create={"m": MessageCreate(chat_id=chat, body="x")})
                )
            got_one = list(one)  # close_after_state: ends after its first StateChange
            got_two = list(two)
        assert len(got_one) == 1
        assert len(got_two) == 1
        assert message_state(got_one[0], acc) is not None
        assert message_state(got_one[0], acc) == message_state(got_two[0], acc)


def test_blocking_client_over_the_socket(live: LiveServer) -> None:
    chat = live.direct_chat("bob", "alice")
    with Client.connect(live.base, token=live.tokens["alice"], websocket=True) as alice:
        acc = alice.account_id
        assert alice.call(lambda r: r.core.echo({"x": 1})).model_extra == {"x": 1}
        req = alice.request()
        m = req.message.set(
            create={f"k{i}": MessageCreate(chat_id=chat, body=str(i)) for i in range(5)}
        )
        alice.send(req)
        assert len(m.result.created) == 5

        bob_token = live.tokens["bob"]

        def bob_says(text: str) -> None:
            with Client.connect(live.base, token=bob_token) as bob:
                bob.call(
                    lambda r: r.message.set(create={"m": MessageCreate(chat_id=chat, body=text)})
                )

        with alice.events(["Message"], backoff=FAST) as events:
            bob_says("hello")
            for event in events:
                if message_state(event, acc) is not None:
                    break
            live.stop()
            live.start()
            bob_says("after restart")
            for event in events:
                if message_state(event, acc) is not None:
                    break
        assert alice.call(lambda r: r.core.echo({"y": 2})).model_extra == {"y": 2}


class _RelativeWebSocketUrl:
    """The reference server, its session advertising the WebSocket ``url`` relative
    ("/jmap/ws/") the way apiUrl & co. may be (RFC 8620 §2 resolves them all the same)."""

    def __init__(self, server: ChatServer) -> None:
        self._inner = server.app

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/.well-known/jmap":
            await self._inner(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = bytearray()

        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            doc = json.loads(body)
            assert doc["capabilities"][WEBSOCKET]["url"].startswith("ws://")
            doc["capabilities"][WEBSOCKET]["url"] = "/jmap/ws/"
            data = json.dumps(doc).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(data)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": data})

        await self._inner(scope, receive, rewrite)


@pytest.mark.anyio
async def test_a_relative_websocket_url_is_resolved_against_the_session_url(
    serve: Callable[[Any], str],
) -> None:
    with ChatServer(db=":memory:", users=["alice", "bob"]) as server:
        base = serve(_RelativeWebSocketUrl(server))
        async with httpx.AsyncClient() as raw:
            doc = (await raw.get(f"{base}/.well-known/jmap", headers=_bearer(server))).json()
        assert doc["capabilities"][WEBSOCKET]["url"] == "/jmap/ws/"  # what is served
        async with AsyncClient.connect(base, token=server.tokens["alice"], websocket=True) as c:
            ws_base = base.replace("http://", "ws://", 1)
            assert c.session.capabilities[WEBSOCKET]["url"] == f"{ws_base}/jmap/ws/"
            assert c._socket is not None
            assert c._socket.url == f"{base}/jmap/ws/"
            echoed = await c.call(lambda r: r.core.echo({"over": "the socket"}))
            assert echoed.model_extra == {"over": "the socket"}
            assert c._socket._current is not None  # the request really went over it


def _bearer(server: ChatServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.tokens['alice']}"}


@pytest.mark.anyio
async def test_no_websocket_capability_is_capability_not_supported(
    serve: Callable[[Any], str],
) -> None:
    fake = FakeServer(script=_echo, advertise_websocket=False)
    base = serve(fake)
    with pytest.raises(CapabilityNotSupported):
        async with AsyncClient.connect(base, token=fake.token, websocket=True):
            pass


@pytest.mark.anyio
async def test_an_in_process_transport_is_refused_not_misreported() -> None:
    with ChatServer(db=":memory:", users=["alice", "bob"]) as server:
        transport = httpx.ASGITransport(app=server.app)
        with pytest.raises(CapabilityNotSupported, match="in-process"):
            async with AsyncClient.connect(
                "http://testserver",
                token=server.tokens["alice"],
                transport=transport,
                websocket=True,
            ):
                pass


@pytest.mark.anyio
async def test_bad_credentials_at_the_handshake_raise_without_the_token(
    serve: Callable[[Any], str],
) -> None:
    token = "not-the-right-token-123"
    base = serve(FakeServer(script=_echo))
    with pytest.raises(AuthenticationError) as err:
        async with AsyncClient.connect(base, token=token, websocket=True):
            pass
    assert token not in str(err.value)
    assert token not in repr(err.value)


# --- the scripted server: failure paths ------------------------------------------------


async def _echo(conn: Conn, frame: dict[str, Any]) -> None:
    if frame.get("@type") == "Request":
        await conn.reply(frame)


@pytest.mark.anyio
async def test_unknown_types_and_stray_replies_are_skipped(serve: Callable[[Any], str]) -> None:
    async def script(conn: Conn, frame: dict[str, Any]) -> None:
        await conn.raw(json.dumps({"@type": "SomethingNew", "x": 1}))
        await conn.raw(
            json.dumps({"@type": "Response", "requestId": "nobody", "methodResponses": []})
        )
        await conn.raw(json.dumps({"@type": "StateChange", "changed": {}}))  # push is off
        await conn.reply(frame)

    fake = FakeServer(script=script)
    base = serve(fake)
    async with AsyncClient.connect(base, token=fake.token, websocket=True) as c:
        assert (await c.call(lambda r: r.core.echo({"a": 1}))).model_extra == {"a": 1}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "bad",
    ["this is not json", '["an", "array"]', '{"no": "type"}'],
)
async def test_malformed_frames_fail_the_request_with_a_typed_error(
    bad: str, serve: Callable[[Any], str]
) -> None:
    async def script(conn: Conn, frame: dict[str, Any]) -> None:
        if conn.index == 0:
            await conn.raw(bad)
        else:
            await conn.reply(frame)

    fake = FakeServer(script=script)
    base = serve(fake)
    async with AsyncClient.connect(base, token=fake.token, websocket=True) as c:
        with anyio.fail_after(LIMIT), pytest.raises(RemoteProtocolError):
            await c.call(lambda r: r.core.echo({"a": 1}))
        # the broken connection was closed; the next send opens a new one
        assert (await c.call(lambda r: r.core.echo({"b": 2}))).model_extra == {"b": 2}
    assert fake.connections == 2


@pytest.mark.anyio
async def test_oversized_frames_are_refused(serve: Callable[[Any], str]) -> None:
    async def script(conn: Conn, frame: dict[str, Any]) -> None:
        await conn.reply(frame, padding="x" * 5000)

    fake = FakeServer(script=script)
    base = serve(fake)
    async with AsyncClient.connect(base, token=fake.token, websocket=True) as c:
        assert c._socket is not None
        c._socket.channel.max_frame = 4096
        with anyio.fail_after(LIMIT), pytest.raises(RemoteProtocolError, match="over the"):
            await c.call(lambda r: r.core.echo({"a": 1}))


@pytest.mark.anyio
async def test_request_error_frames_map_to_the_http_errors(serve: Callable[[Any], str]) -> None:
    async def script(conn: Conn, frame: dict[str, Any]) -> None:
        problem: dict[str, Any]
        if frame["methodCalls"][0][1].get("kind") == "limit":
            problem = {"type": "urn:ietf:params:jmap:error:limit", "limit": "maxSizeRequest"}
        else:
            problem = {"type": "urn:ietf:params:jmap:error:notJSON", "status": 400}
        await conn.raw(json.dumps({"@type": "RequestError", "requestId": frame["id"], **problem}))

    fake = FakeServer(script=script)
    base = serve(fake)
    async with AsyncClient.connect(base, token=fake.token, websocket=True) as c:
        with pytest.raises(LimitExceeded) as err:
            await c.call(lambda r: r.core.echo({"kind": "limit"}))
        assert err.value.limit == "maxSizeRequest"
        with pytest.raises(NotJSON):
            await c.call(lambda r: r.core.echo({"kind": "json"}))


@pytest.mark.anyio
async def test_a_socket_closed_mid_request_retries_only_what_is_safe(
    serve: Callable[[Any], str],
) -> None:
    async def script(conn: Conn, frame: dict[str, Any]) -> None:
        if conn.index == 0 or frame["methodCalls"][0][0] == "Foo/set":
            await conn.close(1011)  # drop the request on the floor
        else:
            await conn.reply(frame)

    fake = FakeServer(script=script)
    base = serve(fake)
    async with AsyncClient.connect(base, token=fake.token, websocket=True, retries=2) as c:
        # Core/echo is read-only: resent on a new connection and answered there.
        with anyio.fail_after(LIMIT):
            assert (await c.call(lambda r: r.core.echo({"a": 1}))).model_extra == {"a": 1}
        assert fake.connections == 2
        # A change is not safe to send twice: the error says so, nothing is resent.
        req = c.request()
        req.invoke("Foo/set", {"accountId": "A", "create": {}}, response=SetResponse)
        with anyio.fail_after(LIMIT), pytest.raises(TransportError) as err:
            await c.send(req)
        assert err.value.sent
        assert any("not safe to send twice" in n for n in err.value.__notes__)
        assert sum(1 for f in fake.frames if f.get("@type") == "Request") == 3


@pytest.mark.anyio
async def test_close_1008_is_an_authentication_error(serve: Callable[[Any], str]) -> None:
    async def script(conn: Conn, frame: dict[str, Any]) -> None:
        await conn.close(1008)

    fake = FakeServer(script=script)
    base = serve(fake)
    async with AsyncClient.connect(base, token=fake.token, websocket=True) as c:
        req = c.request()
        req.invoke("Foo/set", {"accountId": "A"}, response=SetResponse)
        with anyio.fail_after(LIMIT), pytest.raises(AuthenticationError):
            await c.send(req)


def test_blocking_client_failure_paths(serve: Callable[[Any], str]) -> None:
    async def script(conn: Conn, frame: dict[str, Any]) -> None:
        if conn.index == 0:
            await conn.raw("garbage")
        else:
            await conn.reply(frame)

    fake = FakeServer(script=script)
    base = serve(fake)
    with Client.connect(base, token=fake.token, websocket=True) as c:
        with pytest.raises(RemoteProtocolError):
            c.call(lambda r: r.core.echo({"a": 1}))
        assert c.call(lambda r: r.core.echo({"b": 2})).model_extra == {"b": 2}
