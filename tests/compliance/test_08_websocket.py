"""Compliance section 8: WebSocket ephemeral events (typing / presence).

Each case runs over a real RFC 8887 WebSocket (the server on a loopback port, a real
WebSocket client subscribed with ``WebSocketPushEnable`` + ``ChatStreamEnable``, see
`_ws.WsStream`) and, because the chat draft states the same delivery-time rules for the
EventSource ``typing`` / ``presence`` events (§Push Notifications, §Chat/typing), over the
EventSource stream as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jmapchat.server import serve_in_thread

from ._harness import EventStream, Harness, is_utcdate
from ._ws import WsStream

Open = Callable[[str], EventStream]


@pytest.fixture(params=["websocket", "eventsource"])
def open_stream(request: pytest.FixtureRequest, h: Harness) -> Iterator[Open]:
    """Opens ``user``'s push stream over the transport under test."""
    if request.param == "eventsource":
        yield h.event_stream
        return
    with serve_in_thread(h.server) as base:
        yield lambda user: WsStream(base, h.token(user))


def _typing(h: Harness, user: str, chat: str, typing: bool = True) -> None:
    res = h.ok(user, "Chat/typing", {"chatId": chat, "typing": typing})
    assert res["accountId"] == h.acct(user)


def _is_typing(e: dict[str, Any], sender: str, chat: str | None = None) -> bool:
    return (
        e["event"] == "typing"
        and isinstance(e["data"], dict)
        and e["data"].get("senderId") == sender
        and (chat is None or e["data"].get("chatId") == chat)
    )


def _is_presence(e: dict[str, Any], contact: str) -> bool:
    return (
        e["event"] == "presence"
        and isinstance(e["data"], dict)
        and e["data"].get("contactId") == contact
    )


def _sentinel_typing(h: Harness, stream: EventStream) -> None:
    """carol types in her direct chat with bob; wait until bob's stream has it."""
    chat = h.direct_chat_with("carol", "bob")
    bob_side = h.direct_chat_with("bob", "carol")
    _typing(h, "carol", chat)
    stream.wait_for(lambda e: _is_typing(e, h.cid("carol"), bob_side))


def _acquaint(h: Harness) -> None:
    for a, b in (("alice", "bob"), ("carol", "bob")):
        chat = h.direct_chat(a, b)
        h.send(a, chat, f"hi from {a}")


def test_8_1_presence_null_vs_absent(h: Harness, open_stream: Open) -> None:
    """8.1 ChatPresenceEvent null vs absent semantics."""
    _acquaint(h)
    pid = h.presence_id("alice")
    with open_stream("bob") as stream:
        h.sync_stream("bob", stream)
        h.update(
            "alice",
            "PresenceStatus",
            pid,
            {"presence": "away", "statusText": "lunch", "statusEmoji": "🍔"},
        )
        ev = stream.wait_for(
            lambda e: _is_presence(e, h.cid("alice")) and e["data"].get("statusText") == "lunch"
        )
        assert ev["data"]["statusEmoji"] == "🍔"
        assert ev["data"]["presence"] == "away"
        # Explicit clear: the key is present with a null value.
        h.update("alice", "PresenceStatus", pid, {"statusText": None})
        ev = stream.wait_for(
            lambda e: (
                _is_presence(e, h.cid("alice"))
                and "statusText" in e["data"]
                and e["data"]["statusText"] is None
            )
        )
        # statusEmoji was not touched: over the WebSocket it is omitted ("unchanged"); the
        # EventSource event carries the contact's current value. Never null.
        assert ev["data"].get("statusEmoji", "🍔") == "🍔", ev
    contact = h.get1("bob", "ChatContact", h.cid("alice"))
    assert contact is not None
    assert contact.get("statusText") is None
    assert contact.get("statusEmoji") == "🍔"


def test_8_2_typing_membership_rechecked(h: Harness, open_stream: Open) -> None:
    """8.2 Typing membership re-verified at delivery time."""
    _acquaint(h)
    group = h.group_chat("alice", ["bob", "carol"], "typing-crew")
    bob_group = h.chat_named("bob", "typing-crew")
    carol_group = h.chat_named("carol", "typing-crew")
    with open_stream("bob") as bob_stream, open_stream("alice") as alice_stream:
        h.sync_stream("bob", bob_stream)
        h.sync_stream("alice", alice_stream)
        # Control: while bob is a member, group typing reaches him.
        _typing(h, "alice", group)
        bob_stream.wait_for(lambda e: _is_typing(e, h.cid("alice"), bob_group))
        h.update("alice", "Chat", group, {"removeMembers": [h.cid("bob")]})
        _typing(h, "carol", carol_group)
        # A remaining member does get carol's event ...
        alice_stream.wait_for(lambda e: _is_typing(e, h.cid("carol"), group))
        # ... the removed one does not.
        _sentinel_typing(h, bob_stream)
        leaked = [
            e for e in bob_stream.events("typing") if _is_typing(e, h.cid("carol"), bob_group)
        ]
        assert leaked == [], leaked


