"""Compliance section 4: Validation."""

from __future__ import annotations

import pytest

from ._harness import PNG_1X1, RICH, Harness, rich_body

# The draft names `invalidArguments` for most input-validation failures on Message/set; the
# compliance doc (derived from one implementation) uses `invalidProperties`/`tooLarge` in
# places. Both are accepted where the draft does not pin the error down.
REJECT = {"invalidArguments", "invalidProperties"}


def test_4_1_maxbodybytes_enforcement(h: Harness) -> None:
    """4.1 maxBodyBytes enforcement."""
    limit = h.account_caps("alice")["maxBodyBytes"]
    core = h.session("alice")["capabilities"]["urn:ietf:params:jmap:core"]
    if limit + 1_000 > core["maxSizeRequest"]:
        pytest.skip(f"maxBodyBytes {limit} too close to maxSizeRequest to build a request")
    chat = h.direct_chat("alice", "bob")
    # Exactly at the limit is accepted.
    h.send("alice", chat, "a" * limit)
    # Draft (§capability): "MUST reject messages exceeding this limit with invalidArguments";
    # compliance 4.1 expects SetError `tooLarge`. Project follows the draft, accepts both.
    err = h.send_error("alice", chat, "a" * (limit + 1))
    assert err["type"] in {"invalidArguments", "tooLarge"}, err
    # The limit is in UTF-8 *bytes*: a body of (limit // 2 + 1) two-byte characters has
    # fewer code points than the limit but more bytes.
    err = h.send_error("alice", chat, "é" * (limit // 2 + 1))
    assert err["type"] in {"invalidArguments", "tooLarge"}, err
    # The limit also applies when editing.
    msg = h.send("alice", chat, "short")
    err = h.update_error("alice", "Message", msg, {"body": "a" * (limit + 1)})
    assert err["type"] in {"invalidArguments", "tooLarge"}, err


def test_4_2_bodytype_validated(h: Harness) -> None:
    """4.2 bodyType validated against supportedBodyTypes."""
    assert "video/mp4" not in h.account_caps("alice")["supportedBodyTypes"]
    chat = h.direct_chat("alice", "bob")
    err = h.send_error("alice", chat, "x", bodyType="video/mp4")
    # Compliance: invalidProperties; the draft only says bodyType MUST be in
    # supportedBodyTypes. Accept either standard rejection.
    assert err["type"] in REJECT, err
    if err["type"] == "invalidProperties" and "properties" in err:
        assert "bodyType" in err["properties"], err
    assert h.message_ids("alice", chat) == []
    # ... also on edit.
    msg = h.send("alice", chat, "plain")
    err = h.update_error("alice", "Message", msg, {"body": "x", "bodyType": "video/mp4"})
    assert err["type"] in REJECT, err
    got = h.get1("alice", "Message", msg)
    assert got is not None
    assert got["bodyType"] == "text/plain"


@pytest.mark.parametrize("filename", ["../../../etc/passwd", "a\\b.txt", "nul\x00.txt"])
def test_4_3_attachment_filename_traversal(h: Harness, filename: str) -> None:
    """4.3 Attachment filename path traversal rejection."""
    chat = h.direct_chat("alice", "bob")
    # Control: the same attachment with a clean filename is accepted.
    h.send("alice", chat, "file", attachments=[h.attachment("alice", filename="passwd.txt")])
    err = h.send_error(
        "alice", chat, "file", attachments=[h.attachment("alice", filename=filename)]
    )
    assert err["type"] in REJECT, err
    assert len(h.message_ids("alice", chat)) == 1


def test_4_4_broadcastmention_scope_validation(h: Harness) -> None:
    """4.4 BroadcastMention scope validation."""
    _sid, chan, _roles = h.channel_setup()
    body = "@here hello"
    # Control: a known scope from the Space creator (who administers the Space) is accepted.
    h.send("alice", chan, body, broadcastMentions=[{"scope": "here", "offset": 0, "length": 5}])
    # Draft (§BroadcastMention): unknown scope MUST be rejected with invalidArguments.
    err = h.send_error(
        "alice", chan, body, broadcastMentions=[{"scope": "invalid", "offset": 0, "length": 5}]
    )
    assert err["type"] == "invalidArguments", err
    # A known scope still has to lie inside the body (offset + length in UTF-8 bytes).
    err = h.send_error(
        "alice", chan, body, broadcastMentions=[{"scope": "here", "offset": 8, "length": 5}]
    )
    assert err["type"] in REJECT, err
    # Same rule for an inline rich-body broadcast span.
    if RICH in h.account_caps("alice")["supportedBodyTypes"]:
        rich = rich_body({"type": "broadcast", "text": "@x", "scope": "invalid"})
        err = h.send_error("alice", chan, rich, bodyType=RICH)
        assert err["type"] == "invalidArguments", err
    # ... and on edit.
    msg = h.send(
        "alice", chan, body, broadcastMentions=[{"scope": "here", "offset": 0, "length": 5}]
    )
    err = h.update_error(
        "alice",
        "Message",
        msg,
        {"broadcastMentions": [{"scope": "invalid", "offset": 0, "length": 5}]},
    )
    assert err["type"] == "invalidArguments", err


def test_4_5_mention_offset_length_bounds(h: Harness) -> None:
    """4.5 Mention offset+length bounds check."""
    chat = h.direct_chat("alice", "bob")
    bob = h.cid("bob")
    err = h.send_error("alice", chat, "hello", mentions=[{"id": bob, "offset": 10, "length": 5}])
    assert err["type"] in REJECT, err
    # Offsets are UTF-8 *byte* offsets: "héllo" is 6 bytes / 5 code points.
    ok = h.send("alice", chat, "héllo", mentions=[{"id": bob, "offset": 1, "length": 5}])
    got = h.get1("alice", "Message", ok)
    assert got is not None
    assert got["mentions"] == [{"id": bob, "offset": 1, "length": 5}]
    err = h.send_error("alice", chat, "héllo", mentions=[{"id": bob, "offset": 2, "length": 5}])
    assert err["type"] in REJECT, err
    # Editing the body so that a kept mention would fall outside it: either rejected, or the
    # server fixes the mentions up — an out-of-range mention is never stored.
    res = h.set("alice", "Message", update={ok: {"body": "hi"}})
    got = h.get1("alice", "Message", ok)
    assert got is not None
    if ok in (res.get("notUpdated") or {}):
        assert res["notUpdated"][ok]["type"] in REJECT, res
        assert got["body"] == "héllo"
    for m in got["mentions"]:
        assert m["offset"] + m["length"] <= len(got["body"].encode()), got


def test_4_6_rich_body_mentions_must_be_empty(h: Harness) -> None:
    """4.6 Rich body mentions/broadcastMentions must be empty."""
    if RICH not in h.account_caps("alice")["supportedBodyTypes"]:
        pytest.skip("server does not advertise application/jmap-chat-rich")
    chat = h.direct_chat("alice", "bob")
    bob = h.cid("bob")
    body = rich_body(
        {"type": "text", "text": "hi "},
        {"type": "mention", "text": "@bob", "userId": bob},
    )
    mention = [{"id": bob, "offset": 0, "length": 2}]
    # Create path.
    err = h.send_error("alice", chat, body, bodyType=RICH, mentions=mention)
    assert err["type"] in REJECT, err
    err = h.send_error(
        "alice",
        chat,
        body,
        bodyType=RICH,
        broadcastMentions=[{"scope": "everyone", "offset": 0, "length": 2}],
    )
    assert err["type"] in REJECT | {"forbidden"}, err
    # Update (edit) path.
    msg = h.send("alice", chat, body, bodyType=RICH)
    err = h.update_error(
        "alice", "Message", msg, {"body": body, "bodyType": RICH, "mentions": mention}
    )
    assert err["type"] in REJECT, err
    got = h.get1("alice", "Message", msg)
    assert got is not None
    assert got["mentions"] == []
    # Turning a plain message that carries mentions into a rich one without clearing them:
    # rejected, or the retained mentions are dropped — never a rich body with mentions.
    plain = h.send("alice", chat, "hello bob", mentions=[{"id": bob, "offset": 6, "length": 3}])
    res = h.set("alice", "Message", update={plain: {"body": body, "bodyType": RICH}})
    got = h.get1("alice", "Message", plain)
    assert got is not None
    if plain in (res.get("notUpdated") or {}):
        assert res["notUpdated"][plain]["type"] in REJECT, res
    assert got["bodyType"] != RICH or got["mentions"] == [], got
    # The third path in the compliance doc (Peer/deliver edit) is federation-only.


def test_4_7_broadcast_mention_permission(h: Harness) -> None:
    """4.7 Broadcast mention permission check."""
    sid, chan, roles = h.channel_setup({"bob": ["view", "send"]})
    # Control: bob may post in the channel.
    h.send("bob", chan, "plain message")
    err = h.send_error(
        "bob",
        chan,
        "@everyone hi",
        broadcastMentions=[{"scope": "everyone", "offset": 0, "length": 9}],
    )
    assert err["type"] == "forbidden", err
    if RICH in h.account_caps("bob")["supportedBodyTypes"]:
        body = rich_body({"type": "broadcast", "text": "@here", "scope": "here"})
        err = h.send_error("bob", chan, body, bodyType=RICH)
        assert err["type"] == "forbidden", err
    # Edits are checked too: adding a broadcast mention ...
    mine = h.send("bob", chan, "@everyone hi")
    err = h.update_error(
        "bob",
        "Message",
        mine,
        {"broadcastMentions": [{"scope": "everyone", "offset": 0, "length": 9}]},
    )
    assert err["type"] == "forbidden", err
    # ... or retaining one after the permission was revoked.
    granted = h.add_role("alice", sid, "broadcasters", ["mention_broadcast"])
    h.update(
        "alice",
        "Space",
        sid,
        {"updateMembers": [{"id": h.cid("bob"), "roleIds": [roles["bob"], granted]}]},
    )
    loud = h.send(
        "bob",
        chan,
        "@everyone yo",
        broadcastMentions=[{"scope": "everyone", "offset": 0, "length": 9}],
    )
    h.update(
        "alice", "Space", sid, {"updateMembers": [{"id": h.cid("bob"), "roleIds": [roles["bob"]]}]}
    )
    err = h.update_error("bob", "Message", loud, {"body": "@everyone yo!"})
    assert err["type"] == "forbidden", err


def test_4_8_channel_send_permission(h: Harness) -> None:
    """4.8 Channel send permission check."""
    sid, chan, _roles = h.channel_setup({"bob": ["view", "send"]})
    h.send("bob", chan, "allowed")
    # Deny `send` to bob in this channel (member-targeted override wins over role allows).
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
    err = h.send_error("bob", chan, "denied")
    assert err["type"] == "forbidden", err
    # alice is unaffected.
    h.send("alice", chan, "still fine")


def test_4_9_channel_view_permission(h: Harness) -> None:
    """4.9 Channel view permission check."""
    sid, chan, _roles = h.channel_setup({"bob": ["view", "send"]})
    h.send("alice", chan, "secret plans")
    bob_ids = h.message_ids("bob", chan)
    assert len(bob_ids) == 1, "control: bob can see the channel message while he has view"
    state = h.get("bob", "Message", [])["state"]
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
                            "deny": ["view"],
                        }
                    ],
                }
            ]
        },
    )
    res = h.get("bob", "Message", bob_ids)
    assert res["list"] == [], res
    assert res["notFound"] == bob_ids
    # Querying the channel no longer reveals the messages either.
    name, args = h.call("bob", "Message/query", {"filter": {"chatId": chan}})
    if name == "Message/query":
        assert args["ids"] == [], args
    else:
        assert name == "error", args
        assert args["type"] in {"forbidden", "invalidArguments", "notFound"}, args
    # "view — see the channel": the channel itself is hidden, and new messages do not leak
    # through Message/changes.
    chat = h.get("bob", "Chat", [chan])
    assert chat["list"] == [], chat
    h.send("alice", chan, "more secrets")
    changes = h.ok("bob", "Message/changes", {"sinceState": state})
    assert changes["created"] == [], changes


