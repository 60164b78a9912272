# ruff: noqa: PT018
"""Batched Message/set creates: what one call of many creates stores, delivers and logs.

The store buffers a call's writes and runs savepoints lazily (`_store.Store`), Message
creates reuse per-call lookups and push new messages once per call. These tests check
the observable result is the same as one create at a time.
"""

from __future__ import annotations

from typing import Any

import pytest

from jmapchat.server import ChatServer
from jmapchat.server._types.message import MessageType

from .conftest import Api
from .test_push import Receiver, receiver, subscribe

pytestmark = pytest.mark.anyio

__all__ = ["receiver"]  # the fixture, re-used from test_push

SENT = "2025-01-01T00:00:00Z"


def msg(chat_id: str, body: str, **more: Any) -> dict[str, Any]:
    return {"chatId": chat_id, "body": body, "bodyType": "text/plain", "sentAt": SENT, **more}


async def direct(a: Api, b: Api) -> str:
    chat = await a.create("Chat", {"kind": "direct", "contactId": b.user})
    return str(chat["id"])


async def states(api: Api) -> dict[str, str]:
    out = {}
    for t in ("Message", "Chat"):
        res = await api.ok(f"{t}/get", {"ids": []})
        out[t] = res["state"]
    return out


async def messages(api: Api, chat_id: str) -> list[dict[str, Any]]:
    q = await api.ok("Message/query", {"filter": {"chatId": chat_id}, "sort": [{"property": "id"}]})
    res = await api.ok("Message/get", {"ids": q["ids"]})
    return list(res["list"])


