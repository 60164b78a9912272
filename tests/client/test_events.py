"""``client.events()`` over EventSource, end to end against the reference server on a real
loopback socket: asyncio, trio and the blocking client.

A message bob sends reaches alice's stream; the server is stopped and restarted on the same
database mid-stream, a change is made while it is down, and the stream reconnects by
itself, reports that change (Last-Event-ID) and then the next live message.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import jmapchat
from jmapchat import AsyncClient, AuthenticationError, Client
from jmapchat._core import Backoff
from jmapchat.models import PresenceEvent, StateChange, TypingEvent

from ._live import LiveServer

FAST = Backoff(initial=0.05, cap=0.5)
LIMIT = 60.0  # a hang fails the test instead of the run; generous under load


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path / "chat.sqlite")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def message_state(event: Any, acc: str) -> str | None:
    if isinstance(event, StateChange):
        return event.changed.get(acc, {}).get("Message")
    return None


async def next_message_state(events: AsyncIterator[Any], acc: str, after: str | None) -> str:
    """The next StateChange whose Message state differs from ``after``."""
    with anyio.fail_after(LIMIT):
        async for event in events:
            state = message_state(event, acc)
            if state is not None and state != after:
                return state
    raise AssertionError("the stream ended")


@pytest.mark.anyio
async def test_async_stream_survives_a_restart(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = live.direct_chat("bob", "alice")
    token = live.tokens["alice"]
    async with AsyncClient.connect(live.base, token=token) as alice:
        acc = alice.account_id
        async with alice.events(["Message"], ping=1, backoff=FAST) as events:
            live.send("bob", chat, "one")
            first = await next_message_state(events, acc, None)
            await anyio.to_thread.run_sync(live.stop)
            live.send("bob", chat, "while you were away")  # the server is down
            await anyio.to_thread.run_sync(live.start)
            caught_up = await next_message_state(events, acc, first)
            live.send("bob", chat, "after the restart")
            latest = await next_message_state(events, acc, caught_up)
        assert len({first, caught_up, latest}) == 3
        assert token not in repr(alice)
    assert all(token not in r.getMessage() for r in caplog.records)


def test_blocking_stream_survives_a_restart(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = live.direct_chat("bob", "alice")
    token = live.tokens["alice"]

    def next_state(events: Iterator[Any], acc: str, after: str | None) -> str:
        for event in events:
            state = message_state(event, acc)
            if state is not None and state != after:
                return state
        raise AssertionError("the stream ended")

    with Client.connect(live.base, token=token) as alice:
        acc = alice.account_id
        with alice.events(["Message"], ping=1, backoff=FAST) as events:
            live.send("bob", chat, "one")
            first = next_state(events, acc, None)
            live.stop()
            live.send("bob", chat, "while you were away")
            live.start()
            caught_up = next_state(events, acc, first)
            live.send("bob", chat, "after the restart")
            latest = next_state(events, acc, caught_up)
    assert len({first, caught_up, latest}) == 3
    assert all(token not in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_typing_and_presence_are_opt_in(live: LiveServer) -> None:
    chat = live.direct_chat("bob", "alice")
    live.send("bob", chat, "hi")
    async with AsyncClient.connect(live.base, token=live.tokens["alice"]) as alice:
        async with alice.events(["PresenceStatus"], typing=True, presence=True) as events:
            live.call("bob", "Chat/typing", {"chatId": chat, "typing": True})
            pid = live.call("bob", "PresenceStatus/get", {"ids": None})["list"][0]["id"]
            live.call("bob", "PresenceStatus/set", {"update": {pid: {"presence": "away"}}})
            got: list[Any] = []
            with anyio.fail_after(LIMIT):
                async for event in events:
                    got.append(event)
                    if isinstance(event, PresenceEvent):
                        break
        typing = [e for e in got if isinstance(e, TypingEvent)]
        assert [(e.sender_id, e.typing) for e in typing] == [("bob", True)]
        assert got[-1].contact_id == "bob"
        assert got[-1].presence == "away"
        # Without the opt-in, only state changes: alice changes her own presence (a
        # PresenceStatus StateChange) after bob types; no TypingEvent comes first.
        async with alice.events(["PresenceStatus"]) as events:
            live.call("bob", "Chat/typing", {"chatId": chat, "typing": False})
            me = live.call("alice", "PresenceStatus/get", {"ids": None})["list"][0]["id"]
            live.call("alice", "PresenceStatus/set", {"update": {me: {"presence": "busy"}}})
            with anyio.fail_after(LIMIT):
                first = await events.__anext__()
        assert isinstance(first, StateChange)


@pytest.mark.anyio
async def test_close_after_state_ends_after_one_state_change(live: LiveServer) -> None:
    chat = live.direct_chat("bob", "alice")
    async with (
        AsyncClient.connect(live.base, token=live.tokens["alice"]) as alice,
        alice.events(close_after_state=True) as events,
    ):
        live.send("bob", chat, "wake up")
        with anyio.fail_after(LIMIT):
            got = [e async for e in events]
    assert len(got) == 1
    assert isinstance(got[0], StateChange)


@pytest.mark.anyio
async def test_bad_credentials_raise_without_the_token(live: LiveServer) -> None:
    token = live.tokens["alice"]
    async with AsyncClient.connect(live.base, token=token) as alice:
        live.server._set_token("alice", "rotated-token-value")  # type: ignore[union-attr]

        async def listen() -> None:
            with anyio.fail_after(LIMIT):
                async with alice.events() as events:
                    await events.__anext__()

        with pytest.raises(AuthenticationError) as err:
            await listen()
    assert token not in str(err.value)
    assert token not in repr(err.value)


def _sse_app(inner: Any, script: list[bytes], connections: list[int]) -> Any:
    """An ASGI wrapper: the first event-source request gets ``script`` (then silence, so
    only a missed ping ends it); every other request goes to the real server."""

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/jmap/eventsource"):
            return await inner(scope, receive, send)
        connections.append(1)
        if len(connections) > 1:
            return await inner(scope, receive, send)
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in script:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await anyio.sleep_forever()

    return app


@pytest.mark.anyio
async def test_malformed_and_unknown_events_are_skipped_and_silence_reconnects(
    tmp_path: Path,
) -> None:
    """Garbage data, unknown event names and a schema-invalid StateChange are skipped; the
    stream then goes silent for more than two ping intervals, which counts as a dead
    connection: the client reconnects (resending the last id) and hears the real server."""
    script = [
        b"event: state\ndata: {not json\n\n",
        b"event: zap\ndata: {}\n\n",
        b'event: state\ndata: {"@type": "StateChange", "changed": 5}\n\n',
        b': a comment\n\nevent: ping\ndata: {"interval": 1}\n\n',
        b"event: state\nid: Message:0\n"
        b'data: {"@type": "StateChange", "changed": {"A": {"Message": "7"}}}\n\n',
    ]
    connections: list[int] = []
    live = LiveServer(tmp_path / "x.sqlite", lambda app: _sse_app(app, script, connections))
    live.start()
    try:
        chat = live.direct_chat("bob", "alice")
        async with (
            AsyncClient.connect(live.base, token=live.tokens["alice"]) as alice,
            alice.events(["Message"], ping=1, backoff=FAST) as events,
        ):
            with anyio.fail_after(LIMIT):
                first = await events.__anext__()
            assert isinstance(first, StateChange)
            assert first.changed == {"A": {"Message": "7"}}
            # Silence: after 2 s the client reconnects; "Message:0" as Last-Event-ID
            # makes the real server report the current state at once.
            live.send("bob", chat, "hello")
            state = await next_message_state(events, alice.account_id, None)
        assert state != "0"
        assert len(connections) >= 2
    finally:
        await anyio.to_thread.run_sync(live.stop)  # never from inside a trio run


def test_events_is_exported_on_both_clients() -> None:
    assert callable(AsyncClient.events)
    assert callable(Client.events)
    assert "Event" in jmapchat.models.__all__


@pytest.mark.anyio
async def test_a_503_is_retried_and_a_404_raises(tmp_path: Path) -> None:
    calls: list[int] = []

    def wrap(inner: Any) -> Any:
        async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/jmap/eventsource"):
                calls.append(1)
                status = {1: 503, 2: 200}.get(len(calls), 404)
                if status != 200:
                    head = [(b"content-type", b"text/plain"), (b"retry-after", b"0")]
                    await send({"type": "http.response.start", "status": status, "headers": head})
                    await send({"type": "http.response.body", "body": b"no"})
                    return None
            return await inner(scope, receive, send)

        return app

    live = LiveServer(tmp_path / "x.sqlite", wrap)
    live.start()
    try:
        chat = live.direct_chat("bob", "alice")
        async with (
            AsyncClient.connect(live.base, token=live.tokens["alice"]) as alice,
            alice.events(["Message"], backoff=FAST) as events,
        ):
            live.send("bob", chat, "hello")
            assert await next_message_state(events, alice.account_id, None)
        assert len(calls) == 2  # the 503, then the stream

        async def listen_again() -> None:
            async with alice.events() as again:
                await again.__anext__()

        async with AsyncClient.connect(live.base, token=live.tokens["alice"]) as alice:
            with anyio.fail_after(LIMIT), pytest.raises(jmapchat.HTTPStatusError) as err:
                await listen_again()
        assert err.value.status_code == 404
    finally:
        await anyio.to_thread.run_sync(live.stop)


def test_blocking_client_skips_garbage_and_reconnects_after_silence(tmp_path: Path) -> None:
    """The blocking twin of the malformed/silence test: the same decisions, driven by
    the generated `Client` (httpx's blocking read timeout is the dead-connection check)."""
    # The id makes the second connection resume from "no messages yet" (Last-Event-ID).
    script = [b"event: zap\nid: Message:0\ndata: {}\n\n", b"event: state\ndata: {nope\n\n"]
    connections: list[int] = []
    live = LiveServer(tmp_path / "y.sqlite", lambda app: _sse_app(app, script, connections))
    live.start()
    try:
        chat = live.direct_chat("bob", "alice")
        with (
            Client.connect(live.base, token=live.tokens["alice"]) as alice,
            alice.events(["Message"], ping=1, backoff=FAST) as events,
        ):
            live.send("bob", chat, "hello")  # only the second connection can report it
            event = next(iter(events))
        assert isinstance(event, StateChange)
        assert "Message" in event.changed[alice.account_id]
        assert len(connections) >= 2
    finally:
        live.stop()


@pytest.mark.anyio
async def test_an_in_process_transport_is_refused_not_hung(tmp_path: Path) -> None:
    """httpx's ASGITransport buffers whole responses: events() says so (a typed error,
    which `jmapchat.sync` answers by polling) instead of waiting forever."""
    import httpx

    from jmapchat import CapabilityNotSupported
    from jmapchat.server import ChatServer
    from jmapchat.testing import AsyncFaultTransport

    with ChatServer(users=["alice"]) as server:
        wrapped = AsyncFaultTransport(httpx.ASGITransport(app=server.app))
        client = AsyncClient.connect("http://t", token=server.tokens["alice"], transport=wrapped)
        async with client:

            async def listen() -> None:
                async with client.events() as events:
                    await events.__anext__()

            with anyio.fail_after(LIMIT), pytest.raises(CapabilityNotSupported, match="stream"):
                await listen()