def test_4_10_slow_mode(h: Harness) -> None:
    """4.10 Slow mode integration in Message/set."""
    sid, chan, _roles = h.channel_setup({"bob": ["view", "send"]})
    h.update("alice", "Space", sid, {"updateChannels": [{"id": chan, "slowModeSeconds": 60}]})
    got = h.get1("alice", "Chat", chan)
    assert got is not None
    assert got["slowModeSeconds"] == 60
    h.send("bob", chan, "first")
    err = h.send_error("bob", chan, "second")
    # Draft: `rateLimited`; RFC 8620 spells the SetError `rateLimit`. Accept both.
    assert err["type"] in {"rateLimited", "rateLimit"}, err
    assert len(h.message_ids("bob", chan)) == 1
    # Members holding manage_channels SHOULD be exempt (they configure slow mode).
    h.send("alice", chan, "moderator one")
    h.send("alice", chan, "moderator two")
    # Turning slow mode off lifts the limit at once.
    h.update("alice", "Space", sid, {"updateChannels": [{"id": chan, "slowModeSeconds": 0}]})
    h.send("bob", chan, "second, after slow mode ended")


def _emoji_blob(h: Harness, user: str = "alice") -> str:
    return str(h.upload(user, PNG_1X1, "image/png")["blobId"])


