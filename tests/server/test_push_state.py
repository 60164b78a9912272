"""PushSubscription StateChange delivery (RFC 8620 §7.2) for every type and every change.

Edits, deletes, reactions, read positions, chats, spaces and contacts each reach a
verified subscription as a StateChange naming the changed types; ``types`` filters them;
an unverified or expired subscription gets nothing. One sender thread posts in order, so a
sentinel subscription created *after* the others proves an absence: if the others were
going to get this change, it would have arrived before the sentinel's copy.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api
from .test_push import PUSH_USING, Receiver, receiver, subscribe

pytestmark = pytest.mark.anyio
__all__ = ["receiver"]


def collect(receiver: Receiver, until_path: str) -> dict[str, list[dict[str, Any]]]:
    """Every push up to and including the next one to ``until_path``, by path."""
    out: dict[str, list[dict[str, Any]]] = {}
    while True:
        path, _headers, payload = receiver.next()
        out.setdefault(path, []).append(payload)
        if path == until_path:
            return out


def changed_types(payloads: list[dict[str, Any]], acc: str) -> set[str]:
    out: set[str] = set()
    for p in payloads:
        assert p["@type"] == "StateChange", p
        assert set(p["changed"]) == {acc}, p  # never another account's changes
        out |= set(p["changed"][acc])
    return out


async def test_every_change_reaches_the_subscription(
    alice: Api, bob: Api, carol: Api, receiver: Receiver
) -> None:
    await subscribe(bob, receiver, "/bob")
    await subscribe(bob, receiver, "/bob-reads", types=["ReadPosition"])
    await subscribe(carol, receiver, "/carol")  # sees nothing of alice and bob's chat

    async def step(what: str, expect: set[str], act: Any) -> None:
        await act()
        got: dict[str, list[dict[str, Any]]] = {}
        while not expect <= changed_types(got.get("/bob", []), bob.acc):
            for path, payloads in collect(receiver, "/bob").items():
                got.setdefault(path, []).extend(payloads)
        reads = changed_types(got.get("/bob-reads", []), bob.acc)
        assert reads <= {"ReadPosition"}, (what, got)
        assert "/carol" not in got, (what, got)

    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    holder: dict[str, str] = {}

    async def send() -> None:
        holder["m"] = (await alice.send(chat["id"], "hello"))["id"]

    await step("new message", {"Message", "Chat"}, send)
    bob_chat = (await bob.ok("Chat/query", {"filter": {"contactId": "alice"}}))["ids"][0]
    theirs = (await bob.ok("Message/query", {"filter": {"chatId": bob_chat}}))["ids"][-1]

    async def edit() -> None:
        await alice.ok("Message/set", {"update": {holder["m"]: {"body": "hello, edited"}}})

    await step("edit", {"Message"}, edit)

    async def react() -> None:
        reaction = {"emoji": "👍", "sentAt": "2025-01-01T00:00:00Z"}
        await bob.ok("Message/set", {"update": {theirs: {"reactions/r1": reaction}}})

    await step("reaction", {"Message"}, react)

    async def read() -> None:
        rp = (await bob.ok("ReadPosition/get", {"ids": None}))["list"][0]
        await bob.ok("ReadPosition/set", {"update": {rp["id"]: {"lastReadMessageId": theirs}}})

    await step("read position", {"ReadPosition"}, read)

    async def delete() -> None:
        retract = {"deletedAt": "2025-01-01T00:00:00Z", "deletedForAll": True}
        await alice.ok("Message/set", {"update": {holder["m"]: retract}})

    await step("delete for all", {"Message"}, delete)

    async def space() -> None:
        sid = (await alice.create("Space", {"name": "Acme"}))["id"]
        await alice.ok("Space/set", {"update": {sid: {"addMembers": [{"id": "bob"}]}}})

    await step("space", {"Space"}, space)

    async def contact() -> None:
        await bob.ok("ChatContact/set", {"update": {"carol": {"blocked": True}}})

    await step("contact", {"ChatContact"}, contact)


async def test_types_filter_expiry_and_verification(
    alice: Api, bob: Api, receiver: Receiver
) -> None:
    await subscribe(bob, receiver, "/expired", types=["Message", "Chat"])
    subs = (await bob.ok("PushSubscription/get", {"ids": None}, PUSH_USING))["list"]
    expired_id = subs[0]["id"]
    res = await bob.ok(
        "PushSubscription/set",
        {"update": {expired_id: {"expires": "2000-01-01T00:00:00Z"}}},
        PUSH_USING,
    )
    assert expired_id in res["updated"], res
    # Created but never verified: no StateChange either (only its PushVerification).
    await bob.ok(
        "PushSubscription/set",
        {"create": {"u": {"deviceClientId": "u", "url": receiver.base + "/unverified"}}},
        PUSH_USING,
    )
    path, _h, body = receiver.next()
    assert (path, body["@type"]) == ("/unverified", "PushVerification")
    await subscribe(bob, receiver, "/chats-only", types=["Chat"])
    await subscribe(bob, receiver, "/sentinel")
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    await alice.send(chat["id"], "hello")
    got: dict[str, list[dict[str, Any]]] = {}
    while "Message" not in changed_types(got.get("/sentinel", []), bob.acc):
        for path, payloads in collect(receiver, "/sentinel").items():
            got.setdefault(path, []).extend(payloads)
    assert "/expired" not in got, got
    assert "/unverified" not in got, got
    assert changed_types(got["/chats-only"], bob.acc) == {"Chat"}
