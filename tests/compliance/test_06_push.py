"""Compliance section 6: Push Notifications (draft-atwood-jmap-chat-push-00)."""

from __future__ import annotations

import pytest

from ._harness import CHAT, CHAT_PUSH, CORE, PUSH_URL, RICH, Harness, future, past, rich_body
from ._push import PushProbe

PUSH_USING = [CORE, CHAT, CHAT_PUSH]
DEFAULT_PROPS = [
    "messageId",
    "chatId",
    "chatKind",
    "senderId",
    "senderDisplayName",
    "sentAt",
    "hasMention",
    "mentionScopes",
    "encrypted",
    "bodySnippet",
]
ADMIN_PERMS = [
    "view",
    "send",
    "pin",
    "manage_channels",
    "manage_members",
    "manage_roles",
    "manage_space",
    "ban",
]


def _require_urgency(h: Harness, value: str) -> None:
    caps = h.account_caps("bob", CHAT_PUSH)
    if value not in caps.get("supportedUrgencyValues", []):
        pytest.skip(f"server does not list urgency {value!r} in supportedUrgencyValues")


def test_6_1_chatpushconfig_field_names(h: Harness) -> None:
    """6.1 ChatPushConfig field names."""
    chat = h.direct_chat("bob", "alice")
    config = {
        "kinds": ["direct", "group"],
        "chatIds": [chat],
        "urgency": "normal",
        "properties": ["messageId", "chatId", "senderId"],
    }
    res = h.set(
        "bob",
        "PushSubscription",
        using=PUSH_USING,
        create={
            "s": {
                "deviceClientId": "compliance-6-1",
                "url": PUSH_URL,
                "types": None,
                "chatPush": {h.acct("bob"): config},
            }
        },
    )
    assert "s" in (res.get("created") or {}), res
    sub_id = res["created"]["s"]["id"]
    got = h.ok("bob", "PushSubscription/get", {"ids": [sub_id]}, using=PUSH_USING)
    assert len(got["list"]) == 1, got
    sub = got["list"][0]
    # RFC 8620 §7.2.1: url and keys are never returned.
    assert "url" not in sub, sub
    assert "keys" not in sub, sub
    stored = sub["chatPush"][h.acct("bob")]
    assert stored["kinds"] == ["direct", "group"]
    assert stored["chatIds"] == [chat]
    assert stored["urgency"] == "normal"
    assert stored["properties"] == ["messageId", "chatId", "senderId"]
    for wrong in ("chatKindFilter", "chatIdFilter"):
        assert wrong not in stored


def test_6_2_chatmessagepush_accountid(h: Harness, push: PushProbe) -> None:
    """6.2 ChatMessagePush.accountId required."""
    push.subscribe("bob")
    chat = h.direct_chat("alice", "bob")
    # bob's own message is never pushed to him; the first payload is alice's.
    h.send("bob", h.direct_chat_with("bob", "alice"), "bob speaks first")
    h.send("alice", chat, "hello bob")
    payload = push.next_chat_push("bob")
    assert payload["messages"][0]["senderId"] == h.cid("alice"), payload
    assert payload["@type"] == "ChatMessagePush"
    assert payload["accountId"] == h.acct("bob")
    assert isinstance(payload["state"], str)
    assert payload["state"]
    assert len(payload["messages"]) >= 1
    # `state` is the post-delivery Message state: using it as sinceState does not return the
    # pushed message again.
    bob_chat = h.direct_chat_with("bob", "alice")
    msg_id = payload["messages"][0]["messageId"]
    assert msg_id in h.message_ids("bob", bob_chat)
    changes = h.ok("bob", "Message/changes", {"sinceState": payload["state"]})
    assert msg_id not in changes["created"] + changes["updated"], changes


