# ruff: noqa: PT018, RUF059
"""Spaces: roles, members, channels, categories, permissions, invites, join, bans, emoji."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api

pytestmark = pytest.mark.anyio


async def make_space(alice: Api, **more: Any) -> dict[str, Any]:
    space = await alice.create("Space", {"name": "Acme", **more})
    await alice.ok(
        "Space/set",
        {
            "update": {
                space["id"]: {"addChannels": [{"name": "general"}], "addMembers": [{"id": "bob"}]}
            }
        },
    )
    got = await alice.get1("Space", space["id"])
    assert got is not None
    return got


async def test_space_channels_and_permissions(alice: Api, bob: Api, carol: Api) -> None:
    space = await make_space(alice)
    assert space["memberCount"] == 2 and len(space["uncategorizedChannelIds"]) == 1
    ch = space["uncategorizedChannelIds"][0]
    bchat = await bob.get1("Chat", ch)
    assert bchat is not None and bchat["kind"] == "channel" and bchat["spaceId"] == space["id"]
    await alice.send(ch, "welcome")
    assert len((await bob.ok("Message/query", {"filter": {"chatId": ch}}))["ids"]) == 1
    assert await carol.get1("Chat", ch) is None
    res = await bob.ok("Space/set", {"update": {space["id"]: {"name": "Mine"}}})
    assert res["notUpdated"][space["id"]]["type"] == "forbidden"
    res = await bob.ok("Space/set", {"destroy": [space["id"]]})
    assert res["notDestroyed"][space["id"]]["type"] == "forbidden"
    res = await bob.ok("Chat/set", {"destroy": [ch]})
    assert res["notDestroyed"][ch]["type"] == "forbidden"
    base = {
        "chatId": ch,
        "body": "@everyone",
        "bodyType": "text/plain",
        "sentAt": "2025-01-01T00:00:00Z",
    }
    res = await bob.ok(
        "Message/set",
        {
            "create": {
                "b": {
                    **base,
                    "broadcastMentions": [{"scope": "everyone", "offset": 0, "length": 9}],
                }
            }
        },
    )
    assert res["notCreated"]["b"]["type"] == "forbidden"
    # a role with unknown permissions (ignored) granting mention_broadcast
    await alice.ok(
        "Space/set",
        {
            "update": {
                space["id"]: {
                    "addRoles": [
                        {
                            "name": "mod",
                            "permissions": ["mention_broadcast", "future_xyz"],
                            "position": 5,
                        }
                    ]
                }
            }
        },
    )
    sp = await alice.get1("Space", space["id"])
    role = next(r for r in sp["roles"] if r["name"] == "mod")  # type: ignore[index]
    assert role["permissions"] == ["mention_broadcast"]
    await alice.ok(
        "Space/set",
        {"update": {space["id"]: {"updateMembers": [{"id": "bob", "roleIds": [role["id"]]}]}}},
    )
    res = await bob.ok(
        "Message/set",
        {
            "create": {
                "b": {
                    **base,
                    "broadcastMentions": [{"scope": "everyone", "offset": 0, "length": 9}],
                }
            }
        },
    )
    assert "b" in res["created"]
    # deny send to bob in the channel
    await alice.ok(
        "Space/set",
        {
            "update": {
                space["id"]: {
                    "updateChannels": [
                        {
                            "id": ch,
                            "permissionOverrides": [
                                {
                                    "targetId": "bob",
                                    "targetType": "member",
                                    "allow": [],
                                    "deny": ["send"],
                                }
                            ],
                        }
                    ]
                }
            }
        },
    )
    res = await bob.ok("Message/set", {"create": {"b": base}})
    assert res["notCreated"]["b"]["type"] == "forbidden"
    # deny view hides the channel and its messages
    await alice.ok(
        "Space/set",
        {
            "update": {
                space["id"]: {
                    "updateChannels": [
                        {
                            "id": ch,
                            "permissionOverrides": [
                                {
                                    "targetId": "bob",
                                    "targetType": "member",
                                    "allow": [],
                                    "deny": ["view"],
                                }
                            ],
                        }
                    ]
                }
            }
        },
    )
    assert await bob.get1("Chat", ch) is None
    # slow mode
    await alice.ok(
        "Space/set",
        {
            "update": {
                space["id"]: {
                    "updateChannels": [{"id": ch, "permissionOverrides": [], "slowModeSeconds": 60}]
                }
            }
        },
    )
    await bob.send(ch, "one")
    res = await bob.ok("Message/set", {"create": {"b": base}})
    assert res["notCreated"]["b"]["type"] == "rateLimited"
    # categories
    await alice.ok(
        "Space/set",
        {"update": {space["id"]: {"addCategories": [{"name": "Text", "channelIds": [ch]}]}}},
    )
    sp = await alice.get1("Space", space["id"])
    assert sp["categories"][0]["channelIds"] == [ch] and sp["uncategorizedChannelIds"] == []  # type: ignore[index]
    # last admin cannot leave
    res = await alice.ok("Space/set", {"update": {space["id"]: {"removeMembers": ["alice"]}}})
    assert res["notUpdated"][space["id"]]["type"] == "invalidProperties"
    assert res["notUpdated"][space["id"]]["properties"] == ["removeMembers"]
    # destroy cascades
    res = await alice.ok("Space/set", {"destroy": [space["id"]]})
    assert res["destroyed"] == [space["id"]]
    assert await bob.get1("Chat", ch) is None


async def test_invites_join_and_visibility(alice: Api, bob: Api, carol: Api) -> None:
    space = await alice.create("Space", {"name": "Club", "isPubliclyPreviewable": True})
    restricted = await carol.get1("Space", space["id"])
    assert restricted is not None and "members" not in restricted and restricted["name"] == "Club"
    name, res = await carol.call("Space/join", {"spaceId": space["id"]})
    assert res["type"] == "notPermitted"
    name, res = await carol.call("Space/join", {"spaceId": space["id"], "inviteCode": "x"})
    assert res["type"] == "invalidArguments"
    inv = await alice.create("SpaceInvite", {"spaceId": space["id"], "maxUses": 1})
    assert inv["code"] and inv["uses"] == 0
    res = await alice.ok("SpaceInvite/set", {"update": {inv["id"]: {"maxUses": 5}}})
    assert res["notUpdated"][inv["id"]]["type"] == "forbidden"
    name, res = await carol.call("Space/join", {"inviteCode": inv["id"]})
    assert res["type"] == "invalidArguments"  # matched on code, not id
    res = await carol.ok("Space/join", {"inviteCode": inv["code"]})
    assert res["spaceId"] == space["id"]
    name, res = await bob.call("Space/join", {"inviteCode": inv["code"]})
    assert res["type"] == "invalidArguments"  # used up
    assert (await alice.get1("SpaceInvite", inv["id"]))["uses"] == 1  # type: ignore[index]
    assert await carol.get1("SpaceInvite", inv["id"]) is None
    await alice.ok("Space/set", {"update": {space["id"]: {"isPublic": True}}})
    q = await bob.ok("Space/query", {"filter": {"isPublic": True}})
    assert q["ids"] == [space["id"]]
    assert (await bob.ok("Space/query", {}))["ids"] == []
    await bob.ok("Space/join", {"spaceId": space["id"]})
    full = await bob.get1("Space", space["id"])
    assert full is not None and full["memberCount"] == 3 and "members" in full


async def test_bans(alice: Api, bob: Api) -> None:
    space = await make_space(alice, isPublic=True)
    res = await bob.ok(
        "SpaceBan/set", {"create": {"b": {"spaceId": space["id"], "userId": "alice"}}}
    )
    assert res["notCreated"]["b"]["type"] == "forbidden"
    ban = await alice.create(
        "SpaceBan", {"spaceId": space["id"], "userId": "bob", "reason": "spam"}
    )
    assert (await alice.get1("Space", space["id"]))["memberCount"] == 1  # type: ignore[index]
    seen = await bob.get1("SpaceBan", ban["id"])
    assert seen is not None and seen["reason"] == "spam"
    name, res = await bob.call("Space/join", {"spaceId": space["id"]})
    assert res["type"] == "forbidden"
    res = await alice.ok(
        "SpaceBan/set",
        {"update": {ban["id"]: {"reason": "calm down", "expiresAt": "2099-01-01T00:00:00Z"}}},
    )
    assert ban["id"] in res["updated"]
    await alice.ok("SpaceBan/set", {"destroy": [ban["id"]]})
    await bob.ok("Space/join", {"spaceId": space["id"]})


async def test_custom_emoji(alice: Api, bob: Api) -> None:
    r = await alice.client.post(
        f"/jmap/upload/{alice.acc}/",
        content=b"\x89PNG...",
        headers={**alice.headers, "Content-Type": "image/png"},
    )
    blob = r.json()["blobId"]
    e = await alice.create("CustomEmoji", {"name": "catjam", "blobId": blob})
    res = await alice.ok(
        "CustomEmoji/set",
        {
            "create": {
                "d": {"name": "catjam", "blobId": blob},
                "bad": {"name": "Bad Name!", "blobId": blob},
            }
        },
    )
    assert (
        res["notCreated"]["d"]["type"] == "alreadyExists"
        and res["notCreated"]["d"]["existingId"] == e["id"]
    )
    assert res["notCreated"]["bad"]["type"] == "invalidProperties"
    assert (await bob.ok("CustomEmoji/query", {}))["ids"] == [e["id"]]
    res = await alice.ok("CustomEmoji/set", {"update": {e["id"]: {"name": "catjam2"}}})
    assert e["id"] in res["updated"]
    res = await bob.ok("CustomEmoji/set", {"destroy": [e["id"]]})
    assert res["notDestroyed"][e["id"]]["type"] == "forbidden"


async def test_channel_edit_needs_send(alice: Api, bob: Api) -> None:
    """Editing in a channel runs the same checks as sending: `send` permission and bans."""
    space = await make_space(alice)
    ch = space["uncategorizedChannelIds"][0]
    m = await bob.send(ch, "bob says")

    async def override(deny: list[str]) -> None:
        rules = [{"targetId": "bob", "targetType": "member", "allow": [], "deny": deny}]
        await alice.ok(
            "Space/set",
            {
                "update": {
                    space["id"]: {"updateChannels": [{"id": ch, "permissionOverrides": rules}]}
                }
            },
        )

    async def alice_copy() -> dict[str, Any]:
        (mid,) = (await alice.ok("Message/query", {"filter": {"chatId": ch}}))["ids"]
        got = await alice.get1("Message", mid)
        assert got is not None
        return got

    await override(["send"])
    res = await bob.ok("Message/set", {"update": {m["id"]: {"body": "bob edits anyway"}}})
    assert res["notUpdated"][m["id"]]["type"] == "forbidden"
    assert (await bob.get1("Message", m["id"]))["body"] == "bob says"  # type: ignore[index]
    copy = await alice_copy()
    assert copy["body"] == "bob says" and copy["editedAt"] is None
    # Reactions and local deletes are not sends: still allowed.
    res = await bob.ok("Message/set", {"update": {m["id"]: {"reactions/r1": {"emoji": "👍"}}}})
    assert m["id"] in res["updated"]
    await override([])
    res = await bob.ok("Message/set", {"update": {m["id"]: {"body": "bob edits"}}})
    assert m["id"] in res["updated"]
    assert (await alice_copy())["body"] == "bob edits"
    # A banned member is removed from the space: the channel (and the message) is gone for
    # bob, and nothing reaches alice's copy.
    await alice.create("SpaceBan", {"spaceId": space["id"], "userId": "bob"})
    res = await bob.ok("Message/set", {"update": {m["id"]: {"body": "banned edit"}}})
    assert res["notUpdated"][m["id"]]["type"] == "notFound"
    assert (await alice_copy())["body"] == "bob edits"


async def test_custom_emoji_blob_must_be_an_image(alice: Api) -> None:
    """The draft: CustomEmoji ``blobId`` MUST be an image; anything else is refused with
    ``invalidProperties`` naming ``blobId``, on create and on update."""

    async def upload(data: bytes, ctype: str) -> str:
        r = await alice.client.post(
            f"/jmap/upload/{alice.acc}/",
            content=data,
            headers={**alice.headers, "Content-Type": ctype},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["blobId"])

    png = await upload(b"\x89PNG...", "image/png")
    text = await upload(b"not an image", "text/plain")
    svg = await upload(b"<svg/>", "image/svg+xml")
    res = await alice.ok(
        "CustomEmoji/set",
        {
            "create": {
                "txt": {"name": "notes", "blobId": text},
                "svg": {"name": "vector", "blobId": svg},
            }
        },
    )
    err = res["notCreated"]["txt"]
    assert err["type"] == "invalidProperties" and err["properties"] == ["blobId"]
    assert "svg" in res["created"]
    e = await alice.create("CustomEmoji", {"name": "catjam", "blobId": png})
    res = await alice.ok("CustomEmoji/set", {"update": {e["id"]: {"blobId": text}}})
    err = res["notUpdated"][e["id"]]
    assert err["type"] == "invalidProperties" and err["properties"] == ["blobId"]
    assert (await alice.get1("CustomEmoji", e["id"]))["blobId"] == png  # type: ignore[index]
    res = await alice.ok("CustomEmoji/set", {"update": {e["id"]: {"blobId": svg}}})
    assert e["id"] in res["updated"]
    q = await alice.ok("CustomEmoji/query", {"filter": {"name": "notes"}})
    assert q["ids"] == []
