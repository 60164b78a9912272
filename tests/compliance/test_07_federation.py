"""Compliance section 7: Federation.

Peer/* methods are server-to-server (draft-atwood-jmap-chat-federation-00) and cannot be
driven against a single server with owner credentials.  Where the reference server's relay
model has an observable equivalent (a message from one local user is delivered into every
member's account, which is what Peer/deliver, Peer/retract and Peer/receipt do between
mailboxes), the test checks that relay-path analogue and says so in its docstring.
"""

from __future__ import annotations

import pytest

from ._harness import Harness, is_utcdate, now


def test_7_1_retract_sets_deletedforall(h: Harness) -> None:
    """7.1 Peer/retract sets deletedForAll.

    Relay analogue: alice deletes her message with ``deletedForAll: true`` (the owner-side
    trigger of Peer/retract); bob's copy must become a tombstone with ``deletedForAll: true``.
    """
    chat = h.direct_chat("alice", "bob")
    msg = h.send("alice", chat, "oops")
    bob_chat = h.direct_chat_with("bob", "alice")
    (bob_msg,) = h.message_ids("bob", bob_chat)
    h.update("alice", "Message", msg, {"deletedAt": now(), "deletedForAll": True})
    mine = h.get1("alice", "Message", msg)
    assert mine is not None
    assert mine["deletedForAll"] is True
    assert is_utcdate(mine["deletedAt"])
    theirs = h.get1("bob", "Message", bob_msg)
    assert theirs is not None, "retraction leaves a tombstone, not a hard delete"
    assert theirs["deletedForAll"] is True, theirs
    assert is_utcdate(theirs["deletedAt"]), theirs
    assert theirs["body"] == ""
    # Only the sender may retract for everyone.
    reply = h.send("bob", bob_chat, "mine")
    (alice_copy,) = [m for m in h.message_ids("alice", chat) if m != msg]
    err = h.update_error(
        "alice", "Message", alice_copy, {"deletedAt": now(), "deletedForAll": True}
    )
    assert err["type"] in {"forbidden", "invalidProperties", "invalidArguments"}, err
    reply_obj = h.get1("bob", "Message", reply)
    assert reply_obj is not None
    assert reply_obj.get("deletedAt") is None, reply_obj


def test_7_2_inbound_delivery_fires_state_change(h: Harness) -> None:
    """7.2 Peer/deliver fires state-change events.

    Relay analogue: an inbound message delivered into bob's account must advance bob's
    Message state and be pushed as a ``state`` event on bob's EventSource.
    """
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "warm-up")  # bob's account now has the chat
    before = h.get("bob", "Message", [])["state"]
    with h.event_stream("bob") as stream:
        h.sync_stream("bob", stream)
        h.send("alice", chat, "new inbound")
        acct = h.acct("bob")
        event = stream.wait_for(
            lambda e: (
                e["event"] == "state"
                and "Message" in e["data"].get("changed", {}).get(acct, {})
                and e["data"]["changed"][acct]["Message"] != before
            )
        )
    after = h.get("bob", "Message", [])["state"]
    assert after != before
    assert event["data"]["@type"] == "StateChange"
    changes = h.ok("bob", "Message/changes", {"sinceState": before})
    assert len(changes["created"]) == 1, changes


@pytest.mark.skip(
    reason="federation: SpaceBan silent-drop response of Peer/deliver (receivedMsgId) is only "
    "observable by a calling peer server"
)
def test_7_3_peer_deliver_spaceban_receivedmsgid(h: Harness) -> None:
    """7.3 Peer/deliver SpaceBan returns String receivedMsgId."""


def test_7_4_delivered_edit_validated(h: Harness) -> None:
    """7.4 Peer/deliver edit validates steps 3-7.

    Relay analogue: an edit is delivered into every member's copy exactly like a Peer/deliver
    ``edit``. (a) bob has blocked alice: her edit must be silently dropped from bob's copy
    (draft §ChatContact.blocked: messages from a blocked contact are dropped). (b) bob lost
    ``send`` in a channel: his edit must be rejected.
    """
    chat = h.direct_chat("alice", "bob")
    msg = h.send("alice", chat, "original")
    bob_chat = h.direct_chat_with("bob", "alice")
    h.update("bob", "ChatContact", h.cid("alice"), {"blocked": True})
    # Silent drop: the sender is not told.
    h.update("alice", "Message", msg, {"body": "edited after the block"})
    (copy,) = h.messages("bob", bob_chat)
    assert copy["body"] == "original", copy
    assert copy.get("editedAt") is None, copy
    # (b) channel edit without `send`.
    sid, chan, _ = h.channel_setup({"bob": ["view", "send"]})
    mine = h.send("bob", chan, "bob says")
    h.update(
        "alice",
        "Space",
        sid,
        {
            "updateChannels": [
                {
                    "id": chan,
                    "permissionOverrides": [
                        {
                            "targetId": h.cid("bob"),
                            "targetType": "member",
                            "allow": [],
                            "deny": ["send"],
                        }
                    ],
                }
            ]
        },
    )
    err = h.update_error("bob", "Message", mine, {"body": "bob edits anyway"})
    assert err["type"] == "forbidden", err