def test_6_3_chatmessageentry_required_fields(h: Harness, push: PushProbe) -> None:
    """6.3 ChatMessageEntry required fields."""
    sid, chan, _ = h.channel_setup({"bob": ["view", "send"]})
    # chatName / spaceId / spaceName are not in the draft's default property set; they are
    # among the properties a server MUST support when asked for.
    push.subscribe("bob", properties=[*DEFAULT_PROPS, "chatName", "spaceId", "spaceName"])
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "direct hello")
    entry = push.next_entry("bob")
    for key in ("messageId", "chatId", "chatKind", "senderId", "senderDisplayName", "sentAt"):
        assert key in entry, (key, entry)
    assert entry["chatKind"] == "direct"
    assert entry["senderId"] == h.cid("alice")
    assert isinstance(entry["hasMention"], bool)
    assert isinstance(entry["mentionScopes"], list)
    assert entry["encrypted"] is False
    assert entry["bodySnippet"] == "direct hello"
    for key in ("spaceId", "spaceName", "chatName"):
        assert key not in entry, entry
    h.send("alice", chan, "channel hello")
    entry = push.next_entry("bob")
    assert entry["chatKind"] == "channel"
    assert entry["chatId"] == chan
    assert entry["spaceId"] == sid
    assert entry["spaceName"] == "Guild"
    assert entry["chatName"] == "general"
    assert "senderDisplayName" in entry
    assert "sentAt" in entry


def test_6_4_properties_filtering(h: Harness, push: PushProbe) -> None:
    """6.4 Properties filtering."""
    push.subscribe("bob", properties=["messageId", "chatId"])
    push.subscribe("carol")
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "filtered")
    entry = push.next_entry("bob")
    # Push draft §ChatPushConfig: "the server returns exactly the requested fields". The
    # compliance doc tolerates conditional extras such as bodySnippet; accept that too.
    assert {"messageId", "chatId"} <= set(entry), entry
    assert set(entry) <= {"messageId", "chatId", "bodySnippet"}, entry
    # Without `properties`, the default set is used — exactly that set.
    other = h.direct_chat("alice", "carol")
    h.send("alice", other, "defaults")
    entry = push.next_entry("carol")
    assert set(entry) == set(DEFAULT_PROPS), entry
    # An encrypted body type never yields a snippet.
    if "application/mls-ciphertext" in h.account_caps("alice")["supportedBodyTypes"]:
        h.send("alice", other, "b3BhcXVlLWNpcGhlcnRleHQ", bodyType="application/mls-ciphertext")
        entry = push.next_entry("carol")
        assert entry["encrypted"] is True, entry
        assert "bodySnippet" not in entry, entry


def test_6_5_urgency_uses_base_urgency(h: Harness, push: PushProbe) -> None:
    """6.5 Urgency resolution uses base urgency."""
    _require_urgency(h, "low")
    push.subscribe("bob", urgency="low", mentionUrgency="high")
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "no mentions here")
    entry = push.next_entry("bob")
    assert entry["hasMention"] is False
    assert push.last_headers.get("urgency") == "low", push.last_headers
    # A mention elevates to mentionUrgency.
    h.send("alice", chat, "hey bob", mentions=[{"id": h.cid("bob"), "offset": 4, "length": 3}])
    entry = push.next_entry("bob")
    assert entry["hasMention"] is True
    assert push.last_headers.get("urgency") == "high", push.last_headers


def test_6_6_broadcast_mention_mute_bypass_admins(h: Harness, push: PushProbe) -> None:
    """6.6 Broadcast mention mute bypass includes admins."""
    _sid, chan, _ = h.channel_setup({"bob": ADMIN_PERMS, "carol": ["view", "send"]})
    h.update("bob", "Chat", chan, {"muted": True})
    h.update("carol", "Chat", chan, {"muted": True})
    push.subscribe("bob")
    push.subscribe("carol")
    # Control: an ordinary message in the muted channel is not pushed ...
    h.send("alice", chan, "routine update")
    # ... but an @admins broadcast that targets bob (an admin) is.
    h.send(
        "alice",
        chan,
        "@admins deploy is broken",
        broadcastMentions=[{"scope": "admins", "offset": 0, "length": 7}],
    )
    h.send(
        "alice",
        chan,
        "@everyone all hands",
        broadcastMentions=[{"scope": "everyone", "offset": 0, "length": 9}],
    )
    entry = push.next_entry("bob")
    assert entry["chatId"] == chan
    assert entry["bodySnippet"] == "@admins deploy is broken", entry
    assert "admins" in entry["mentionScopes"], entry
    # carol is not an admin: @admins does not lift her mute, @everyone does. mentionScopes
    # only lists scopes whose resolved recipient set contains the owner.
    entry = push.next_entry("carol")
    assert entry["bodySnippet"] == "@everyone all hands", entry
    assert entry["mentionScopes"] == ["everyone"], entry


