"""Compliance section 1: Data Types — field names and types."""

from __future__ import annotations

import pytest

from ._harness import Harness, is_utcdate, now


def _acquaint(h: Harness, a: str = "alice", b: str = "bob") -> tuple[str, str]:
    """a opens a direct chat with b and says hello; returns (a's chatId, messageId)."""
    chat = h.direct_chat(a, b)
    msg = h.send(a, chat, "hello")
    return chat, msg


def test_1_1_chatcontact_identity_model(h: Harness) -> None:
    """1.1 ChatContact identity model."""
    _acquaint(h)
    res = h.get("alice", "ChatContact", None)
    ids = [c["id"] for c in res["list"]]
    # ChatContact.id is exactly the auth-layer userId (the server's contact_ids), never a
    # surrogate; every contact alice knows is a user of this server.
    assert h.cid("bob") in ids, res
    known = {h.cid(u) for u in ("alice", "bob", "carol")}
    assert set(ids) <= known, (ids, known)
    for contact in res["list"]:
        assert "contactUserId" not in contact
        assert "userId" not in contact
    # Fetching by the userId works directly.
    one = h.get("alice", "ChatContact", [h.cid("bob")])
    assert [c["id"] for c in one["list"]] == [h.cid("bob")]
    assert one.get("notFound") in ([], None)
    # If the Session advertises the owner's userId, it is the same identity string.
    owner = h.session("bob").get("ownerUserId")
    if owner is not None:
        assert owner == h.cid("bob")


CONTACT_PROPS = [
    "id",
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
]


def test_1_2_chatcontact_required_fields(h: Harness) -> None:
    """1.2 ChatContact required fields."""
    _acquaint(h)
    res = h.get("alice", "ChatContact", None)
    assert res["list"], res
    for c in res["list"]:
        # RFC 8620 §5.1: with `properties` omitted, *all* properties are returned, so every
        # listed key is present; the draft's optional ones (displayName, presence,
        # lastActiveAt, statusText, statusEmoji, endpoints) may be null.
        missing = [key for key in CONTACT_PROPS if key not in c]
        assert missing == [], (missing, c)
        # Required values (draft §ChatContact).
        assert isinstance(c["id"], str)
        assert c["id"]
        assert isinstance(c["login"], str)
        assert c["login"].strip()
        assert isinstance(c["blocked"], bool)
        assert is_utcdate(c["firstSeenAt"]), c
        assert is_utcdate(c["lastSeenAt"]), c
        # Optional values are well-typed when not null.
        for key in ("displayName", "statusText", "statusEmoji"):
            assert c[key] is None or isinstance(c[key], str), (key, c)
        if c["presence"] is not None:
            assert c["presence"] in {"online", "away", "busy", "invisible", "offline"}, c
        if c["lastActiveAt"] is not None:
            assert is_utcdate(c["lastActiveAt"]), c
        if c["endpoints"] is not None:
            assert isinstance(c["endpoints"], list), c
    # Explicitly requesting every listed property returns exactly those keys.
    res2 = h.get("alice", "ChatContact", [h.cid("bob")], properties=CONTACT_PROPS)
    assert len(res2["list"]) == 1
    assert set(res2["list"][0]) == set(CONTACT_PROPS), res2


@pytest.mark.skip(
    reason="federation: needs a Peer/deliver from a remote peer server (serverUrl/directAddress "
    "come from the peer's /.well-known/jmap); not exercisable against a single server"
)
def test_1_3_chatcontact_federation_fields(h: Harness) -> None:
    """1.3 ChatContact federation fields."""


def test_1_4_message_deletedat_is_utcdate(h: Harness) -> None:
    """1.4 Message.deletedAt is UTCDate, not Boolean."""
    _chat, msg = _acquaint(h)
    # The compliance doc deletes via Message/set destroy; the draft (§Deleting a Message)
    # deletes via `update` with `deletedAt`, keeping a tombstone. The project follows the draft.
    h.update("alice", "Message", msg, {"deletedAt": now()})
    got = h.get1("alice", "Message", msg)
    assert got is not None, "a soft-deleted message keeps a tombstone"
    assert is_utcdate(got["deletedAt"]), got
    assert got["deletedAt"] is not True
    assert "deleted" not in got
    assert got["body"] == ""
    assert got.get("attachments", []) == []
    assert not got.get("deletedForAll"), "a plain delete is local only"
    # Local delete: bob's delivered copy is untouched.
    bob_chat = h.direct_chat_with("bob", "alice")
    (copy,) = h.messages("bob", bob_chat)
    assert copy["body"] == "hello"
    assert copy.get("deletedAt") is None