def test_7_5_delivery_stores_mention_offset_length(h: Harness) -> None:
    """7.5 Peer/deliver stores mention offset/length.

    Relay analogue: the recipient's delivered copy keeps each mention's offset and length.
    """
    chat = h.direct_chat("alice", "bob")
    mention = {"id": h.cid("bob"), "offset": 5, "length": 3}
    h.send("alice", chat, "Hey, bob!", mentions=[mention])
    bob_chat = h.direct_chat_with("bob", "alice")
    (copy,) = h.messages("bob", bob_chat)
    assert copy["mentions"] == [mention], copy


def test_7_6_receipt_preserves_existing_fields(h: Harness) -> None:
    """7.6 Peer/receipt preserves existing fields.

    Relay analogue: in a group chat the sender's ``deliveryReceipts[bob]`` gets
    ``deliveredAt`` on delivery; when bob later reads (``readAt``), the earlier
    ``deliveredAt`` must survive.
    """
    _check_receipt_preservation(h)


def _check_receipt_preservation(h: Harness) -> None:
    chat = h.group_chat("alice", ["bob", "carol"], "receipts")
    msg = h.send("alice", chat, "status report")
    mine = h.get1("alice", "Message", msg)
    assert mine is not None
    receipts = mine.get("deliveryReceipts")
    assert isinstance(receipts, dict), mine
    bob_receipt = receipts[h.cid("bob")]
    delivered = bob_receipt.get("deliveredAt")
    assert is_utcdate(delivered), receipts
    bob_chat = h.chat_named("bob", "receipts")
    (bob_copy,) = h.message_ids("bob", bob_chat)
    h.update("bob", "Message", bob_copy, {"readAt": now()})
    mine = h.get1("alice", "Message", msg)
    assert mine is not None
    bob_receipt = mine["deliveryReceipts"][h.cid("bob")]
    assert is_utcdate(bob_receipt["readAt"]), bob_receipt
    assert bob_receipt["deliveredAt"] == delivered, bob_receipt
    assert bob_receipt.get("readDisposition") == "displayed", bob_receipt
    carol_receipt = mine["deliveryReceipts"][h.cid("carol")]
    assert carol_receipt.get("readAt") is None, carol_receipt


def test_7_7_devicedeliveredat_suppressed(h: Harness) -> None:
    """7.7 deviceDeliveredAt suppressed when receiptSharing=false.

    Relay analogue: the sender (alice) has ``PresenceStatus.receiptSharing: false``; when
    bob's copy is delivered and read, alice's ``deliveryReceipts[bob]`` records delivery but
    neither ``deviceDeliveredAt`` nor ``readAt`` (the opt-out is bidirectional, draft
    §ReadPosition / §PresenceStatus.receiptSharing).
    """
    h.update("alice", "PresenceStatus", h.presence_id("alice"), {"receiptSharing": False})
    chat = h.group_chat("alice", ["bob", "carol"], "private")
    msg = h.send("alice", chat, "do not tell me when you read this")
    (bob_copy,) = h.message_ids("bob", h.chat_named("bob", "private"))
    h.update("bob", "Message", bob_copy, {"readAt": now()})
    mine = h.get1("alice", "Message", msg)
    assert mine is not None
    receipt = mine["deliveryReceipts"][h.cid("bob")]
    assert is_utcdate(receipt["deliveredAt"]), receipt
    assert receipt.get("deviceDeliveredAt") is None, receipt
    assert receipt.get("readAt") is None, receipt
    assert receipt.get("readDisposition") is None, receipt
    # Outbound direction: alice reading bob's message shares no read time with bob.
    bob_msg = h.send("bob", h.chat_named("bob", "private"), "noted")
    (alice_copy,) = [m for m in h.message_ids("alice", chat) if m != msg]
    h.update("alice", "Message", alice_copy, {"readAt": now()})
    theirs = h.get1("bob", "Message", bob_msg)
    assert theirs is not None
    assert theirs["deliveryReceipts"][h.cid("alice")].get("readAt") is None, theirs


@pytest.mark.skip(
    reason="federation: peer authentication via the peer's /.well-known/jmap discovery needs a "
    "second (unreachable) server"
)
def test_7_8_peer_auth_rejects_on_discovery_failure(h: Harness) -> None:
    """7.8 Peer auth rejects on discovery failure."""


def test_7_9_direct_chat_with_remote_contact(h: Harness) -> None:
    """7.9 Direct chat contactId auto-creates placeholder."""
    remote = "dana@remote.example"
    created = h.create("alice", "Chat", {"kind": "direct", "contactId": remote})
    chat = h.get1("alice", "Chat", created["id"])
    assert chat is not None
    assert chat["kind"] == "direct"
    assert chat["contactId"] == remote


@pytest.mark.skip(
    reason="federation: the per-peer Peer/deliver rate limiter needs a peer server identity"
)
def test_7_10_peer_rate_limiter(h: Harness) -> None:
    """7.10 Peer rate limiter integrated."""
