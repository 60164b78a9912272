"""Compliance section 2: Wire Format."""

from __future__ import annotations

from ._harness import Harness, now
from ._push import PushProbe


def test_2_1_body_and_bodytype_top_level(h: Harness) -> None:
    """2.1 Message body and bodyType are separate top-level fields."""
    chat = h.direct_chat("alice", "bob")
    # The compliance example omits sentAt; the draft lists it as required at create.
    created = h.create(
        "alice",
        "Message",
        {"chatId": chat, "body": "Hello world", "bodyType": "text/plain", "sentAt": now()},
    )
    got = h.get1("alice", "Message", created["id"])
    assert got is not None
    assert got["body"] == "Hello world"
    assert got["bodyType"] == "text/plain"
    assert got["chatId"] == chat


def test_2_2_senderid_is_self_for_owner(h: Harness) -> None:
    """2.2 senderId is "self" for owner-composed messages."""
    chat = h.direct_chat("alice", "bob")
    msg = h.send("alice", chat, "hi bob")
    got = h.get1("alice", "Message", msg)
    assert got is not None
    assert got["senderId"] == "self"
    assert got["senderMsgId"] == got["id"], "senderMsgId equals id for own messages"
    # The recipient sees the sender's ChatContact.id, not "self".
    bob_chat = h.direct_chat_with("bob", "alice")
    inbound = h.messages("bob", bob_chat)
    assert [m["senderId"] for m in inbound] == [h.cid("alice")]


def test_2_3_direct_chat_uses_contactid(h: Harness) -> None:
    """2.3 Chat/set create direct uses contactId."""
    res = h.set("alice", "Chat", create={"d": {"kind": "direct", "contactId": h.cid("bob")}})
    assert "d" in res["created"], res
    chat = h.get1("alice", "Chat", res["created"]["d"]["id"])
    assert chat is not None
    assert chat["kind"] == "direct"
    assert chat["contactId"] == h.cid("bob")
    assert "members" not in chat or chat["members"] in (None, [])


def test_2_4_duplicate_direct_chat(h: Harness) -> None:
    """2.4 Chat/set create duplicate direct returns alreadyExists."""
    first = h.direct_chat("alice", "bob")
    res = h.set("alice", "Chat", create={"dup": {"kind": "direct", "contactId": h.cid("bob")}})
    # Draft (§Creating a Direct Chat): "the server MUST return it in `updated` rather than
    # creating a duplicate". Compliance 2.4: SetError alreadyExists + existingId. The project
    # follows the draft; the compliance shape is accepted too.
    if "dup" in (res.get("notCreated") or {}):
        err = res["notCreated"]["dup"]
        assert err["type"] == "alreadyExists", err
        assert err["existingId"] == first, err
    else:
        assert first in (res.get("updated") or {}), res
        created = (res.get("created") or {}).get("dup")
        assert created is None or created.get("id") == first, res
    directs = [
        c
        for c in h.chats("alice")
        if c.get("kind") == "direct" and c.get("contactId") == h.cid("bob")
    ]
    assert [c["id"] for c in directs] == [first]
    # The other side: once alice has written, bob's account holds the direct chat, and his
    # own create for alice resolves to it (draft §Chat ID Assignment).
    h.send("alice", first, "hi bob")
    bobs = h.direct_chat_with("bob", "alice")
    res = h.set("bob", "Chat", create={"mine": {"kind": "direct", "contactId": h.cid("alice")}})
    if "mine" in (res.get("notCreated") or {}):
        err = res["notCreated"]["mine"]
        assert err["type"] == "alreadyExists", err
        assert err["existingId"] == bobs, err
    else:
        assert bobs in (res.get("updated") or {}), res
    assert h.direct_chat_with("bob", "alice") == bobs


def test_2_5_chatname_absent_for_direct_in_push(h: Harness, push: PushProbe) -> None:
    """2.5 chatName absent for direct chats in push."""
    # chatName is not in the default ChatPushConfig property set, so ask for it explicitly:
    # it must then be present for group chats and absent (not null) for direct chats.
    push.subscribe("bob", properties=["messageId", "chatId", "chatKind", "chatName"])
    group = h.group_chat("alice", ["bob"], "the group")
    h.send("alice", group, "group ping")
    entry = push.next_entry("bob")
    assert entry["chatKind"] == "group"
    assert entry["chatName"] == "the group"
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "ping")
    entry = push.next_entry("bob")
    assert entry["chatKind"] == "direct"
    assert "chatName" not in entry, entry
