# ruff: noqa: PT018, RUF059
"""Chats, relay delivery, read state, edits, reactions, deletes, contacts, typing, presence."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api

pytestmark = pytest.mark.anyio


async def direct(a: Api, b: Api) -> str:
    chat = await a.create("Chat", {"kind": "direct", "contactId": b.user})
    return str(chat["id"])


async def test_contacts(alice: Api, server: object) -> None:
    res = await alice.ok("ChatContact/get", {"ids": None})
    ids = {c["id"] for c in res["list"]}
    assert ids == {"bob", "carol"}
    c = res["list"][0]
    for key in (
        "login",
        "displayName",
        "blocked",
        "firstSeenAt",
        "lastSeenAt",
        "presence",
        "lastActiveAt",
        "statusText",
        "statusEmoji",
        "endpoints",
    ):
        assert key in c
    res = await alice.ok(
        "ChatContact/set",
        {
            "update": {"bob": {"blocked": True, "displayName": "Bobby"}},
            "create": {"x": {"login": "z"}},
            "destroy": ["carol"],
        },
    )
    assert res["updated"] == {"bob": None}
    assert (
        res["notCreated"]["x"]["type"] == "forbidden"
        and res["notDestroyed"]["carol"]["type"] == "forbidden"
    )
    q = await alice.ok("ChatContact/query", {"filter": {"blocked": True}})
    assert q["ids"] == ["bob"]
    q = await alice.ok("ChatContact/query", {"sort": [{"property": "login", "isAscending": False}]})
    assert q["ids"] == ["carol", "bob"]


async def test_direct_chat_relay(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    again = await alice.ok("Chat/set", {"create": {"d": {"kind": "direct", "contactId": "bob"}}})
    assert again["created"] is None and again["updated"] == {
        cid: None
    }  # draft: existing chat in `updated`
    m = await alice.send(cid, "hello bob")
    assert m["senderId"] == "self" and m["senderMsgId"] == m["id"] and m["receivedAt"]
    got = await bob.ok("Message/query", {"filter": {"chatId": cid}})
    assert len(got["ids"]) == 1 and got["ids"][0] != m["id"]
    theirs = await bob.get1("Message", got["ids"][0])
    assert theirs is not None
    assert (
        theirs["senderId"] == "alice"
        and theirs["body"] == "hello bob"
        and theirs["senderMsgId"] == m["id"]
    )
    chat = await bob.get1("Chat", cid)
    assert (
        chat is not None
        and chat["kind"] == "direct"
        and chat["contactId"] == "alice"
        and chat["unreadCount"] == 1
    )
    # the other side reuses the same chat id
    res = await bob.ok("Chat/set", {"create": {"d": {"kind": "direct", "contactId": "alice"}}})
    assert res["updated"] == {cid: None}
    name, res = await alice.call("Message/get", {"ids": [got["ids"][0]]})
    assert res["notFound"] == [got["ids"][0]]  # bob's copy is not in alice's account


async def test_unread_count_and_read_position(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    ids = [(await alice.send(cid, f"m{i}"))["id"] for i in range(5)]
    q = await bob.ok("Message/query", {"filter": {"chatId": cid}})
    bob_ids = q["ids"]
    assert (await bob.get1("Chat", cid))["unreadCount"] == 5  # type: ignore[index]
    rps = await bob.ok("ReadPosition/get", {"ids": None})
    rp = next(r for r in rps["list"] if r["chatId"] == cid)
    assert rp["id"] != cid and rp["lastReadMessageId"] is None and "lastReadAt" in rp
    res = await bob.ok(
        "ReadPosition/set", {"update": {rp["id"]: {"lastReadMessageId": bob_ids[2]}}}
    )
    assert rp["id"] in res["updated"]
    assert (await bob.get1("Chat", cid))["unreadCount"] == 2  # type: ignore[index]
    res = await bob.ok(
        "ReadPosition/set", {"create": {"x": {"chatId": cid}}, "destroy": [rp["id"]]}
    )
    assert (
        res["notCreated"]["x"]["type"] == "forbidden"
        and res["notDestroyed"][rp["id"]]["type"] == "forbidden"
    )
    assert len(ids) == 5


async def test_edit_history_reactions_and_deletes(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    m = await alice.send(cid, "helo")
    theirs = (await bob.ok("Message/query", {"filter": {"chatId": cid}}))["ids"][0]
    res = await alice.ok("Message/set", {"update": {m["id"]: {"body": "hello"}}})
    assert m["id"] in res["updated"]
    for api, mid in ((alice, m["id"]), (bob, theirs)):
        msg = await api.get1("Message", mid)
        assert msg is not None and msg["body"] == "hello" and msg["editedAt"]
        assert msg["editHistory"][0]["body"] == "helo"
    res = await bob.ok("Message/set", {"update": {theirs: {"body": "hacked"}}})
    assert res["notUpdated"][theirs]["type"] == "forbidden"
    rid = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
    await bob.ok(
        "Message/set",
        {
            "update": {
                theirs: {f"reactions/{rid}": {"emoji": "👍", "sentAt": "2025-01-01T00:00:00Z"}}
            }
        },
    )
    mine = await alice.get1("Message", m["id"])
    assert mine is not None and mine["reactions"][rid]["senderId"] == "bob"
    assert (await bob.get1("Message", theirs))["reactions"][rid]["senderId"] == "self"  # type: ignore[index]
    res = await alice.ok("Message/set", {"update": {m["id"]: {f"reactions/{rid}": None}}})
    assert res["notUpdated"][m["id"]]["type"] == "forbidden"
    await bob.ok("Message/set", {"update": {theirs: {f"reactions/{rid}": None}}})
    assert (await alice.get1("Message", m["id"]))["reactions"] == {}  # type: ignore[index]
    # local delete on bob's side only
    await bob.ok("Message/set", {"update": {theirs: {"deletedAt": "2025-01-02T00:00:00Z"}}})
    assert (await bob.get1("Message", theirs))["body"] == ""  # type: ignore[index]
    assert (await alice.get1("Message", m["id"]))["body"] == "hello"  # type: ignore[index]
    res = await bob.ok(
        "Message/set",
        {"update": {theirs: {"deletedAt": "2025-01-02T00:00:00Z", "deletedForAll": True}}},
    )
    assert res["notUpdated"][theirs]["type"] == "forbidden"
    m2 = await alice.send(cid, "oops")
    await alice.ok(
        "Message/set",
        {"update": {m2["id"]: {"deletedAt": "2025-01-02T00:00:00Z", "deletedForAll": True}}},
    )
    q = await bob.ok("Message/query", {"filter": {"chatId": cid}})
    gone = await bob.get1("Message", q["ids"][-1])
    assert (
        gone is not None
        and gone["deletedForAll"] is True
        and gone["body"] == ""
        and gone["deletedAt"]
    )
    # destroy = local tombstone
    m3 = await alice.send(cid, "bye")
    res = await alice.ok("Message/set", {"destroy": [m3["id"]]})
    assert res["destroyed"] == [m3["id"]]
    t = await alice.get1("Message", m3["id"])
    assert t is not None and t["deletedAt"] and t["body"] == ""


async def test_message_validation(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    base = {
        "chatId": cid,
        "body": "hello",
        "bodyType": "text/plain",
        "sentAt": "2025-01-01T00:00:00Z",
    }
    cases = {
        "big": ({**base, "body": "x" * 100_001}, "invalidArguments"),
        "type": ({**base, "bodyType": "video/mp4"}, "invalidProperties"),
        "mention": (
            {**base, "mentions": [{"id": "bob", "offset": 10, "length": 5}]},
            "invalidProperties",
        ),
        "scope": (
            {**base, "broadcastMentions": [{"scope": "invalid", "offset": 0, "length": 1}]},
            "invalidArguments",
        ),
        "rich": (
            {
                **base,
                "bodyType": "application/jmap-chat-rich",
                "body": '{"spans":[{"type":"text","text":"x"}]}',
                "mentions": [{"id": "bob", "offset": 0, "length": 1}],
            },
            "invalidProperties",
        ),
        "span": (
            {
                **base,
                "bodyType": "application/jmap-chat-rich",
                "body": '{"spans":[{"type":"blink","text":"x"}]}',
            },
            "invalidArguments",
        ),
        "past": ({**base, "senderExpiresAt": "2000-01-01T00:00:00Z"}, "invalidArguments"),
        "chat": ({**base, "chatId": "nope"}, "invalidProperties"),
        "extra": ({**base, "senderId": "bob"}, "invalidProperties"),
        "file": (
            {
                **base,
                "attachments": [
                    {
                        "blobId": "x",
                        "filename": "../../etc/passwd",
                        "contentType": "text/plain",
                        "size": 1,
                    }
                ],
            },
            "invalidProperties",
        ),
    }
    res = await alice.ok("Message/set", {"create": {k: v[0] for k, v in cases.items()}})
    for key, (_, etype) in cases.items():
        assert res["notCreated"][key]["type"] == etype, key
    ok = await alice.ok(
        "Message/set",
        {
            "create": {
                "r": {
                    **base,
                    "bodyType": "application/jmap-chat-rich",
                    "body": '{"spans":[{"type":"mention","text":"@bob","userId":"bob"}]}',
                }
            }
        },
    )
    assert "r" in ok["created"]


async def test_burn_on_read_and_expiry(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    await alice.send(cid, "secret", burnOnRead=True)
    theirs = (await bob.ok("Message/query", {"filter": {"chatId": cid}}))["ids"][0]
    state = (await bob.ok("Message/get", {"ids": []}))["state"]
    await bob.ok("Message/set", {"update": {theirs: {"readAt": "2025-01-01T00:00:00Z"}}})
    assert await bob.get1("Message", theirs) is None
    ch = await bob.ok("Message/changes", {"sinceState": state})
    assert ch["destroyed"] == [theirs]
    m = await alice.send(cid, "read me")
    theirs = (await bob.ok("Message/query", {"filter": {"chatId": cid}}))["ids"][-1]
    await bob.ok("Message/set", {"update": {theirs: {"readAt": "2025-01-01T00:00:00Z"}}})
    got = await bob.get1("Message", theirs)
    assert got is not None and got["readDisposition"] == "displayed"
    assert m["id"]


async def test_group_chat(alice: Api, bob: Api, carol: Api) -> None:
    g = await alice.create("Chat", {"kind": "group", "name": "Team", "memberIds": ["bob"]})
    assert [(m["id"], m["role"]) for m in g["members"]] == [("alice", "admin"), ("bob", "member")]
    assert g["members"][1]["invitedBy"] == "alice" and g["members"][0]["invitedBy"] is None
    assert await carol.get1("Chat", g["id"]) is None
    await alice.ok(
        "Chat/set", {"update": {g["id"]: {"addMembers": [{"id": "carol"}], "name": "Team!"}}}
    )
    cg = await carol.get1("Chat", g["id"])
    assert cg is not None and cg["name"] == "Team!" and len(cg["members"]) == 3
    res = await bob.ok("Chat/set", {"update": {g["id"]: {"name": "mine"}}})
    assert res["notUpdated"][g["id"]]["type"] == "forbidden"
    m = await alice.send(g["id"], "hi all")
    for api in (bob, carol):
        q = await api.ok("Message/query", {"filter": {"chatId": g["id"]}})
        assert len(q["ids"]) == 1
    assert set(m["deliveryReceipts"]) == {"bob", "carol"}
    await alice.ok(
        "Chat/set",
        {
            "update": {
                g["id"]: {
                    "removeMembers": ["carol"],
                    "updateMemberRoles": [{"id": "bob", "role": "admin"}],
                }
            }
        },
    )
    await alice.send(g["id"], "carol is gone")
    assert len((await carol.ok("Message/query", {"filter": {"chatId": g["id"]}}))["ids"]) == 1
    assert len((await bob.ok("Message/query", {"filter": {"chatId": g["id"]}}))["ids"]) == 2
    q = await bob.ok("Chat/query", {"filter": {"kind": "group"}})
    assert q["ids"] == [g["id"]]


async def test_blocked_contact_dropped(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    await bob.ok("ChatContact/set", {"update": {"alice": {"blocked": True}}})
    await alice.send(cid, "spam")
    q = await bob.ok("Message/query", {"filter": {"chatId": cid}})
    assert q["ids"] == []


async def test_typing_and_presence(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    res = await alice.ok("Chat/typing", {"chatId": cid, "typing": True})
    assert res == {"accountId": alice.acc}
    name, res = await alice.call("Chat/typing", {"chatId": "nope", "typing": True})
    assert (name, res["type"]) == ("error", "notFound")
    ps = (await alice.ok("PresenceStatus/get", {"ids": None}))["list"][0]
    assert ps["presence"] == "online" and ps["receiptSharing"] is True
    await alice.ok(
        "PresenceStatus/set",
        {"update": {ps["id"]: {"presence": "busy", "statusText": "in a meeting"}}},
    )
    c = await bob.get1("ChatContact", "alice")
    assert c is not None and c["presence"] == "busy" and c["statusText"] == "in a meeting"
    res = await alice.ok("PresenceStatus/set", {"update": {ps["id"]: {"presence": "sleepy"}}})
    assert res["notUpdated"][ps["id"]]["type"] == "invalidProperties"


async def test_edit_validated_like_new_message(alice: Api, bob: Api, carol: Api) -> None:
    """An edit reaches exactly the copies a new message would reach now."""
    g = await alice.create(
        "Chat", {"kind": "group", "name": "Edits", "memberIds": ["bob", "carol"]}
    )
    m = await alice.send(g["id"], "original")
    await bob.ok("ChatContact/set", {"update": {"alice": {"blocked": True}}})
    res = await alice.ok("Message/set", {"update": {m["id"]: {"body": "edited"}}})
    assert res["updated"][m["id"]]["editedAt"]  # the sender is not told about the block
    mine = await alice.get1("Message", m["id"])
    assert mine is not None and mine["body"] == "edited" and len(mine["editHistory"]) == 1
    (carol_id,) = (await carol.ok("Message/query", {"filter": {"chatId": g["id"]}}))["ids"]
    theirs = await carol.get1("Message", carol_id)
    assert theirs is not None and theirs["body"] == "edited" and theirs["editedAt"]
    (bob_id,) = (await bob.ok("Message/query", {"filter": {"chatId": g["id"]}}))["ids"]
    blocked = await bob.get1("Message", bob_id)
    assert blocked is not None and blocked["body"] == "original"
    assert blocked["editedAt"] is None and blocked["editHistory"] == []
    # Unblocked again: later edits are delivered again.
    await bob.ok("ChatContact/set", {"update": {"alice": {"blocked": False}}})
    await alice.ok("Message/set", {"update": {m["id"]: {"body": "edited twice"}}})
    again = await bob.get1("Message", bob_id)
    assert again is not None and again["body"] == "edited twice"
    # A removed member keeps the chat but can no longer edit (same membership check as a
    # new message).
    b = await bob.send(g["id"], "bob was here")
    await alice.ok("Chat/set", {"update": {g["id"]: {"removeMembers": ["bob"]}}})
    res = await bob.ok("Message/set", {"update": {b["id"]: {"body": "ghost edit"}}})
    assert res["notUpdated"][b["id"]]["type"] == "forbidden"


async def test_reaction_patch_keys_are_rfc6901_pointers(alice: Api, bob: Api) -> None:
    """``reactions/<id>`` is a JSON pointer: ``~1`` and ``~0`` are unescaped; bad paths refused."""
    cid = await direct(alice, bob)
    m = await alice.send(cid, "hi")
    patch = {"reactions/a~1b~0c": {"emoji": "🎉", "sentAt": "2025-01-01T00:00:00Z"}}
    res = await alice.ok("Message/set", {"update": {m["id"]: patch}})
    assert m["id"] in res["updated"]
    msg = await alice.get1("Message", m["id"])
    assert msg is not None and set(msg["reactions"]) == {"a/b~c"}
    for bad in ("reactions/", "reactions/x/y", "reactions/bad~2"):
        res = await alice.ok("Message/set", {"update": {m["id"]: {bad: {"emoji": "x"}}}})
        assert res["notUpdated"][m["id"]]["type"] == "invalidPatch", bad


async def test_reaction_from_blocked_contact_dropped(alice: Api, bob: Api, carol: Api) -> None:
    """A reaction is content from its sender: it reaches the copies an edit would reach, so
    a recipient who has blocked the reactor never gets it; the reactor is not told."""
    g = await alice.create(
        "Chat", {"kind": "group", "name": "Reactions", "memberIds": ["bob", "carol"]}
    )
    await alice.send(g["id"], "react to me")

    async def copy(api: Api) -> dict[str, Any]:
        (mid,) = (await api.ok("Message/query", {"filter": {"chatId": g["id"]}}))["ids"]
        got = await api.get1("Message", mid)
        assert got is not None
        return got

    async def react(patch: dict[str, Any]) -> None:
        res = await carol.ok("Message/set", {"update": {(await copy(carol))["id"]: patch}})
        assert list(res["updated"]) == [(await copy(carol))["id"]], res  # never told
        assert res["notUpdated"] is None

    thumbs = {"emoji": "👍", "sentAt": "2025-01-01T00:00:00Z"}
    await react({"reactions/before": thumbs})
    assert set((await copy(bob))["reactions"]) == {"before"}
    await bob.ok("ChatContact/set", {"update": {"carol": {"blocked": True}}})
    await react({"reactions/after": thumbs, "reactions/before": {**thumbs, "emoji": "🎉"}})
    assert (await copy(carol))["reactions"]["after"]["senderId"] == "self"
    theirs = await copy(alice)
    assert theirs["reactions"]["after"]["senderId"] == "carol"
    assert theirs["reactions"]["before"]["emoji"] == "🎉"
    blocked = (await copy(bob))["reactions"]
    assert set(blocked) == {"before"} and blocked["before"]["emoji"] == "👍"  # not replaced
    # Taking a reaction back reaches every copy, like a retraction: nothing stale is kept.
    await react({"reactions/before": None})
    assert (await copy(bob))["reactions"] == {}
    assert set((await copy(alice))["reactions"]) == {"after"}
    # Unblocked again: later reactions are delivered again.
    await bob.ok("ChatContact/set", {"update": {"carol": {"blocked": False}}})
    await react({"reactions/later": thumbs})
    assert set((await copy(bob))["reactions"]) == {"later"}


async def test_reaction_in_direct_chat_from_blocked_contact(alice: Api, bob: Api) -> None:
    cid = await direct(alice, bob)
    m = await alice.send(cid, "hi")
    await bob.ok("ChatContact/set", {"update": {"alice": {"blocked": True}}})
    res = await alice.ok("Message/set", {"update": {m["id"]: {"reactions/r": {"emoji": "👍"}}}})
    assert m["id"] in res["updated"]
    assert set((await alice.get1("Message", m["id"]))["reactions"]) == {"r"}  # type: ignore[index]
    (bob_id,) = (await bob.ok("Message/query", {"filter": {"chatId": cid}}))["ids"]
    assert (await bob.get1("Message", bob_id))["reactions"] == {}  # type: ignore[index]


async def test_several_reactions_in_one_patch(alice: Api, bob: Api) -> None:
    """Each reaction in one patch keeps its own emoji, in every copy."""
    cid = await direct(alice, bob)
    m = await alice.send(cid, "hi")
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000"
        "000049454e44ae426082"
    )
    up = await alice.client.post(
        f"/jmap/upload/{alice.acc}/",
        content=png,
        headers={**alice.headers, "Content-Type": "image/png"},
    )
    emoji = await alice.create("CustomEmoji", {"name": "tada", "blobId": up.json()["blobId"]})
    e1 = emoji["id"]
    patch = {
        "reactions/a": {"emoji": "👍", "sentAt": "2025-01-01T00:00:00Z"},
        "reactions/b": {"emoji": "🎉", "customEmojiId": e1, "sentAt": "2025-01-02T00:00:00Z"},
    }
    await alice.ok("Message/set", {"update": {m["id"]: patch}})
    (bob_id,) = (await bob.ok("Message/query", {"filter": {"chatId": cid}}))["ids"]
    for api, mid, sender in ((alice, m["id"], "self"), (bob, bob_id, "alice")):
        got = await api.get1("Message", mid)
        assert got is not None
        assert got["reactions"] == {
            "a": {"emoji": "👍", "sentAt": "2025-01-01T00:00:00Z", "senderId": sender},
            "b": {
                "emoji": "🎉",
                "customEmojiId": e1,
                "sentAt": "2025-01-02T00:00:00Z",
                "senderId": sender,
            },
        }
