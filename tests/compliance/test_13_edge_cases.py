"""Compliance section 13: Late-Discovery Edge Cases (Rounds 15-22)."""

from __future__ import annotations

import pytest

from ._harness import CHAT, PNG_1X1, RICH, Harness, now, past, rich_body
from ._push import PushProbe
from .test_07_federation import _check_receipt_preservation

CHAT_LIMIT_KEYS = (
    "maxBodyBytes",
    "maxAttachmentBytes",
    "maxAttachmentsPerMessage",
    "supportedBodyTypes",
    "supportsThreads",
)


def test_13_1_session_chat_capability_exactly_empty(h: Harness) -> None:
    """13.1 Session-level chat capability must be empty `{}`."""
    session = h.session("alice")
    assert session["capabilities"][CHAT] == {}
    for account in session["accounts"].values():
        chat = account["accountCapabilities"][CHAT]
        for key in CHAT_LIMIT_KEYS:
            assert key in chat, (key, chat)


def test_13_2_direct_chat_remote_contact(h: Harness) -> None:
    """13.2 Direct chat contactId accepts remote/federated users."""
    created = h.create("alice", "Chat", {"kind": "direct", "contactId": "remote.peer.example"})
    chat = h.get1("alice", "Chat", created["id"])
    assert chat is not None
    assert chat["contactId"] == "remote.peer.example"
    # A message to the remote contact is accepted (delivery is the outbox's business).
    h.send("alice", created["id"], "hello over there")


def test_13_3_customemoji_unique_within_scope(h: Harness) -> None:
    """13.3 CustomEmoji name uniqueness within scope."""
    s1 = h.space("alice", "One")
    s2 = h.space("alice", "Two")
    blob = h.upload("alice", PNG_1X1, "image/png")["blobId"]
    h.create("alice", "CustomEmoji", {"name": "wave", "blobId": blob, "spaceId": s1})
    err = h.create_error("alice", "CustomEmoji", {"name": "wave", "blobId": blob, "spaceId": s1})
    assert err["type"] == "alreadyExists", err
    # Different scope: fine.
    h.create("alice", "CustomEmoji", {"name": "wave", "blobId": blob, "spaceId": s2})
    # Two creates with the same name in one /set call: at most one succeeds.
    res = h.set(
        "alice",
        "CustomEmoji",
        create={
            "a": {"name": "dup", "blobId": blob, "spaceId": s1},
            "b": {"name": "dup", "blobId": blob, "spaceId": s1},
        },
    )
    assert len(res.get("created") or {}) == 1, res
    (err,) = (res.get("notCreated") or {}).values()
    assert err["type"] == "alreadyExists", err
    # Server-global scope (no spaceId) is its own scope, shared by every account. Who may
    # create global emoji is implementation-defined (`forbidden` is allowed).
    res = h.set("alice", "CustomEmoji", create={"g": {"name": "wave", "blobId": blob}})
    if "g" in (res.get("notCreated") or {}):
        assert res["notCreated"]["g"]["type"] == "forbidden", res
        return
    blob_b = h.upload("bob", PNG_1X1, "image/png")["blobId"]
    err = h.create_error("bob", "CustomEmoji", {"name": "wave", "blobId": blob_b})
    assert err["type"] in {"alreadyExists", "forbidden"}, err


def test_13_4_chatmember_role_restricted(h: Harness) -> None:
    """13.4 ChatMember role restricted to admin|member."""
    # Compliance drives this via Peer/groupUpdate (federation); the owner path Chat/set
    # (addMembers / updateMemberRoles) is the single-server equivalent.
    chat = h.group_chat("alice", ["bob"], "roles")
    for role in ("owner", "guest"):
        res = h.set(
            "alice",
            "Chat",
            update={chat: {"updateMemberRoles": [{"id": h.cid("bob"), "role": role}]}},
        )
        if chat in (res.get("notUpdated") or {}):
            assert res["notUpdated"][chat]["type"] in {"invalidProperties", "invalidArguments"}
        got = h.get1("alice", "Chat", chat)
        assert got is not None
        assert {m["role"] for m in got["members"]} <= {"admin", "member"}, got["members"]
        bob = next(m for m in got["members"] if m["id"] == h.cid("bob"))
        assert bob["role"] == "member", bob
    # Admin checks accept only role == "admin": bob (never validly promoted) may not rename.
    bob_chat = h.chat_named("bob", "roles")
    err = h.update_error("bob", "Chat", bob_chat, {"name": "hijacked"})
    assert err["type"] == "forbidden", err


@pytest.mark.skip(
    reason="federation: Peer/deliver response (receivedMsgId) for a space-banned sender is only "
    "observable by a calling peer server"
)
def test_13_5_spaceban_silent_drop_receivedmsgid(h: Harness) -> None:
    """13.5 SpaceBan silent-drop response has String receivedMsgId."""


def test_13_6_receipt_preserves_stored_fields(h: Harness) -> None:
    """13.6 Peer/receipt preserves previously-stored fields.

    Relay analogue (see 7.6): delivery sets deliveredAt in the sender's deliveryReceipts,
    a later read sets readAt without clearing deliveredAt.
    """
    _check_receipt_preservation(h)


