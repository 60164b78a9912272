"""Compliance sections 11 (Chat.unreadCount) and 12 (PushSubscription)."""

from __future__ import annotations

from ._harness import CHAT, CHAT_PUSH, CORE, PUSH_URL, Harness

PUSH_USING = [CORE, CHAT, CHAT_PUSH]


def test_11_1_unreadcount_from_readposition(h: Harness) -> None:
    """11.1 unreadCount computed from ReadPosition."""
    chat = h.direct_chat("alice", "bob")
    for i in range(5):
        h.send("alice", chat, f"message {i + 1}")
    bob_chat = h.direct_chat_with("bob", "alice")
    ids = h.message_ids("bob", bob_chat)
    assert len(ids) == 5
    assert ids == sorted(ids), "default order: receivedAt ascending; ULIDs sort the same"
    got = h.get1("bob", "Chat", bob_chat)
    assert got is not None
    assert got["unreadCount"] == 5
    rp = next(x for x in h.get("bob", "ReadPosition", None)["list"] if x["chatId"] == bob_chat)
    h.update("bob", "ReadPosition", rp["id"], {"lastReadMessageId": ids[2]})
    got = h.get1("bob", "Chat", bob_chat)
    assert got is not None
    assert got["unreadCount"] == 2
    h.update("bob", "ReadPosition", rp["id"], {"lastReadMessageId": ids[4]})
    got = h.get1("bob", "Chat", bob_chat)
    assert got is not None
    assert got["unreadCount"] == 0


def test_12_1_pushsubscription_methods_exist(h: Harness) -> None:
    """12.1 PushSubscription/get, /set, /changes exist."""
    res = h.set(
        "alice",
        "PushSubscription",
        using=PUSH_USING,
        create={
            "s": {
                "deviceClientId": "compliance-12-1",
                "url": PUSH_URL,
                "types": ["Message", "Chat"],
                "chatPush": {h.acct("alice"): {"kinds": ["direct"]}},
            }
        },
    )
    assert "s" in (res.get("created") or {}), res
    sub_id = res["created"]["s"]["id"]
    got = h.ok("alice", "PushSubscription/get", {"ids": None}, using=PUSH_USING)
    assert [s["id"] for s in got["list"]] == [sub_id]
    sub = got["list"][0]
    assert sub["deviceClientId"] == "compliance-12-1"
    assert sub["types"] == ["Message", "Chat"]
    assert sub.get("verificationCode") is None
    assert "url" not in sub
    assert "keys" not in sub
    # Only the creating credentials see the subscription.
    other = h.ok("bob", "PushSubscription/get", {"ids": None}, using=PUSH_USING)
    assert other["list"] == []
    # RFC 8620 §7.2 defines only PushSubscription/get and /set (no accountId, no state); the
    # compliance doc also calls /changes. Accept a working /changes or a clean unknownMethod.
    name, changes = h.call(
        "alice", "PushSubscription/changes", {"sinceState": "0"}, using=PUSH_USING
    )
    if name == "error":
        assert changes["type"] in {"unknownMethod", "cannotCalculateChanges"}, changes
    else:
        assert name == "PushSubscription/changes"
        assert "newState" in changes
    res = h.set("alice", "PushSubscription", using=PUSH_USING, destroy=[sub_id])
    assert res["destroyed"] == [sub_id], res
    assert h.ok("alice", "PushSubscription/get", {"ids": None}, using=PUSH_USING)["list"] == []
