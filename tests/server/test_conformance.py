"""The reference server keeps the draft's rules (issue 15), over raw HTTP.

Each test drives the real server through its ASGI app with the compliance harness
(no jmapchat client; one test also parses a reply with its models), so it checks the
wire contract.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.compliance import conftest as _raw_http
from tests.compliance._harness import PNG_1X1, Harness, wait_until

# the compliance suite's raw-HTTP fixtures: a fresh server with alice, bob and carol
server = _raw_http.server
client = _raw_http.client
h = _raw_http.h


# --- 5. kicks obey the role rank -------------------------------------------------------


def test_kick_needs_a_higher_role_than_the_target(h: Harness) -> None:
    sid, _chan, _roles = h.channel_setup({"bob": ["manage_members"], "carol": None})
    # bob (a low role with manage_members) cannot remove the owner ...
    err = h.update_error("bob", "Space", sid, {"removeMembers": [h.cid("alice")]})
    assert err["type"] == "forbidden", err
    members = {m["id"] for m in h.space_get("alice", sid)["members"]}
    assert h.cid("alice") in members
    # ... but can still remove carol (no role, ranks below him) and leave himself
    h.update("bob", "Space", sid, {"removeMembers": [h.cid("carol")]})
    h.update("bob", "Space", sid, {"removeMembers": [h.cid("bob")]})
    members = {m["id"] for m in h.space_get("alice", sid)["members"]}
    assert members == {h.cid("alice")}


def test_kick_of_an_equal_rank_is_refused(h: Harness) -> None:
    sid = h.space("alice")
    role = h.add_role("alice", sid, "mods", ["manage_members"], position=5)
    h.add_space_member("alice", sid, "bob", [role])
    h.add_space_member("alice", sid, "carol", [role])
    err = h.update_error("bob", "Space", sid, {"removeMembers": [h.cid("carol")]})
    assert err["type"] == "forbidden", err


# --- 6. reactions and mentions ---------------------------------------------------------


def _react(emoji: str = "👍", **more: Any) -> dict[str, Any]:
    from tests.compliance._harness import new_ulid

    return {f"reactions/{new_ulid()}": {"emoji": emoji, **more}}


def test_reaction_on_a_deleted_message_is_refused(h: Harness) -> None:
    chat = h.direct_chat("alice", "bob")
    mid = h.send("alice", chat, "soon gone")
    h.update("alice", "Message", mid, {"deletedAt": "2025-01-01T00:00:00Z", "deletedForAll": True})
    err = h.update_error("alice", "Message", mid, _react())
    assert err["type"] == "forbidden", err
    bob_chat = h.direct_chat_with("bob", "alice")
    (bob_copy,) = h.messages("bob", bob_chat)
    err = h.update_error("bob", "Message", bob_copy["id"], _react())
    assert err["type"] == "forbidden", err
    assert h.get1("alice", "Message", mid)["reactions"] == {}  # type: ignore[index]


def test_reaction_custom_emoji_must_exist(h: Harness) -> None:
    chat = h.direct_chat("alice", "bob")
    mid = h.send("alice", chat)
    err = h.update_error("alice", "Message", mid, _react(":party:", customEmojiId="Enope"))
    assert err["type"] == "invalidProperties", err
    blob = h.upload("alice", PNG_1X1, "image/png")
    emoji = h.create("alice", "CustomEmoji", {"name": "party", "blobId": blob["blobId"]})
    h.update("alice", "Message", mid, _react(":party:", customEmojiId=emoji["id"]))
    (reaction,) = h.get1("alice", "Message", mid)["reactions"].values()  # type: ignore[index]
    assert reaction["customEmojiId"] == emoji["id"]


def test_reaction_custom_emoji_of_a_foreign_space_is_refused(h: Harness) -> None:
    sid = h.space("carol")
    blob = h.upload("carol", PNG_1X1, "image/png")
    emoji = h.create(
        "carol", "CustomEmoji", {"name": "secret", "blobId": blob["blobId"], "spaceId": sid}
    )
    chat = h.direct_chat("alice", "bob")
    mid = h.send("alice", chat)
    err = h.update_error("alice", "Message", mid, _react(":secret:", customEmojiId=emoji["id"]))
    assert err["type"] == "invalidProperties", err


def test_mention_id_must_be_a_known_contact(h: Harness) -> None:
    chat = h.direct_chat("alice", "bob")
    body = "hi @ghost"
    err = h.send_error("alice", chat, body, mentions=[{"id": "ghost", "offset": 3, "length": 6}])
    assert err["type"] == "invalidProperties", err
    assert err.get("properties") == ["mentions"]
    h.send("alice", chat, "hi @bob", mentions=[{"id": h.cid("bob"), "offset": 3, "length": 4}])
    mid = h.send("alice", chat, "plain")
    err = h.update_error(
        "alice",
        "Message",
        mid,
        {"body": "hi @ghost", "mentions": [{"id": "ghost", "offset": 3, "length": 6}]},
    )
    assert err["type"] == "invalidProperties", err


def test_rich_mention_span_must_name_a_known_contact(h: Harness) -> None:
    from tests.compliance._harness import RICH, rich_body

    chat = h.direct_chat("alice", "bob")
    body = rich_body({"type": "mention", "text": "@ghost", "userId": "ghost"})
    err = h.send_error("alice", chat, body, bodyType=RICH)
    assert err["type"] == "invalidProperties", err
    ok = rich_body({"type": "mention", "text": "@bob", "userId": h.cid("bob")})
    h.send("alice", chat, ok, bodyType=RICH)


# --- 10. slow mode: serverRetryAfter ----------------------------------------------------


def test_slow_mode_gives_server_retry_after(h: Harness) -> None:
    sid, chan, _ = h.channel_setup({"bob": None})
    h.update("alice", "Space", sid, {"updateChannels": [{"id": chan, "slowModeSeconds": 600}]})
    first = h.get1("bob", "Message", h.send("bob", chan, "one"))
    assert first is not None
    err = h.send_error("bob", chan, "two")
    assert err["type"] == "rateLimited", err
    retry = err.get("serverRetryAfter")
    assert isinstance(retry, str), err
    assert retry.endswith("Z"), err
    when = datetime.fromisoformat(retry.replace("Z", "+00:00"))
    received = datetime.fromisoformat(first["receivedAt"].replace("Z", "+00:00"))
    # the first message's arrival + slowModeSeconds (to the millisecond, rounded up)
    assert 599.99 <= (when - received).total_seconds() <= 601
    assert when > datetime.now(UTC)
    # the client reads the UTCDate as seconds to wait
    from jmapchat.models import Message, SetResponse

    res = h.set("bob", "Message", create={"k": {"chatId": chan, "body": "3"}})
    limited = SetResponse[Message].model_validate(res).rate_limited
    assert limited is not None
    assert limited.retry_after is not None
    assert 0 < limited.retry_after <= 600


# --- 11. role colour and positions -----------------------------------------------------


@pytest.mark.parametrize("color", ["red", "#12345", "#ggg", 5, "5865f2"])
def test_role_color_must_be_hex(h: Harness, color: Any) -> None:
    sid = h.space("alice")
    role = {"name": "r", "permissions": [], "position": 3, "color": color}
    err = h.update_error("alice", "Space", sid, {"addRoles": [role]})
    assert err["type"] == "invalidProperties", err
    rid = h.add_role("alice", sid, "ok", [], position=4)
    err = h.update_error("alice", "Space", sid, {"updateRoles": [{"id": rid, "color": color}]})
    assert err["type"] == "invalidProperties", err


def test_role_color_hex_accepted(h: Harness) -> None:
    sid = h.space("alice")
    role = {"name": "r", "permissions": [], "position": 3, "color": "#5865f2"}
    h.update("alice", "Space", sid, {"addRoles": [role]})
    (r,) = [r for r in h.space_get("alice", sid)["roles"] if r["name"] == "r"]
    assert r["color"] == "#5865f2"
    h.update("alice", "Space", sid, {"updateRoles": [{"id": r["id"], "color": None}]})


def test_duplicate_role_positions_refused(h: Harness) -> None:
    sid = h.space("alice")
    rid = h.add_role("alice", sid, "a", [], position=7)
    err = h.update_error(
        "alice", "Space", sid, {"addRoles": [{"name": "b", "permissions": [], "position": 7}]}
    )
    assert err["type"] == "invalidProperties", err
    other = h.add_role("alice", sid, "c", [], position=8)
    err = h.update_error("alice", "Space", sid, {"updateRoles": [{"id": other, "position": 7}]})
    assert err["type"] == "invalidProperties", err
    # swapping in one update is fine: only the result must be unique
    h.update(
        "alice",
        "Space",
        sid,
        {"updateRoles": [{"id": rid, "position": 9}, {"id": other, "position": 7}]},
    )
    _ = wait_until


# --- 2. Quota/query and Quota/queryChanges ---------------------------------------------

QUOTA_USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:quota"]


def test_quota_query_filters_and_sorts(h: Harness) -> None:
    all_ids = h.ok("alice", "Quota/query", {}, QUOTA_USING)
    assert sorted(all_ids["ids"]) == ["chats", "messages", "storage"]
    assert all_ids["canCalculateChanges"] is True
    listed = h.ok("alice", "Quota/get", {"ids": None}, QUOTA_USING)
    assert all_ids["queryState"] == listed["state"]
    octets = h.ok("alice", "Quota/query", {"filter": {"resourceType": "octets"}}, QUOTA_USING)
    assert octets["ids"] == ["storage"]
    typed = h.ok(
        "alice",
        "Quota/query",
        {"filter": {"type": "Message", "scope": "account"}, "calculateTotal": True},
        QUOTA_USING,
    )
    assert sorted(typed["ids"]) == ["messages", "storage"]
    assert typed["total"] == 2
    named = h.ok("alice", "Quota/query", {"filter": {"name": "chat"}}, QUOTA_USING)
    assert named["ids"] == ["chats"]
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "one")
    h.send("alice", chat, "two")  # used: messages 2, chats 1, storage 0
    by_used = h.ok(
        "alice",
        "Quota/query",
        {"sort": [{"property": "used", "isAscending": False}], "limit": 1},
        QUOTA_USING,
    )
    assert by_used["ids"] == ["messages"]
    err = h.error("alice", "Quota/query", {"filter": {"color": "red"}}, QUOTA_USING)
    assert err["type"] == "unsupportedFilter"
    err = h.error("alice", "Quota/query", {"sort": [{"property": "id"}]}, QUOTA_USING)
    assert err["type"] == "unsupportedSort"


def test_quota_query_changes(h: Harness) -> None:
    first = h.ok("alice", "Quota/query", {"filter": {"type": "Message"}}, QUOTA_USING)
    same = h.ok(
        "alice",
        "Quota/queryChanges",
        {"filter": {"type": "Message"}, "sinceQueryState": first["queryState"]},
        QUOTA_USING,
    )
    assert same["removed"] == []
    assert same["added"] == []
    assert same["newQueryState"] == first["queryState"]
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat)
    changed = h.ok(
        "alice",
        "Quota/queryChanges",
        {"filter": {"type": "Message"}, "sinceQueryState": first["queryState"]},
        QUOTA_USING,
    )
    assert changed["newQueryState"] != first["queryState"]
    assert "messages" in changed["removed"]
    assert {a["id"] for a in changed["added"]} == set(first["ids"])
    err = h.error(
        "alice",
        "Quota/queryChanges",
        {"sinceQueryState": first["queryState"], "maxChanges": 1},
        QUOTA_USING,
    )
    assert err["type"] == "tooManyChanges"


# --- 3. unreadReplyCount on thread roots -------------------------------------------------


def test_unread_reply_count_on_thread_roots(h: Harness) -> None:
    assert h.account_caps("alice")["supportsThreads"] is True
    chat = h.direct_chat("alice", "bob")
    root = h.send("alice", chat, "root")
    plain = h.send("alice", chat, "no thread")
    bob_chat = h.direct_chat_with("bob", "alice")
    bob_root = next(m["id"] for m in h.messages("bob", bob_chat) if m["body"] == "root")
    r1 = h.send("bob", bob_chat, "reply 1", replyTo=bob_root)
    h.send("bob", bob_chat, "reply 2", threadRootId=bob_root)
    since = h.ok("alice", "Message/get", {"ids": []})["state"]
    h.send("bob", bob_chat, "reply to reply", replyTo=r1)
    got = {m["body"]: m for m in h.messages("alice", chat)}
    assert got["root"]["unreadReplyCount"] == 3
    assert got["root"]["replyCount"] == 1  # only direct replies (replyTo)
    assert got["no thread"]["unreadReplyCount"] == 0
    # replies are not thread roots: no unreadReplyCount
    assert "unreadReplyCount" not in got["reply 1"]
    # the new reply changed the root: it is reported by /changes
    changes = h.ok("alice", "Message/changes", {"sinceState": since})
    assert got["root"]["id"] in changes["updated"] + changes["created"]
    # reading up to the second reply leaves one unread reply
    rp = next(r for r in h.get("alice", "ReadPosition", None)["list"] if r["chatId"] == chat)
    since = h.ok("alice", "Message/get", {"ids": []})["state"]
    h.update("alice", "ReadPosition", rp["id"], {"lastReadMessageId": got["reply 2"]["id"]})
    assert h.get1("alice", "Message", root)["unreadReplyCount"] == 1  # type: ignore[index]
    changes = h.ok("alice", "Message/changes", {"sinceState": since})
    assert root in changes["updated"]
    h.update("alice", "ReadPosition", rp["id"], {"lastReadMessageId": got["reply to reply"]["id"]})
    assert h.get1("alice", "Message", root)["unreadReplyCount"] == 0  # type: ignore[index]
    # the sender's own copy of the root counts the same way (bob's account)
    assert h.get1("bob", "Message", bob_root)["unreadReplyCount"] == 3  # type: ignore[index]
    _ = plain


# --- 8. messageExpirySeconds is the chat's policy ----------------------------------------


def test_message_expiry_applies_to_messages_already_stored(h: Harness) -> None:
    chat = h.direct_chat("alice", "bob")
    old = h.send("alice", chat, "old news")
    far = h.send("alice", chat, "far sender deadline", senderExpiresAt="2999-01-01T00:00:00Z")
    bob_chat = h.direct_chat_with("bob", "alice")
    since = h.ok("alice", "Message/get", {"ids": []})["state"]
    h.update("alice", "Chat", chat, {"messageExpirySeconds": 1})
    # the sweep at the start of a request removes them once they are a second old
    # (``far`` was received a moment after ``old``, so wait for both: one sweep may fall
    # between their one-second marks)
    gone = wait_until(
        lambda: h.get1("alice", "Message", old) is None and h.get1("alice", "Message", far) is None,
        timeout=20,
    )
    assert gone  # the chat's earlier deadline wins over far's sender deadline
    changes = h.ok("alice", "Message/changes", {"sinceState": since})
    assert set(changes["destroyed"]) == {old, far}
    # each mailbox enforces its own policy: bob's copies stay
    assert len(h.messages("bob", bob_chat)) == 2


def test_message_expiry_cleared_keeps_messages(h: Harness) -> None:
    chat = h.direct_chat("alice", "bob")
    mid = h.send("alice", chat, "stay")
    h.update("alice", "Chat", chat, {"messageExpirySeconds": 2})
    h.update("alice", "Chat", chat, {"messageExpirySeconds": None})
    h.update("alice", "Chat", chat, {"messageExpirySeconds": 0})
    # a later message with a short sender deadline proves the sweep ran in the meantime
    probe = h.send("alice", chat, "probe", senderExpiresAt=_in_seconds(3))
    assert wait_until(lambda: h.get1("alice", "Message", probe) is None, timeout=20)
    assert h.get1("alice", "Message", mid) is not None


def _in_seconds(n: int) -> str:
    from datetime import timedelta

    return (datetime.now(UTC) + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- 7. pinnedMessageIds: one shared list per group / channel ---------------------------


def _local(h: Harness, user: str, chat: str, body: str) -> str:
    return next(m["id"] for m in h.messages(user, chat) if m["body"] == body)


def _pins(h: Harness, user: str, chat: str) -> list[str]:
    got = h.get1(user, "Chat", chat)
    assert got is not None
    pins: list[str] = got["pinnedMessageIds"]
    return pins


def test_group_pins_are_shared(h: Harness) -> None:
    chat = h.group_chat("alice", ["bob", "carol"])
    h.send("bob", chat, "first")
    h.send("carol", chat, "second")
    a1, a2 = _local(h, "alice", chat, "first"), _local(h, "alice", chat, "second")
    h.update("alice", "Chat", chat, {"pinnedMessageIds": [a2, a1]})
    assert _pins(h, "alice", chat) == [a2, a1]
    for user in ("bob", "carol"):
        assert _pins(h, user, chat) == [
            _local(h, user, chat, "second"),
            _local(h, user, chat, "first"),
        ]
    # only admins modify the list
    err = h.update_error("bob", "Chat", chat, {"pinnedMessageIds": []})
    assert err["type"] == "forbidden", err
    h.update("alice", "Chat", chat, {"pinnedMessageIds": []})
    assert _pins(h, "carol", chat) == []


def test_channel_pins_are_shared(h: Harness) -> None:
    sid, chan, _ = h.channel_setup({"bob": ["pin"], "carol": None})
    h.send("carol", chan, "pin me")
    h.update("bob", "Chat", chan, {"pinnedMessageIds": [_local(h, "bob", chan, "pin me")]})
    for user in ("alice", "carol"):
        assert _pins(h, user, chan) == [_local(h, user, chan, "pin me")]
    err = h.update_error("carol", "Chat", chan, {"pinnedMessageIds": []})
    assert err["type"] == "forbidden", err
    assert _pins(h, "alice", chan) == [_local(h, "alice", chan, "pin me")]
    _ = sid


def test_direct_pins_stay_per_account(h: Harness) -> None:
    chat = h.direct_chat("alice", "bob")
    mid = h.send("alice", chat, "mine")
    h.update("alice", "Chat", chat, {"pinnedMessageIds": [mid]})
    assert _pins(h, "bob", h.direct_chat_with("bob", "alice")) == []


# --- 9. a member who joins a channel later sees its history ------------------------------


def test_channel_joiner_gets_the_history(h: Harness) -> None:
    sid, chan, _ = h.channel_setup({"bob": ["pin"]}, public=True)
    h.send("alice", chan, "welcome")
    root = _local(h, "bob", chan, "welcome")
    h.send("bob", chan, "a reply", replyTo=root)
    gone = h.send("alice", chan, "retracted")
    h.update("alice", "Message", gone, {"deletedAt": "2025-01-01T00:00:00Z", "deletedForAll": True})
    edited = h.send("alice", chan, "draft")
    h.update("alice", "Message", edited, {"body": "final"})
    from tests.compliance._harness import new_ulid

    h.update("bob", "Message", root, {f"reactions/{new_ulid()}": {"emoji": "👋"}})
    h.update("bob", "Chat", chan, {"pinnedMessageIds": [root]})

    h.ok("carol", "Space/join", {"spaceId": sid})
    history = h.messages("carol", chan)
    assert [m["body"] for m in history] == ["welcome", "a reply", "final"]
    welcome, reply, final = history
    assert welcome["senderId"] == h.cid("alice")
    assert reply["senderId"] == h.cid("bob")
    assert reply["replyTo"] == welcome["id"]
    assert reply["threadRootId"] == welcome["id"]
    assert welcome["replyCount"] == 1
    assert [r["senderId"] for r in welcome["reactions"].values()] == [h.cid("bob")]
    assert final["editedAt"] is not None
    assert final["editHistory"]
    assert all(m["deliveryState"] == "received" and m["readAt"] is None for m in history)
    # history arrives read, pins point at carol's own copies
    chat = h.get1("carol", "Chat", chan)
    assert chat is not None
    assert chat["unreadCount"] == 0
    assert chat["lastMessageAt"] is not None
    assert chat["pinnedMessageIds"] == [welcome["id"]]
    # and the conversation goes on for her like for everyone else
    h.send("alice", chan, "hello carol")
    assert h.get1("carol", "Chat", chan)["unreadCount"] == 1  # type: ignore[index]


def test_channel_history_respects_view_and_blocks(h: Harness) -> None:
    sid = h.space("alice")
    secret = h.add_channel("alice", sid, "secret")
    open_chan = h.add_channel("alice", sid, "open")
    h.update(
        "alice",
        "Space",
        sid,
        {
            "updateChannels": [
                {
                    "id": secret,
                    "permissionOverrides": [
                        {
                            "targetId": h.cid("carol"),
                            "targetType": "member",
                            "allow": [],
                            "deny": ["view"],
                        }
                    ],
                }
            ]
        },
    )
    h.add_space_member("alice", sid, "bob")
    h.send("alice", secret, "not for carol")
    h.send("bob", open_chan, "from bob")
    h.send("alice", open_chan, "from alice")
    carol_bob = h.get1("carol", "ChatContact", h.cid("bob"))
    assert carol_bob is not None
    h.update("carol", "ChatContact", h.cid("bob"), {"blocked": True})
    h.add_space_member("alice", sid, "carol")
    assert h.messages("carol", secret) == []
    assert [m["body"] for m in h.messages("carol", open_chan)] == ["from alice"]


# --- 1. Blob/upload, Blob/get (blob2 as advertised) and Blob/copy ------------------------

BLOB_USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:blob2"]


def test_blob_capability_is_honoured(h: Harness) -> None:
    caps = h.account_caps("alice", "urn:ietf:params:jmap:blob2")
    assert caps["maxDataSources"] >= 64  # RFC 9404's floor
    assert "sha-256" in caps["supportedDigestAlgorithms"]


def test_blob_upload_then_get_in_one_request(h: Harness) -> None:
    import base64
    import hashlib

    up = h.client.post(
        h.url("alice", "apiUrl"),
        headers={**h.headers("alice"), "Content-Type": "application/json"},
        json={
            "using": BLOB_USING,
            "methodCalls": [
                [
                    "Blob/upload",
                    {
                        "accountId": h.acct("alice"),
                        "create": {
                            "t": {
                                "data": [{"data:asText": "hello "}, {"data:asText": "world"}],
                                "type": "text/plain",
                            },
                            "b": {
                                "data": [{"data:asBase64": base64.b64encode(b"\xff\x00").decode()}]
                            },
                            "cat": {
                                "data": [
                                    {"blobId": "#t", "offset": 6, "length": 5},
                                    {"data:asText": "!"},
                                ]
                            },
                            "bad": {"data": [{"data:asText": "x", "data:asBase64": "eA=="}]},
                            "gone": {"data": [{"blobId": "Bnope"}]},
                        },
                    },
                    "u",
                ],
                [
                    "Blob/get",
                    {
                        "accountId": h.acct("alice"),
                        "ids": ["#t", "#b", "#cat", "Bnope"],
                        "properties": ["data", "size", "digest:sha-256"],
                    },
                    "g",
                ],
            ],
        },
    )
    assert up.status_code == 200, up.text
    (_, upload, _), (_, got, _) = up.json()["methodResponses"]
    created = upload["created"]
    assert created["t"]["size"] == 11
    assert created["t"]["type"] == "text/plain"
    assert created["b"]["type"] == "application/octet-stream"
    assert set(upload["notCreated"]) == {"bad", "gone"}
    assert upload["notCreated"]["bad"]["type"] == "invalidProperties"
    by_id = {b["id"]: b for b in got["list"]}
    text = by_id[created["t"]["id"]]
    assert text["data:asText"] == "hello world"
    assert text["size"] == 11
    assert (
        text["digest:sha-256"] == base64.b64encode(hashlib.sha256(b"hello world").digest()).decode()
    )
    binary = by_id[created["b"]["id"]]
    assert binary["data:asBase64"] == "/wA="
    assert "data:asText" not in binary
    assert by_id[created["cat"]["id"]]["data:asText"] == "world!"
    assert got["notFound"] == ["Bnope"]
    # the created blob is an ordinary blob: downloadable, usable as an attachment
    assert h.download("alice", created["t"]["id"]).content == b"hello world"
    too_many = {"data": [{"data:asText": "x"}] * 65}
    res = h.ok("alice", "Blob/upload", {"create": {"many": too_many}}, BLOB_USING)
    assert res["notCreated"]["many"]["type"] == "tooLarge"
    chat = h.direct_chat("alice", "bob")
    att = {
        "blobId": created["t"]["id"],
        "filename": "hw.txt",
        "contentType": "text/plain",
    }
    h.send("alice", chat, "see attachment", attachments=[att])


def test_blob_get_ranges_and_encodings(h: Harness) -> None:
    blob = h.upload("alice", "héllo".encode(), "text/plain")
    bid = blob["blobId"]
    res = h.ok(
        "alice",
        "Blob/get",
        {
            "ids": [bid],
            "properties": ["data:asText", "data:asBase64", "size"],
            "offset": 1,
            "length": 2,
        },
        BLOB_USING,
    )
    (item,) = res["list"]
    assert item["data:asBase64"] == "w6k="  # the two bytes of "é"
    assert item["data:asText"] == "é"
    assert item["size"] == 6
    cut = h.ok(
        "alice", "Blob/get", {"ids": [bid], "properties": ["data:asText"], "length": 2}, BLOB_USING
    )["list"][0]
    assert cut["data:asText"] is None
    assert cut["isEncodingProblem"] is True
    past = h.ok("alice", "Blob/get", {"ids": [bid], "offset": 4, "length": 10}, BLOB_USING)["list"][
        0
    ]
    assert past["isTruncated"] is True
    assert past["data:asText"] == "lo"
    assert h.error("alice", "Blob/get", {"ids": None}, BLOB_USING)["type"] == "invalidArguments"
    err = h.error("alice", "Blob/get", {"ids": [bid], "properties": ["colour"]}, BLOB_USING)
    assert err["type"] == "invalidArguments"
    # another account's blob is not readable
    assert h.ok("bob", "Blob/get", {"ids": [bid]}, BLOB_USING)["notFound"] == [bid]
    # Blob/get needs the blob capability in `using`
    name, err = h.call("alice", "Blob/get", {"ids": [bid]})
    assert name == "error"
    assert err["type"] == "unknownMethod"


def test_blob_copy(h: Harness) -> None:
    mine = h.upload("alice", b"copy me", "text/plain")["blobId"]
    theirs = h.upload("bob", b"bob's", "text/plain")["blobId"]
    res = h.ok(
        "alice",
        "Blob/copy",
        {"fromAccountId": h.acct("alice"), "accountId": h.acct("alice"), "blobIds": [mine, theirs]},
    )
    assert res["copied"] == {mine: mine}
    assert res["notCopied"][theirs]["type"] == "notFound"
    err = h.error(
        "alice",
        "Blob/copy",
        {"fromAccountId": h.acct("bob"), "accountId": h.acct("alice"), "blobIds": [theirs]},
    )
    assert err["type"] == "fromAccountNotFound"
    err = h.error(
        "alice",
        "Blob/copy",
        {"fromAccountId": h.acct("alice"), "accountId": h.acct("bob"), "blobIds": [mine]},
    )
    assert err["type"] == "accountNotFound"


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 30, 30, 255)).save(buf, format="PNG")
    return buf.getvalue()


def test_blob_convert_makes_a_thumbnail(h: Harness) -> None:
    import io

    from PIL import Image

    src = h.upload("alice", _png(40, 20), "image/png")["blobId"]
    text = h.upload("alice", b"not an image", "text/plain")["blobId"]
    res = h.ok(
        "alice",
        "Blob/convert",
        {
            "create": {
                "thumb": {"imageConvert": {"blobId": src, "type": "image/jpeg", "width": 10}},
                "webp": {"imageConvert": {"blobId": src, "type": "image/webp", "height": 5}},
                "text": {"imageConvert": {"blobId": text, "type": "image/png"}},
                "tiff": {"imageConvert": {"blobId": src, "type": "image/tiff"}},
                "gone": {"imageConvert": {"blobId": "Bnope", "type": "image/png"}},
                "zip": {"archive": {"blobIds": [src]}},
            }
        },
        BLOB_USING,
    )
    assert set(res["created"]) == {"thumb", "webp"}
    assert set(res["notCreated"]) == {"text", "tiff", "gone", "zip"}
    assert all(e["type"] == "invalidProperties" for e in res["notCreated"].values())
    thumb = res["created"]["thumb"]
    assert thumb["type"] == "image/jpeg"
    with Image.open(io.BytesIO(h.download("alice", thumb["id"]).content)) as img:
        assert img.format == "JPEG"
        assert img.size == (10, 5)
    with Image.open(io.BytesIO(h.download("alice", res["created"]["webp"]["id"]).content)) as img:
        assert img.format == "WEBP"
        assert img.size == (10, 5)
    # another account cannot convert alice's blob
    err = h.ok(
        "bob",
        "Blob/convert",
        {"create": {"x": {"imageConvert": {"blobId": src, "type": "image/png"}}}},
        BLOB_USING,
    )
    assert err["notCreated"]["x"]["type"] == "invalidProperties"


def test_channel_history_when_view_is_granted_later(h: Harness) -> None:
    sid, chan, _ = h.channel_setup({"bob": None, "carol": None})
    deny = {"targetId": h.cid("carol"), "targetType": "member", "allow": [], "deny": ["view"]}

    def overrides(*entries: dict[str, Any]) -> None:
        h.update(
            "alice",
            "Space",
            sid,
            {"updateChannels": [{"id": chan, "permissionOverrides": list(entries)}]},
        )

    overrides(deny)
    h.send("alice", chan, "one")
    h.send("bob", chan, "two")
    assert h.messages("carol", chan) == []
    overrides()  # carol may view the channel now: she gets what she missed
    assert [m["body"] for m in h.messages("carol", chan)] == ["one", "two"]
    assert h.get1("carol", "Chat", chan)["unreadCount"] == 0  # type: ignore[index]
    h.send("alice", chan, "three")
    overrides(deny)
    h.send("alice", chan, "four (missed)")
    overrides()  # only the gap is filled, nothing twice; her read position is kept
    assert [m["body"] for m in h.messages("carol", chan)] == [
        "one",
        "two",
        "three",
        "four (missed)",
    ]
    assert h.get1("carol", "Chat", chan)["unreadCount"] == 2  # type: ignore[index]
