"""Blob access (issue 9, point 1): a reference may only point at a blob its author can
already read, a download is allowed only through an object the downloader can read
(or by the uploader), and no access outlives the object that gave it."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api

pytestmark = pytest.mark.anyio

SECRET = b"carol's private bytes"
PNG = b"\x89PNG\r\n\x1a\n secret image"


async def upload(api: Api, data: bytes, ctype: str = "application/octet-stream") -> str:
    r = await api.client.post(
        f"/jmap/upload/{api.acc}/", content=data, headers={**api.headers, "Content-Type": ctype}
    )
    assert r.status_code == 201, r.text
    blob_id: str = r.json()["blobId"]
    return blob_id


async def download_status(api: Api, blob_id: str) -> int:
    r = await api.client.get(f"/jmap/download/{api.acc}/{blob_id}/f.bin", headers=api.headers)
    return r.status_code


async def set_one(api: Api, type: str, args: dict[str, Any]) -> dict[str, Any]:
    return await api.ok(f"{type}/set", args)


async def test_space_icon_cannot_point_at_a_blob_the_caller_cannot_read(
    alice: Api, bob: Api, carol: Api
) -> None:
    secret = await upload(carol, SECRET)  # alice has merely seen the id
    res = await set_one(alice, "Space", {"create": {"s": {"name": "S", "iconBlobId": secret}}})
    assert res["notCreated"]["s"]["type"] == "invalidProperties"
    assert res["notCreated"]["s"]["properties"] == ["iconBlobId"]
    assert await download_status(alice, secret) == 404
    assert await download_status(bob, secret) == 404
    space = await alice.create("Space", {"name": "S2"})
    res = await set_one(alice, "Space", {"update": {space["id"]: {"iconBlobId": secret}}})
    assert res["notUpdated"][space["id"]]["type"] == "invalidProperties"
    assert await download_status(bob, secret) == 404


async def test_space_icon_readable_only_through_a_readable_space_and_not_after_it(
    alice: Api, bob: Api
) -> None:
    icon = await upload(alice, PNG, "image/png")
    space = await alice.create("Space", {"name": "S", "iconBlobId": icon})
    assert await download_status(alice, icon) == 200
    assert await download_status(bob, icon) == 404  # bob cannot read the space
    await set_one(alice, "Space", {"update": {space["id"]: {"isPubliclyPreviewable": True}}})
    assert await download_status(bob, icon) == 200  # the preview shows iconBlobId
    await set_one(alice, "Space", {"update": {space["id"]: {"iconBlobId": None}}})
    assert await download_status(bob, icon) == 404  # the reference is gone
    await set_one(alice, "Space", {"update": {space["id"]: {"iconBlobId": icon}}})
    assert await download_status(bob, icon) == 200
    await set_one(alice, "Space", {"destroy": [space["id"]]})
    assert await download_status(bob, icon) == 404  # no grant outlives the space


async def test_attachment_access_ends_with_the_message(alice: Api, bob: Api, carol: Api) -> None:
    data = await upload(alice, b"attached bytes")
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    msg = await alice.send(
        chat["id"],
        "file",
        attachments=[{"blobId": data, "filename": "a.bin", "contentType": "text/plain"}],
    )
    assert await download_status(bob, data) == 200
    assert await download_status(carol, data) == 404
    await set_one(
        alice,
        "Message",
        {"update": {msg["id"]: {"deletedAt": "2030-01-01T00:00:00Z", "deletedForAll": True}}},
    )
    assert await download_status(bob, data) == 404  # retracted: bob's copy no longer has it
    assert await download_status(alice, data) == 200  # the uploader keeps her blob


async def test_attachment_cannot_point_at_a_blob_the_sender_cannot_read(
    alice: Api, bob: Api, carol: Api
) -> None:
    secret = await upload(carol, SECRET)
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    res = await set_one(
        alice,
        "Message",
        {
            "create": {
                "m": {
                    "chatId": chat["id"],
                    "body": "x",
                    "attachments": [
                        {"blobId": secret, "filename": "s.bin", "contentType": "text/plain"}
                    ],
                }
            }
        },
    )
    assert res["notCreated"]["m"]["type"] == "invalidProperties"
    assert await download_status(bob, secret) == 404


async def test_forwarding_a_received_attachment_is_allowed(
    alice: Api, bob: Api, carol: Api
) -> None:
    data = await upload(alice, b"forward me")
    ab = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    att = [{"blobId": data, "filename": "f.bin", "contentType": "text/plain"}]
    await alice.send(ab["id"], "file", attachments=att)
    bc = await bob.create("Chat", {"kind": "direct", "contactId": "carol"})
    await bob.send(bc["id"], "fwd", attachments=att)  # bob can read it through his copy
    assert await download_status(carol, data) == 200


async def test_group_avatar_needs_a_readable_blob_and_follows_membership(
    alice: Api, bob: Api, carol: Api
) -> None:
    secret = await upload(carol, SECRET)
    res = await set_one(
        alice,
        "Chat",
        {
            "create": {
                "g": {"kind": "group", "name": "G", "memberIds": ["bob"], "avatarBlobId": secret}
            }
        },
    )
    assert res["notCreated"]["g"]["type"] == "invalidProperties"
    avatar = await upload(alice, PNG, "image/png")
    group = await alice.create(
        "Chat", {"kind": "group", "name": "G", "memberIds": ["bob"], "avatarBlobId": avatar}
    )
    assert await download_status(bob, avatar) == 200
    assert await download_status(carol, avatar) == 404
    res = await set_one(alice, "Chat", {"update": {group["id"]: {"avatarBlobId": secret}}})
    assert res["notUpdated"][group["id"]]["type"] == "invalidProperties"
    await set_one(alice, "Chat", {"update": {group["id"]: {"avatarBlobId": None}}})
    assert await download_status(bob, avatar) == 404


async def test_custom_emoji_blob_follows_the_emoji(alice: Api, bob: Api, carol: Api) -> None:
    secret = await upload(carol, PNG, "image/png")
    res = await set_one(alice, "CustomEmoji", {"create": {"e": {"name": "x", "blobId": secret}}})
    assert res["notCreated"]["e"]["type"] == "invalidProperties"
    img = await upload(alice, PNG + b"2", "image/png")
    emoji = await alice.create("CustomEmoji", {"name": "party", "blobId": img})
    assert await download_status(bob, img) == 200  # a server-global emoji is everyone's
    await set_one(alice, "CustomEmoji", {"destroy": [emoji["id"]]})
    assert await download_status(bob, img) == 404
    # a Space emoji is readable by the space's members only
    space = await alice.create("Space", {"name": "S"})
    img2 = await upload(alice, PNG + b"3", "image/png")
    await alice.create("CustomEmoji", {"name": "party", "blobId": img2, "spaceId": space["id"]})
    assert await download_status(bob, img2) == 404
    assert await download_status(alice, img2) == 200


async def test_blob_lookup_does_not_reveal_unreadable_blobs(alice: Api, carol: Api) -> None:
    secret = await upload(carol, SECRET)
    res = await alice.ok(
        "Blob/lookup",
        {"typeNames": ["Message"], "ids": [secret]},
        using=["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:blob2"],
    )
    assert res["notFound"] == [secret]