def test_13_7_devicedeliveredat_suppressed_unconditionally(h: Harness) -> None:
    """13.7 deviceDeliveredAt suppressed unconditionally when receiptSharing=false.

    Relay analogue: the *effective* preference counts — here a per-Chat
    ``receiptSharing: false`` override while the account-level preference stays true. In
    that chat no deviceDeliveredAt / readAt is recorded for recipients, whether or not they
    read; in another chat receipts still flow (control).
    """
    quiet = h.group_chat("alice", ["bob"], "quiet")
    loud = h.group_chat("alice", ["bob"], "loud")
    h.update("alice", "Chat", quiet, {"receiptSharing": False})
    unread = h.send("alice", quiet, "unread one")
    read = h.send("alice", quiet, "read one")
    control = h.send("alice", loud, "control")
    bob_quiet = h.message_ids("bob", h.chat_named("bob", "quiet"))
    (bob_loud,) = h.message_ids("bob", h.chat_named("bob", "loud"))
    h.update("bob", "Message", bob_quiet[-1], {"readAt": now()})
    h.update("bob", "Message", bob_loud, {"readAt": now()})
    for msg in (unread, read):
        got = h.get1("alice", "Message", msg)
        assert got is not None
        receipt = got["deliveryReceipts"][h.cid("bob")]
        assert receipt.get("deviceDeliveredAt") is None, receipt
        assert receipt.get("readAt") is None, receipt
    got = h.get1("alice", "Message", control)
    assert got is not None
    assert got["deliveryReceipts"][h.cid("bob")]["readAt"] is not None, got


def test_13_8_rich_body_mention_guard_update_path(h: Harness) -> None:
    """13.8 Rich body mention guard in update AND federation edit paths."""
    if RICH not in h.account_caps("alice")["supportedBodyTypes"]:
        pytest.skip("server does not advertise application/jmap-chat-rich")
    chat = h.direct_chat("alice", "bob")
    plain = h.send("alice", chat, "hello bob")
    body = rich_body({"type": "mention", "text": "@bob", "userId": h.cid("bob")})
    # Editing a plain message into a rich one while carrying mentions must be rejected.
    err = h.update_error(
        "alice",
        "Message",
        plain,
        {
            "body": body,
            "bodyType": RICH,
            "mentions": [{"id": h.cid("bob"), "offset": 0, "length": 4}],
        },
    )
    assert err["type"] in {"invalidArguments", "invalidProperties"}, err
    got = h.get1("alice", "Message", plain)
    assert got is not None
    assert got["body"] == "hello bob"
    assert got["bodyType"] == "text/plain"
    # A rich message cannot gain mentions through an update either.
    rich = h.send("alice", chat, body, bodyType=RICH)
    err = h.update_error(
        "alice", "Message", rich, {"mentions": [{"id": h.cid("bob"), "offset": 0, "length": 4}]}
    )
    assert err["type"] in {"invalidArguments", "invalidProperties"}, err
    # (The Peer/deliver edit path is federation-only.)


def test_13_9_rich_body_inline_spans_in_push(h: Harness, push: PushProbe) -> None:
    """13.9 Rich body inline span parsing for push mentions."""
    if RICH not in h.account_caps("alice")["supportedBodyTypes"]:
        pytest.skip("server does not advertise application/jmap-chat-rich")
    _sid, chan, _ = h.channel_setup({"bob": ["view", "send"]})
    push.subscribe("bob")
    chat = h.direct_chat("alice", "bob")
    h.send(
        "alice",
        chat,
        rich_body({"type": "mention", "text": "@bob", "userId": h.cid("bob")}),
        bodyType=RICH,
    )
    entry = push.next_entry("bob")
    assert entry["hasMention"] is True, entry
    h.send(
        "alice",
        chan,
        rich_body(
            {"type": "broadcast", "text": "@everyone", "scope": "everyone"},
            {"type": "text", "text": " standup now"},
        ),
        bodyType=RICH,
    )
    entry = push.next_entry("bob")
    assert entry["chatId"] == chan
    assert "everyone" in entry["mentionScopes"], entry


def test_13_10_delivery_mention_offset_length_stored(h: Harness) -> None:
    """13.10 Peer/deliver mention offset/length must be stored.

    Relay analogue: the delivered copy in each member's account keeps offset and length.
    """
    chat = h.group_chat("alice", ["bob", "carol"], "mentions")
    mentions = [
        {"id": h.cid("bob"), "offset": 6, "length": 4},
        {"id": h.cid("carol"), "offset": 15, "length": 6},
    ]
    h.send("alice", chat, "Hello @bob and @carol!", mentions=mentions)
    for user in ("bob", "carol"):
        (copy,) = h.messages(user, h.chat_named(user, "mentions"))
        assert copy["mentions"] == mentions, (user, copy)


def test_13_11_slow_mode_uses_receivedat(h: Harness) -> None:
    """13.11 Slow mode must use received_at, not sent_at.

    Relay analogue of the Peer/deliver case: bob's second message claims a sentAt 120 s in
    the past but arrives immediately; slow mode still rejects it.
    """
    sid, chan, _ = h.channel_setup({"bob": ["view", "send"]})
    h.update("alice", "Space", sid, {"updateChannels": [{"id": chan, "slowModeSeconds": 60}]})
    h.send("bob", chan, "first")
    err = h.send_error("bob", chan, "backdated", sentAt=past(120))
    assert err["type"] in {"rateLimited", "rateLimit"}, err
