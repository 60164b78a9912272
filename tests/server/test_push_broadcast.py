"""Broadcast mentions resolved per recipient at delivery time (push draft
§ChatMessageEntry.mentionScopes, chat draft §BroadcastMention and §Chat.muted): only a
recipient in a scope's set gets that scope in `mentionScopes`, the mute bypass and
`mentionUrgency`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Api
from .test_push import Receiver, subscribe

pytestmark = pytest.mark.anyio

RICH = "application/jmap-chat-rich"
CONFIG = {"urgency": "low", "mentionUrgency": "high"}


@pytest.fixture
def push() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def bm(body: str, *scopes: str) -> dict[str, Any]:
    """Message/set extras: a BroadcastMention for each `@scope` text in ``body``."""
    return {
        "broadcastMentions": [
            {"scope": s, "offset": body.index("@" + s), "length": len(s) + 1} for s in scopes
        ]
    }


async def drain(alice: Api, chat_id: str, push: Receiver, paths: set[str]) -> dict[str, list[Any]]:
    """Send an `@everyone END` sentinel and collect (urgency, entry) per path up to it.

    Pushes leave one sender thread in order, so everything before the sentinel is in."""
    await alice.send(chat_id, "@everyone END", **bm("@everyone END", "everyone"))
    out: dict[str, list[Any]] = {p: [] for p in paths}
    done: set[str] = set()
    while done != paths:
        path, headers, payload = push.next()
        if payload["@type"] == "StateChange":  # other types' changes (Chat, PresenceStatus)
            continue
        assert payload["@type"] == "ChatMessagePush", payload
        (entry,) = payload["messages"]
        if entry["bodySnippet"] == "@everyone END":
            assert path not in done
            done.add(path)
        else:
            assert path not in done, (path, entry)
            out[path].append((headers["urgency"], entry))
    return out


async def set_presence(api: Api, presence: str) -> None:
    ps = (await api.ok("PresenceStatus/get", {"ids": None}))["list"][0]
    await api.ok("PresenceStatus/set", {"update": {ps["id"]: {"presence": presence}}})


async def channel(alice: Api, admin_perms: list[str]) -> tuple[str, str]:
    """A Space owned by alice with one channel; bob holds a role with ``admin_perms``,
    carol only the @everyone role (view, send). Returns (spaceId, channelId)."""
    space = await alice.create("Space", {"name": "Acme"})
    sid = space["id"]
    res = await alice.ok(
        "Space/set",
        {
            "update": {
                sid: {
                    "addChannels": [{"name": "general"}],
                    "addRoles": [{"name": "staff", "permissions": admin_perms, "position": 10}],
                }
            }
        },
    )
    assert sid in res["updated"], res
    got = await alice.get1("Space", sid)
    assert got is not None
    role = next(r["id"] for r in got["roles"] if r["name"] == "staff")
    await alice.ok(
        "Space/set",
        {"update": {sid: {"addMembers": [{"id": "bob", "roleIds": [role]}, {"id": "carol"}]}}},
    )
    return sid, got["uncategorizedChannelIds"][0]


async def test_channel_scopes_per_recipient(
    alice: Api, bob: Api, carol: Api, push: Receiver
) -> None:
    _sid, ch = await channel(alice, ["view", "send", "manage_members"])
    for api in (bob, carol):
        await api.ok("Chat/set", {"update": {ch: {"muted": True}}})
        await subscribe(api, push, "/" + api.user, chatPush={api.acc: CONFIG})
    await set_presence(bob, "away")
    await set_presence(carol, "busy")
    for body, scopes in [
        ("routine update", ()),
        ("@admins deploy is broken", ("admins",)),
        ("@here standup", ("here",)),
        ("@admins and @everyone", ("admins", "everyone")),
    ]:
        await alice.send(ch, body, **bm(body, *scopes))
    got = await drain(alice, ch, push, {"/bob", "/carol"})
    # bob: an admin (manage_members), and "away" counts as here; the muted routine
    # message is not pushed.
    assert [(u, e["bodySnippet"], e["mentionScopes"]) for u, e in got["/bob"]] == [
        ("high", "@admins deploy is broken", ["admins"]),
        ("high", "@here standup", ["here"]),
        ("high", "@admins and @everyone", ["admins", "everyone"]),
    ]
    assert all(e["hasMention"] is False for _, e in got["/bob"])
    # carol: not an admin, "busy" is not here — only @everyone lifts her mute.
    assert [(u, e["bodySnippet"], e["mentionScopes"]) for u, e in got["/carol"]] == [
        ("high", "@admins and @everyone", ["everyone"]),
    ]


async def test_untargeted_scope_is_an_ordinary_push(
    alice: Api, bob: Api, carol: Api, push: Receiver
) -> None:
    # Not muted: carol still gets @admins / @here messages, but with no scopes and the base
    # urgency — nothing elevates them.
    _sid, ch = await channel(alice, ["view", "send", "manage_space"])
    await subscribe(bob, push, "/bob", chatPush={bob.acc: CONFIG})
    await subscribe(carol, push, "/carol", chatPush={carol.acc: CONFIG})
    await set_presence(carol, "offline")
    body = "@admins @here look"
    await alice.send(ch, body, **bm(body, "admins", "here"))
    got = await drain(alice, ch, push, {"/bob", "/carol"})
    # bob: manage_space counts as admin; no PresenceStatus change → default "online".
    assert [(u, e["mentionScopes"]) for u, e in got["/bob"]] == [("high", ["admins", "here"])]
    assert [(u, e["mentionScopes"]) for u, e in got["/carol"]] == [("low", [])]


@pytest.mark.parametrize("presence", ["invisible", "offline", "busy"])
async def test_here_excludes_inactive_presence(
    alice: Api, bob: Api, push: Receiver, presence: str
) -> None:
    _sid, ch = await channel(alice, ["view", "send"])
    await bob.ok("Chat/set", {"update": {ch: {"muted": True}}})
    await subscribe(bob, push, "/bob", chatPush={bob.acc: CONFIG})
    await set_presence(bob, presence)
    await alice.send(ch, "@here now", **bm("@here now", "here"))
    assert (await drain(alice, ch, push, {"/bob"}))["/bob"] == []
    await set_presence(bob, "online")
    await alice.send(ch, "@here again", **bm("@here again", "here"))
    got = await drain(alice, ch, push, {"/bob"})
    assert [e["mentionScopes"] for _, e in got["/bob"]] == [["here"]]


async def test_admins_needs_admin_permission(alice: Api, bob: Api, push: Receiver) -> None:
    # Roles without manage_members / manage_space (even manage_roles + mention_broadcast)
    # are not administrators for @admins.
    sid, ch = await channel(alice, ["view", "send", "pin", "manage_roles", "mention_broadcast"])
    await bob.ok("Chat/set", {"update": {ch: {"muted": True}}})
    await subscribe(bob, push, "/bob", chatPush={bob.acc: CONFIG})
    await alice.send(ch, "@admins x", **bm("@admins x", "admins"))
    assert (await drain(alice, ch, push, {"/bob"}))["/bob"] == []
    # Resolved at delivery time: granting the permission makes bob a target from now on.
    got_space = await alice.get1("Space", sid)
    assert got_space is not None
    role = next(r["id"] for r in got_space["roles"] if r["name"] == "staff")
    await alice.ok(
        "Space/set",
        {"update": {sid: {"updateRoles": [{"id": role, "permissions": ["manage_space"]}]}}},
    )
    await alice.send(ch, "@admins y", **bm("@admins y", "admins"))
    got = await drain(alice, ch, push, {"/bob"})
    assert [(e["bodySnippet"], e["mentionScopes"]) for _, e in got["/bob"]] == [
        ("@admins y", ["admins"])
    ]


async def test_group_admins_and_rich_spans(
    alice: Api, bob: Api, carol: Api, push: Receiver
) -> None:
    g = await alice.create("Chat", {"kind": "group", "name": "G", "memberIds": ["bob", "carol"]})
    gid = g["id"]
    await alice.ok(
        "Chat/set", {"update": {gid: {"updateMemberRoles": [{"id": "bob", "role": "admin"}]}}}
    )
    for api in (bob, carol):
        await api.ok("Chat/set", {"update": {gid: {"muted": True}}})
        await subscribe(api, push, "/" + api.user, chatPush={api.acc: CONFIG})
    await alice.send(gid, "@admins plain", **bm("@admins plain", "admins"))
    rich = {
        "spans": [
            {"type": "broadcast", "text": "@admins", "scope": "admins"},
            {"type": "text", "text": " rich"},
        ]
    }
    await alice.create(
        "Message",
        {
            "chatId": gid,
            "body": json.dumps(rich),
            "bodyType": RICH,
            "sentAt": "2025-01-01T00:00:00Z",
        },
    )
    got = await drain(alice, gid, push, {"/bob", "/carol"})
    assert [(u, e["bodySnippet"], e["mentionScopes"]) for u, e in got["/bob"]] == [
        ("high", "@admins plain", ["admins"]),
        ("high", "@admins rich", ["admins"]),
    ]
    assert got["/carol"] == []


async def test_direct_chat_has_no_admins(alice: Api, bob: Api, push: Receiver) -> None:
    res = await alice.ok("Chat/set", {"create": {"d": {"kind": "direct", "contactId": "bob"}}})
    cid = res["created"]["d"]["id"]
    await bob.ok("Chat/set", {"update": {cid: {"muted": True}}})
    await subscribe(bob, push, "/bob", chatPush={bob.acc: CONFIG})
    await alice.send(cid, "@admins hi", **bm("@admins hi", "admins"))
    await alice.send(cid, "@here hi", **bm("@here hi", "here"))
    got = await drain(alice, cid, push, {"/bob"})
    assert [(e["bodySnippet"], e["mentionScopes"]) for _, e in got["/bob"]] == [
        ("@here hi", ["here"])
    ]