def test_1_5_readposition_has_server_assigned_id(h: Harness) -> None:
    """1.5 ReadPosition has server-assigned id."""
    _acquaint(h)
    bob_chat = h.direct_chat_with("bob", "alice")
    bob_msgs = h.message_ids("bob", bob_chat)
    assert bob_msgs
    res = h.get("bob", "ReadPosition", None)
    rps = [rp for rp in res["list"] if rp.get("chatId") == bob_chat]
    assert len(rps) == 1, res
    rp = rps[0]
    assert isinstance(rp["id"], str)
    assert rp["id"]
    assert rp["id"] != rp["chatId"]
    h.update("bob", "ReadPosition", rp["id"], {"lastReadMessageId": bob_msgs[-1]})
    res2 = h.get("bob", "ReadPosition", None)
    again = [x for x in res2["list"] if x.get("chatId") == bob_chat]
    assert [x["id"] for x in again] == [rp["id"]]
    assert again[0]["lastReadMessageId"] == bob_msgs[-1]


def test_1_6_readposition_field_name_is_lastreadat(h: Harness) -> None:
    """1.6 ReadPosition field name is lastReadAt."""
    _acquaint(h)
    bob_chat = h.direct_chat_with("bob", "alice")
    last = h.message_ids("bob", bob_chat)[-1]
    rp = next(x for x in h.get("bob", "ReadPosition", None)["list"] if x["chatId"] == bob_chat)
    h.update("bob", "ReadPosition", rp["id"], {"lastReadMessageId": last})
    rp = h.get1("bob", "ReadPosition", rp["id"])
    assert rp is not None
    assert is_utcdate(rp["lastReadAt"]), rp
    assert "updatedAt" not in rp


def test_1_7_chatmember_invitedby(h: Harness) -> None:
    """1.7 ChatMember.invitedBy field."""
    chat = h.group_chat("alice", ["bob"], "team")
    h.update("alice", "Chat", chat, {"addMembers": [{"id": h.cid("carol")}]})
    got = h.get1("alice", "Chat", chat)
    assert got is not None
    members = {m["id"]: m for m in got["members"]}
    assert h.cid("carol") in members, got
    assert h.cid("bob") in members, got
    # The creator is a member too; identify alice's entry (whatever id the server uses for
    # the owner in her own view) as the one that is neither bob nor carol.
    others = [mid for mid in members if mid not in (h.cid("bob"), h.cid("carol"))]
    assert len(others) == 1, got
    alice_id = others[0]
    assert alice_id == h.cid("alice"), got
    assert members[h.cid("carol")].get("invitedBy") == alice_id, members
    # The creator was not invited by anyone.
    assert members[alice_id].get("invitedBy") is None, members


def test_1_8_message_receivedat_is_required(h: Harness) -> None:
    """1.8 Message.receivedAt is required."""
    _chat, msg = _acquaint(h)
    got = h.get1("alice", "Message", msg)
    assert got is not None
    assert is_utcdate(got["receivedAt"]), got
    # ... also on the recipient's copy.
    bob_chat = h.direct_chat_with("bob", "alice")
    bob_msgs = h.messages("bob", bob_chat)
    assert bob_msgs
    for m in bob_msgs:
        assert is_utcdate(m["receivedAt"]), m
    # ... and when only a few properties are requested, receivedAt can still be asked for.
    res = h.get("alice", "Message", [msg], properties=["receivedAt"])
    assert is_utcdate(res["list"][0]["receivedAt"])


def test_1_9_chatmember_role_values(h: Harness) -> None:
    """1.9 ChatMember role values: admin|member only."""
    # The compliance doc drives this through Peer/groupUpdate (federation). Against a single
    # server the same wire rule is exercised through the owner path: Chat/set addMembers /
    # updateMemberRoles with roles outside {"admin", "member"} must be rejected or normalised.
    chat = h.group_chat("alice", ["bob"], "roles")
    res = h.set(
        "alice",
        "Chat",
        update={chat: {"addMembers": [{"id": h.cid("carol"), "role": "owner"}]}},
    )
    if chat in (res.get("notUpdated") or {}):
        assert res["notUpdated"][chat]["type"] in {"invalidProperties", "invalidArguments"}
    else:
        assert chat in res["updated"], res
    got = h.get1("alice", "Chat", chat)
    assert got is not None
    for m in got["members"]:
        assert m["role"] in {"admin", "member"}, got["members"]
    carol = [m for m in got["members"] if m["id"] == h.cid("carol")]
    if carol:
        assert carol[0]["role"] == "member"


def test_1_10_readposition_lastreadmessageid_optional(h: Harness) -> None:
    """1.10 ReadPosition.lastReadMessageId is optional."""
    _acquaint(h)
    bob_chat = h.direct_chat_with("bob", "alice")
    rps = [x for x in h.get("bob", "ReadPosition", None)["list"] if x["chatId"] == bob_chat]
    assert len(rps) == 1
    # bob has read nothing yet: the field is absent or null ...
    assert rps[0].get("lastReadMessageId") is None, rps
    # ... and everything counts as unread.
    chat = h.get1("bob", "Chat", bob_chat)
    assert chat is not None
    assert chat["unreadCount"] == len(h.message_ids("bob", bob_chat)) == 1
