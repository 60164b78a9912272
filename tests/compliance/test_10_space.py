"""Compliance section 10: Space Operations."""

from __future__ import annotations

from ._harness import PNG_1X1, Harness, future, is_utcdate

RESTRICTED = {
    "id",
    "name",
    "description",
    "iconBlobId",
    "memberCount",
    "createdAt",
    "isPublic",
    "isPubliclyPreviewable",
}


def test_10_1_space_join_by_spaceid(h: Harness) -> None:
    """10.1 Space/join accepts spaceId for public spaces."""
    sid = h.space("alice", "Town square", public=True)
    chan = h.add_channel("alice", sid, "general")
    assert h.get1("bob", "Space", sid) is None, "not previewable: invisible to non-members"
    assert h.get1("bob", "Chat", chan) is None
    res = h.ok("bob", "Space/join", {"spaceId": sid})
    assert res["accountId"] == h.acct("bob")
    assert res["spaceId"] == sid
    space = h.space_get("bob", sid)
    assert h.cid("bob") in [m["id"] for m in space["members"]]
    bob_entry = next(m for m in space["members"] if m["id"] == h.cid("bob"))
    assert bob_entry.get("roleIds", []) == [], "joins with @everyone only"
    assert space["memberCount"] == 2
    # The new member sees the Space's channels, each with a ReadPosition (draft §ReadPosition:
    # created for channel Chats when the owner joins the Space).
    assert h.get1("bob", "Chat", chan) is not None
    rps = [rp for rp in h.get("bob", "ReadPosition", None)["list"] if rp["chatId"] == chan]
    assert len(rps) == 1, rps
    # A private Space cannot be joined by id (draft: non-standard `notPermitted`).
    private = h.space("alice", "Back room")
    err = h.error("carol", "Space/join", {"spaceId": private})
    assert err["type"] == "notPermitted", err
    err = h.error("carol", "Space/join", {"spaceId": "no-such-space"})
    assert err["type"] == "notPermitted", err
    # Exactly one of inviteCode / spaceId.
    err = h.error("carol", "Space/join", {"spaceId": sid, "inviteCode": "abc"})
    assert err["type"] == "invalidArguments", err
    err = h.error("carol", "Space/join", {})
    assert err["type"] == "invalidArguments", err


def test_10_2_space_get_restricted_view(h: Harness) -> None:
    """10.2 Space/get restricted view for non-members."""
    sid = h.space("alice", "Showcase", public=True, previewable=True)
    h.update("alice", "Space", sid, {"description": "come in"})
    h.add_channel("alice", sid, "lobby")
    for props in (None, ["id", "name", "roles", "members", "categories", "memberCount"]):
        res = h.get("bob", "Space", [sid], properties=props)
        assert sid not in res.get("notFound", []), res
        (view,) = res["list"]
        assert set(view) <= RESTRICTED, view
        for hidden in ("roles", "members", "categories", "uncategorizedChannelIds"):
            assert hidden not in view, view
        assert view["name"] == "Showcase"
        assert view["memberCount"] == 1
        if props is None:
            assert view["description"] == "come in"
            assert is_utcdate(view["createdAt"])
            assert view["isPublic"] is True
            assert view["isPubliclyPreviewable"] is True
    # Not previewable: notFound.
    hidden_sid = h.space("alice", "Hidden", public=True, previewable=False)
    res = h.get("bob", "Space", [hidden_sid])
    assert res["list"] == [], res
    assert res["notFound"] == [hidden_sid], res
    # Members get the full object.
    full = h.space_get("alice", sid)
    assert {"roles", "members", "categories", "uncategorizedChannelIds"} <= set(full)


def test_10_3_space_query_includes_public(h: Harness) -> None:
    """10.3 Space/query includes public spaces."""
    public = h.space("alice", "Public and previewable", public=True, previewable=True)
    private = h.space("alice", "Private")
    unlisted = h.space("alice", "Public not previewable", public=True, previewable=False)
    own = h.space("bob", "Bob's own")
    ids = h.query("bob", "Space", filter={"isPublic": True})
    assert public in ids, ids
    assert private not in ids, ids
    assert unlisted not in ids, ids
    assert own not in ids, "bob's own space is not public"
    # Chaining Space/get on the result gives the restricted view.
    resp = h.request(
        "bob",
        [
            ["Space/query", {"accountId": h.acct("bob"), "filter": {"isPublic": True}}, "q"],
            [
                "Space/get",
                {
                    "accountId": h.acct("bob"),
                    "#ids": {"resultOf": "q", "name": "Space/query", "path": "/ids"},
                },
                "g",
            ],
        ],
    )
    (_, got, _) = resp["methodResponses"][1]
    assert [s["id"] for s in got["list"]] == ids
    assert set(got["list"][0]) <= RESTRICTED
    # Once bob is a member, a public Space is listed whether previewable or not.
    h.ok("bob", "Space/join", {"spaceId": unlisted})
    assert unlisted in h.query("bob", "Space", filter={"isPublic": True})


def _ban_setup(h: Harness) -> tuple[str, str]:
    sid = h.space("alice", "Moderated")
    h.add_space_member("alice", sid, "bob", [])
    h.add_space_member("alice", sid, "carol", [])
    ban = h.create("alice", "SpaceBan", {"spaceId": sid, "userId": h.cid("bob"), "reason": "spam"})
    return sid, ban["id"]


def test_10_4_spaceban_update_reason_and_expiresat(h: Harness) -> None:
    """10.4 SpaceBan/set update supports reason and expiresAt."""
    _sid, ban = _ban_setup(h)
    # Control: a member without the `ban` permission may not touch it.
    err = h.update_error("carol", "SpaceBan", ban, {"reason": "nope"})
    assert err["type"] in {"forbidden", "notFound"}, err
    until = future(7 * 86400)
    h.update("alice", "SpaceBan", ban, {"reason": "cooling off", "expiresAt": until})
    got = h.get1("alice", "SpaceBan", ban)
    assert got is not None
    assert got["reason"] == "cooling off"
    assert got["expiresAt"] == until
    assert got["userId"] == h.cid("bob")
    assert got["bannedBy"] == h.cid("alice")


def test_10_5_customemoji_update_name_and_blobid(h: Harness) -> None:
    """10.5 CustomEmoji/set update supports name and blobId."""
    sid = h.space("alice", "Emoji land")
    blob1 = h.upload("alice", PNG_1X1, "image/png")["blobId"]
    blob2 = h.upload("alice", PNG_1X1 + b"\x00", "image/png")["blobId"]
    emoji = h.create("alice", "CustomEmoji", {"name": "party", "blobId": blob1, "spaceId": sid})
    h.update("alice", "CustomEmoji", emoji["id"], {"name": "party_parrot", "blobId": blob2})
    got = h.get1("alice", "CustomEmoji", emoji["id"])
    assert got is not None
    assert got["name"] == "party_parrot"
    assert got["blobId"] == blob2
    assert got["spaceId"] == sid
