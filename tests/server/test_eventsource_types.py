"""The EventSource reports every data type and every kind of change (RFC 8620 §7.3):
edits, deletes, reactions, read positions, chats, spaces, contacts, presence, each as a
``state`` event naming the type, only for the listener's own account, filtered by
``types``; its ids resume a stream (``Last-Event-ID``) with what changed meanwhile."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jmapchat.server import ChatServer
from tests.compliance._harness import USERS, EventStream, Harness, expand


@pytest.fixture
def h() -> Iterator[Harness]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    with (
        ChatServer(users=list(USERS)) as server,
        TestClient(server.app, raise_server_exceptions=True) as client,
    ):
        yield Harness(server, client)


def state_of(h: Harness, user: str, type_: str) -> Callable[[dict[str, Any]], bool]:
    acct = h.acct(user)

    def pred(e: dict[str, Any]) -> bool:
        return e["event"] == "state" and type_ in e["data"]["changed"].get(acct, {})

    return pred


def test_every_change_is_a_state_event(h: Harness) -> None:
    chat = h.direct_chat("alice", "bob")
    mid = h.send("alice", chat, "hello")
    bob_chat = h.direct_chat_with("bob", "alice")
    theirs = h.message_ids("bob", bob_chat)[-1]
    with h.event_stream("bob") as stream, h.event_stream("carol") as carol:
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("Message", lambda: h.update("alice", "Message", mid, {"body": "edited"})),
            (
                "Message",
                lambda: h.update(
                    "bob",
                    "Message",
                    theirs,
                    {"reactions/r1": {"emoji": "👍", "sentAt": "2026-01-01T00:00:00Z"}},
                ),
            ),
            (
                "ReadPosition",
                lambda: h.update(
                    "bob",
                    "ReadPosition",
                    h.get("bob", "ReadPosition", None)["list"][0]["id"],
                    {"lastReadMessageId": theirs},
                ),
            ),
            (
                "Message",
                lambda: h.update(
                    "alice",
                    "Message",
                    mid,
                    {"deletedAt": "2026-01-01T00:00:00Z", "deletedForAll": True},
                ),
            ),
            ("Chat", lambda: h.update("bob", "Chat", bob_chat, {"muted": True})),
            (
                "ChatContact",
                lambda: h.update("bob", "ChatContact", h.cid("carol"), {"blocked": True}),
            ),
            (
                "Space",
                lambda: h.update(
                    "alice", "Space", h.space("alice"), {"addMembers": [{"id": h.cid("bob")}]}
                ),
            ),
            (
                "PresenceStatus",
                lambda: h.update(
                    "bob", "PresenceStatus", h.presence_id("bob"), {"presence": "away"}
                ),
            ),
        ]
        for type_, act in steps:
            act()
            stream.wait_for(state_of(h, "bob", type_), timeout=20)
        # carol's stream: never another account's changes.
        h.update("carol", "PresenceStatus", h.presence_id("carol"), {"presence": "away"})
        carol.wait_for(state_of(h, "carol", "PresenceStatus"), timeout=20)
        leaked = [
            e for e in carol.events("state") if set(e["data"]["changed"]) != {h.acct("carol")}
        ]
        assert leaked == []
        last_id = [e["id"] for e in stream.events("state")][-1]
    # Resumed from the last id, filtered by types: what changed meanwhile comes at once.
    h.send("alice", chat, "while away")
    url = expand(h.session("bob")["eventSourceUrl"], types="Message", closeafter="no", ping="0")
    with EventStream(h.client, url, {**h.headers("bob"), "Last-Event-ID": last_id}) as resumed:
        first = resumed.wait_for(lambda e: e["event"] == "state", timeout=20)
    assert set(first["data"]["changed"][h.acct("bob")]) == {"Message"}