def test_8_3_receive_typing_indicators_rechecked(h: Harness, open_stream: Open) -> None:
    """8.3 receiveTypingIndicators re-checked at delivery time."""
    _acquaint(h)
    alice_chat = h.direct_chat_with("alice", "bob")
    bob_chat = h.direct_chat_with("bob", "alice")
    group = h.group_chat("alice", ["bob"], "still-typing")
    with open_stream("bob") as stream:
        h.sync_stream("bob", stream)
        h.update("bob", "Chat", bob_chat, {"receiveTypingIndicators": False})
        _typing(h, "alice", alice_chat)
        _sentinel_typing(h, stream)
        leaked = [e for e in stream.events("typing") if _is_typing(e, h.cid("alice"))]
        assert leaked == [], leaked
        # Control: alice's typing still reaches bob in a chat where he did not opt out.
        _typing(h, "alice", group)
        stream.wait_for(lambda e: _is_typing(e, h.cid("alice")))
    # Channels: the preference is stored but MUST NOT suppress typing events.
    _sid, chan, _ = h.channel_setup({"bob": ["view", "send"]})
    h.update("bob", "Chat", chan, {"receiveTypingIndicators": False})
    got = h.get1("bob", "Chat", chan)
    assert got is not None
    assert got["receiveTypingIndicators"] is False
    with open_stream("bob") as stream:
        h.sync_stream("bob", stream)
        _typing(h, "alice", chan)
        stream.wait_for(lambda e: _is_typing(e, h.cid("alice"), chan))


def test_8_4_block_rechecked_for_typing_and_presence(h: Harness, open_stream: Open) -> None:
    """8.4 Block status re-checked at delivery for typing and presence."""
    _acquaint(h)
    alice_chat = h.direct_chat_with("alice", "bob")
    group = h.group_chat("alice", ["bob"], "before-block")
    bob_group = h.chat_named("bob", "before-block")
    after = h.group_chat("alice", ["bob", "carol"], "after-block")
    alice_pid = h.presence_id("alice")
    with open_stream("bob") as stream:
        h.sync_stream("bob", stream)
        # Controls: before the block, alice's typing and presence reach bob.
        _typing(h, "alice", group)
        stream.wait_for(lambda e: _is_typing(e, h.cid("alice"), bob_group))
        h.update("alice", "PresenceStatus", alice_pid, {"presence": "away"})
        stream.wait_for(lambda e: _is_presence(e, h.cid("alice")))
        h.update("bob", "ChatContact", h.cid("alice"), {"blocked": True})
        # Neither in the direct chat nor in a group chat.
        _typing(h, "alice", alice_chat)
        _typing(h, "alice", after)
        h.update("alice", "PresenceStatus", alice_pid, {"presence": "busy"})
        # Sentinels from carol (not blocked): typing and presence.
        _sentinel_typing(h, stream)
        h.update("carol", "PresenceStatus", h.presence_id("carol"), {"presence": "away"})
        stream.wait_for(lambda e: _is_presence(e, h.cid("carol")))
        leaked = [
            e
            for e in stream.events("typing") + stream.events("presence")
            if (_is_typing(e, h.cid("alice")) or _is_presence(e, h.cid("alice")))
            and not e.get("_used")
        ]
        assert leaked == [], leaked


def test_8_5_presence_event_has_statusemoji_and_lastactiveat(h: Harness, open_stream: Open) -> None:
    """8.5 ChatPresenceEvent includes statusEmoji and lastActiveAt."""
    _acquaint(h)
    with open_stream("bob") as stream:
        h.sync_stream("bob", stream)
        h.update(
            "alice",
            "PresenceStatus",
            h.presence_id("alice"),
            {"presence": "busy", "statusEmoji": "📅", "statusText": "meeting"},
        )
        ev = stream.wait_for(
            lambda e: _is_presence(e, h.cid("alice")) and e["data"].get("presence") == "busy"
        )
    data = ev["data"]
    assert data["statusEmoji"] == "📅", data
    assert data["statusText"] == "meeting", data
    assert is_utcdate(data["lastActiveAt"]), data


def test_presence_events_are_rate_limited(h: Harness, open_stream: Open) -> None:
    """wss draft §ChatPresenceEvent (SHOULD): at most one ChatPresenceEvent per contact per
    window. The reference server holds the newest event of a window and delivers it when
    the window ends, so the latest state is never lost."""
    _acquaint(h)
    h.server.presence_interval = 1.0  # read when a stream opens; the default is 30 s
    alice = h.cid("alice")
    pid = h.presence_id("alice")
    with open_stream("bob") as stream:
        h.sync_stream("bob", stream)
        for text in ("first", "second", "third"):
            h.update("alice", "PresenceStatus", pid, {"statusText": text})
        stream.wait_for(lambda e: _is_presence(e, alice) and e["data"].get("statusText") == "third")
        _sentinel_typing(h, stream)  # anything still queued behind "third" is in by now
        texts = [e["data"].get("statusText") for e in stream.seen if _is_presence(e, alice)]
    assert texts == ["first", "third"]