def test_4_11_customemoji_name_unique(h: Harness) -> None:
    """4.11 CustomEmoji name uniqueness within scope."""
    sid = h.space("alice", "Emoji land")
    blob = _emoji_blob(h)
    first = h.create("alice", "CustomEmoji", {"name": "catjam", "blobId": blob, "spaceId": sid})
    err = h.create_error("alice", "CustomEmoji", {"name": "catjam", "blobId": blob, "spaceId": sid})
    assert err["type"] == "alreadyExists", err
    if "existingId" in err:
        assert err["existingId"] == first["id"]
    # Renaming onto a taken name is the same conflict.
    second = h.create("alice", "CustomEmoji", {"name": "dogjam", "blobId": blob, "spaceId": sid})
    err = h.update_error("alice", "CustomEmoji", second["id"], {"name": "catjam"})
    assert err["type"] == "alreadyExists", err


@pytest.mark.parametrize("name", ["invalid name!", "CatJam", ":catjam:", ""])
def test_4_12_customemoji_name_regex(h: Harness, name: str) -> None:
    """4.12 CustomEmoji name regex."""
    sid = h.space("alice", "Emoji land")
    blob = _emoji_blob(h)
    good = h.create("alice", "CustomEmoji", {"name": "cat_jam-2", "blobId": blob, "spaceId": sid})
    err = h.create_error("alice", "CustomEmoji", {"name": name, "blobId": blob, "spaceId": sid})
    assert err["type"] in REJECT, err
    err = h.update_error("alice", "CustomEmoji", good["id"], {"name": name})
    assert err["type"] in REJECT, err