def test_6_7_rich_body_inline_mention_detection(h: Harness, push: PushProbe) -> None:
    """6.7 Rich body inline span mention detection."""
    if RICH not in h.account_caps("alice")["supportedBodyTypes"]:
        pytest.skip("server does not advertise application/jmap-chat-rich")
    push.subscribe("bob")
    chat = h.direct_chat("alice", "bob")
    # Control: a rich mention of somebody else does not count.
    other = rich_body({"type": "mention", "text": "@carol", "userId": h.cid("carol")})
    h.send("alice", chat, other, bodyType=RICH)
    entry = push.next_entry("bob")
    assert entry["hasMention"] is False, entry
    body = rich_body(
        {"type": "text", "text": "hi "},
        {"type": "mention", "text": "@bob", "userId": h.cid("bob")},
    )
    h.send("alice", chat, body, bodyType=RICH)
    entry = push.next_entry("bob")
    assert entry["hasMention"] is True, entry
    assert "@bob" in entry.get("bodySnippet", "@bob"), entry
    assert entry["encrypted"] is False
    # The snippet is a plaintext approximation, not raw JSON.
    if "bodySnippet" in entry:
        assert "spans" not in entry["bodySnippet"], entry


def test_6_8_senderdisplayname_resolution_chain(h: Harness, push: PushProbe) -> None:
    """6.8 senderDisplayName resolution chain."""
    sid, chan, _ = h.channel_setup({"bob": ["view", "send"], "carol": ["view", "send"]})
    push.subscribe("bob")
    # direct/group: ChatContact.displayName -> login -> senderId.
    chat = h.direct_chat("carol", "bob")
    h.send("carol", chat, "one")
    entry = push.next_entry("bob")
    contact = h.get1("bob", "ChatContact", h.cid("carol"))
    assert contact is not None
    expected = contact.get("displayName") or contact["login"]
    assert entry["senderDisplayName"] == expected, (entry, contact)
    h.update("bob", "ChatContact", h.cid("carol"), {"displayName": "Carol C."})
    h.send("carol", chat, "two")
    entry = push.next_entry("bob")
    assert entry["senderDisplayName"] == "Carol C."
    # channel: SpaceMember.nick wins.
    h.update("alice", "Space", sid, {"updateMembers": [{"id": h.cid("carol"), "nick": "Caz"}]})
    h.send("carol", chan, "three")
    entry = push.next_entry("bob")
    assert entry["chatKind"] == "channel"
    assert entry["senderDisplayName"] == "Caz"


def test_6_9_muteuntil_expiry(h: Harness, push: PushProbe) -> None:
    """6.9 muteUntil expiry check."""
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "first")
    bob_chat = h.direct_chat_with("bob", "alice")
    push.subscribe("bob")
    # Control: while the mute window is active, nothing is pushed.
    h.update("bob", "Chat", bob_chat, {"muted": True, "muteUntil": future(3600)})
    h.send("alice", chat, "while muted")
    # The mute window has lapsed (muteUntil in the past): pushes resume.
    h.update("bob", "Chat", bob_chat, {"muted": True, "muteUntil": past(60)})
    h.send("alice", chat, "after the mute lapsed")
    entry = push.next_entry("bob")
    assert entry["chatId"] == bob_chat
    assert entry["bodySnippet"] == "after the mute lapsed", entry


def test_6_10_pushsubscription_validates_urgency(h: Harness) -> None:
    """6.10 PushSubscription/set validates urgency."""
    for config in ({"urgency": "invalid"}, {"urgency": "high", "mentionUrgency": "urgent"}):
        res = h.set(
            "bob",
            "PushSubscription",
            using=PUSH_USING,
            create={
                "s": {
                    "deviceClientId": "compliance-6-10",
                    "url": PUSH_URL,
                    "types": None,
                    "chatPush": {h.acct("bob"): config},
                }
            },
        )
        assert "s" not in (res.get("created") or {}), res
        # Push draft §ChatPushConfig: invalidArguments (not invalidProperties).
        assert res["notCreated"]["s"]["type"] == "invalidArguments", res
    # ... and nothing was stored.
    got = h.ok("bob", "PushSubscription/get", {"ids": None}, using=PUSH_USING)
    assert got["list"] == [], got