async def test_mixed_batch_delivers_exactly_the_valid_creates(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    before_a, before_b = await states(alice), await states(bob)
    create = {
        "m0": msg(cid, "first"),
        "bad1": {"chatId": cid, "bodyType": "text/plain"},  # no body
        "m2": msg(cid, "second"),
        "bad3": msg("nope", "no such chat"),
        "m4": msg(cid, "a reply", replyTo="#m0"),  # an earlier create of this call
        "bad5": msg(cid, "bad date", sentAt="yesterday"),
        "m6": msg(cid, "third"),
    }
    out = await alice.request(
        [["Message/set", {"accountId": alice.acc, "create": create}, "s"]], createdIds={}
    )
    name, res, _ = out["methodResponses"][0]
    assert name == "Message/set"
    assert set(res["created"]) == {"m0", "m2", "m4", "m6"}
    assert set(res["notCreated"]) == {"bad1", "bad3", "bad5"}
    assert res["notCreated"]["bad1"]["properties"] == ["body"]
    assert res["notCreated"]["bad3"]["properties"] == ["chatId"]
    assert res["notCreated"]["bad5"]["properties"] == ["sentAt"]
    ids = {k: v["id"] for k, v in res["created"].items()}
    assert out["createdIds"] == ids
    assert res["created"]["m4"]["replyTo"] == ids["m0"]
    assert res["oldState"] == before_a["Message"] and res["newState"] != res["oldState"]

    mine = await messages(alice, cid)
    assert [m["id"] for m in mine] == [ids[k] for k in ("m0", "m2", "m4", "m6")]
    assert all(m["senderId"] == "self" and m["senderMsgId"] == m["id"] for m in mine)
    assert all(m["deliveryState"] == "delivered" for m in mine)
    assert mine[0]["replyCount"] == 1

    theirs = await messages(bob, cid)
    assert [m["body"] for m in theirs] == ["first", "second", "a reply", "third"]
    assert [m["senderMsgId"] for m in theirs] == [m["id"] for m in mine]
    assert all(m["senderId"] == "alice" and m["id"] not in ids.values() for m in theirs)
    assert theirs[2]["replyTo"] == theirs[0]["id"] and theirs[0]["replyCount"] == 1

    a_chat, b_chat = await alice.get1("Chat", cid), await bob.get1("Chat", cid)
    assert a_chat is not None and b_chat is not None
    assert b_chat["unreadCount"] == 4 and a_chat["unreadCount"] == 4  # draft: own included
    assert b_chat["lastMessageAt"] == theirs[-1]["receivedAt"]

    for api, before, expected in (
        (alice, before_a, [m["id"] for m in mine]),
        (bob, before_b, [m["id"] for m in theirs]),
    ):
        ch = await api.ok("Message/changes", {"sinceState": before["Message"]})
        assert sorted(ch["created"]) == sorted(expected) and ch["destroyed"] == []
        assert ch["hasMoreChanges"] is False
        # every change has its own modseq: one at a time gives the same answer
        seen: list[str] = []
        since = before["Message"]
        while True:
            one = await api.ok("Message/changes", {"sinceState": since, "maxChanges": 1})
            seen += one["created"] + one["updated"]
            since = one["newState"]
            if not one["hasMoreChanges"]:
                break
        assert sorted(set(seen)) == sorted(expected)
        chats = await api.ok("Chat/changes", {"sinceState": before["Chat"]})
        assert chats["updated"] == [cid] and chats["created"] == []

    # the read position still drives unreadCount
    rp = await bob.ok("ReadPosition/get", {"ids": None})
    rp_id = next(r["id"] for r in rp["list"] if r["chatId"] == cid)
    await bob.ok("ReadPosition/set", {"update": {rp_id: {"lastReadMessageId": theirs[1]["id"]}}})
    b_chat = await bob.get1("Chat", cid)
    assert b_chat is not None and b_chat["unreadCount"] == 2


async def test_batch_to_a_blocking_contact(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    await bob.ok("ChatContact/set", {"update": {"alice": {"blocked": True}}})
    before = await states(bob)
    res = await alice.ok("Message/set", {"create": {f"m{i}": msg(cid, f"m {i}") for i in range(5)}})
    assert len(res["created"]) == 5
    assert {m["deliveryState"] for m in res["created"].values()} == {"pending"}
    assert await messages(bob, cid) == []
    assert await states(bob) == before


async def test_failed_call_rolls_back_only_itself(
    alice: Api, bob: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await direct(alice, bob)
    before_a, before_b = await states(alice), await states(bob)

    def broken(self: MessageType, ctx: Any) -> None:
        raise RuntimeError("boom")

    with monkeypatch.context() as m:
        m.setattr(MessageType, "finish_set", broken)
        out = await alice.request(
            [
                ["Message/set", {"accountId": alice.acc, "create": {"a": msg(cid, "x")}}, "0"],
                ["Message/get", {"accountId": alice.acc, "ids": ["#a"]}, "1"],
            ]
        )
    assert out["methodResponses"][0][:2] == [
        "error",
        {"type": "serverFail", "description": "internal server error"},
    ]
    assert await states(alice) == before_a and await states(bob) == before_b
    assert await messages(alice, cid) == [] and await messages(bob, cid) == []

    # the next calls of one request: a batch commits, a later failing call keeps it
    out = await alice.request(
        [
            [
                "Message/set",
                {"accountId": alice.acc, "create": {f"m{i}": msg(cid, str(i)) for i in range(3)}},
                "0",
            ],
            ["Message/set", {"accountId": alice.acc, "ifInState": "0", "create": {}}, "1"],
            ["Message/changes", {"accountId": alice.acc, "sinceState": before_a["Message"]}, "2"],
        ]
    )
    (n0, r0, _), (n1, r1, _), (n2, r2, _) = out["methodResponses"]
    assert n0 == "Message/set" and len(r0["created"]) == 3
    assert n1 == "error" and r1["type"] == "stateMismatch"
    assert n2 == "Message/changes" and len(r2["created"]) == 3
    assert r2["newState"] == r0["newState"] == str(int(before_a["Message"]) + 3)
    assert len(await messages(bob, cid)) == 3


async def test_group_batch_pushes_every_message_in_order(
    alice: Api, bob: Api, carol: Api, receiver: Receiver
) -> None:
    await subscribe(bob, receiver, "/bob", chatPush={bob.acc: {"properties": ["messageId"]}})
    await subscribe(carol, receiver, "/carol", types=["Message"])
    g = await alice.create("Chat", {"kind": "group", "name": "G", "memberIds": ["bob", "carol"]})
    await carol.ok("ChatContact/set", {"update": {"alice": {"blocked": True}}})
    res = await alice.ok(
        "Message/set", {"create": {f"m{i}": msg(g["id"], f"m {i}") for i in range(3)}}
    )
    assert len(res["created"]) == 3
    receipts = [m["deliveryReceipts"] for m in res["created"].values()]
    assert all(r["carol"]["deliveredAt"] is None and r["bob"]["deliveredAt"] for r in receipts)
    got: list[Any] = []
    while len(got) < 3:
        push = receiver.next()
        if push[2]["@type"] == "StateChange" and push[0] == "/bob":
            # Other types' changes (the group's Chat); the Message state is in the pushes.
            assert "Message" not in push[2]["changed"][bob.acc], push
            continue
        got.append(push)
    assert [p for p, _, _ in got] == ["/bob"] * 3  # carol blocked alice: nothing for her
    theirs = await messages(bob, g["id"])
    assert [b["messages"][0]["messageId"] for _, _, b in got] == [m["id"] for m in theirs]
    assert await messages(carol, g["id"]) == []


async def test_batch_survives_restart(tmp_path: Any) -> None:
    import httpx

    db = tmp_path / "chat.sqlite"
    with ChatServer(db=str(db), users=["alice", "bob"]) as server:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            alice, bob = Api(c, server, "alice"), Api(c, server, "bob")
            cid = await direct(alice, bob)
            res = await alice.ok(
                "Message/set", {"create": {f"m{i}": msg(cid, str(i)) for i in range(50)}}
            )
            assert len(res["created"]) == 50
            before = await states(bob), await states(alice)
        tokens = server.tokens  # the database keeps only their digests
    with ChatServer(db=str(db), users=["alice", "bob"], tokens=tokens) as server:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            alice, bob = Api(c, server, "alice"), Api(c, server, "bob")
            assert (await states(bob), await states(alice)) == before
            assert len(await messages(bob, cid)) == 50
            chat = await bob.get1("Chat", cid)
            assert chat is not None and chat["unreadCount"] == 50
            res = await alice.ok("Message/set", {"create": {"n": msg(cid, "after")}})
            assert int(res["newState"]) == int(res["oldState"]) + 1