def test_4_13_attachment_contenttype_and_sha256(h: Harness) -> None:
    """4.13 Attachment contentType and sha256 validation."""
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "ok", attachments=[h.attachment("alice")])
    # Syntactically valid MIME types (with parameters, structured suffixes) are fine ...
    for ok in ("text/plain; charset=utf-8", "image/svg+xml"):
        h.send("alice", chat, "ok", attachments=[h.attachment("alice", contentType=ok)])
    # ... invalid ones are not.
    for bad in ("not a mime type", "text/", "/plain"):
        err = h.send_error(
            "alice", chat, "bad", attachments=[h.attachment("alice", contentType=bad)]
        )
        assert err["type"] in REJECT, (bad, err)
    err = h.send_error("alice", chat, "bad", attachments=[h.attachment("alice", sha256="xyz")])
    assert err["type"] in REJECT, err
    # Well-formed but wrong digest (SHOULD verify) and wrong size (MUST verify).
    err = h.send_error("alice", chat, "bad", attachments=[h.attachment("alice", sha256="0" * 64)])
    assert err["type"] in REJECT, err
    err = h.send_error("alice", chat, "bad", attachments=[h.attachment("alice", size=1)])
    assert err["type"] in REJECT, err
    assert len(h.message_ids("alice", chat)) == 3
