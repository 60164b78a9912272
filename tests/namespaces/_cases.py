"""One realistic call per spec method, shared by the envelope snapshots and the doc test.

Each builder adds exactly one call (the one under test) to a fresh request, after
whatever earlier calls it needs for references. Dates and creation ids are fixed
(or come from a seeded id generator), so the built envelopes are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jmapchat import Request
from jmapchat._core import Comparator, FilterOperator
from jmapchat._core._call import Call
from jmapchat._core._capabilities import BLOB2, CHAT, CHAT_PUSH, CORE, QUOTA
from jmapchat.models import (
    BlobSlice,
    ChannelAdd,
    ChatContactFilter,
    ChatContactUpdate,
    ChatCreate,
    ChatFilter,
    ChatMemberAdd,
    ChatPushConfig,
    ChatUpdate,
    CustomEmojiCreate,
    CustomEmojiFilter,
    CustomEmojiUpdate,
    MessageCreate,
    MessageFilter,
    MessageUpdate,
    PresenceStatusUpdate,
    PushKeys,
    PushSubscriptionCreate,
    PushSubscriptionUpdate,
    QuotaFilter,
    ReactionInput,
    ReadPositionUpdate,
    SpaceBanCreate,
    SpaceBanUpdate,
    SpaceCreate,
    SpaceFilter,
    SpaceInviteCreate,
    SpaceJoin,
    SpaceMemberAdd,
    SpaceRoleAdd,
    SpaceUpdate,
)

T0 = "2026-03-01T12:00:00Z"

CHAT_USING = [CORE, CHAT]

Builder = Callable[[Request], Call[Any]]


def _chat_contact_set(req: Request) -> Call[Any]:
    return req.chat_contact.set(
        update={"alice@example.com": ChatContactUpdate(blocked=True, display_name=None)}
    )


def _chat_set(req: Request) -> Call[Any]:
    return req.chat.set(
        create={
            "dm": ChatCreate.direct("bob@example.com"),
            "team": ChatCreate.group("Team", ["bob@example.com", "carol@example.com"]),
        },
        update={
            "C1": ChatUpdate(
                muted=True,
                mute_until=None,
                add_members=[ChatMemberAdd(id="dave@example.com")],
            )
        },
        destroy=["C9"],
        if_in_state="s41",
    )


def _message_set(req: Request) -> Call[Any]:
    s = req.message.set(
        create={"m1": MessageCreate(chat_id="C1", body="hello", sent_at=T0)},
        update={
            "M1": MessageUpdate(
                add_reactions={"01JREACT00000000000000000A": ReactionInput(emoji="👍", sent_at=T0)}
            ),
            "M2": MessageUpdate(read_at=T0),
        },
        destroy=["M3"],
    )
    return s


def _space_set(req: Request) -> Call[Any]:
    return req.space.set(
        create={"sp": SpaceCreate(name="Guild", description="Our place")},
        update={
            "S1": SpaceUpdate(
                add_roles=[SpaceRoleAdd(name="mods", permissions=["ban", "pin"], position=10)],
                add_members=[SpaceMemberAdd(id="bob@example.com")],
                add_channels=[ChannelAdd(name="general", topic="hi")],
                remove_channels=["CH9"],
            )
        },
        destroy=["S9"],
    )


def _space_join(req: Request) -> Call[Any]:
    return req.space.join(SpaceJoin.by_invite("k7Q-invite-code"))


def _space_join_by_id(req: Request) -> Call[Any]:
    return req.space.join(space_id="S2")


def _space_invite_set(req: Request) -> Call[Any]:
    return req.space_invite.set(
        create={"inv": SpaceInviteCreate(space_id="S1", max_uses=5, expires_at=T0)},
        destroy=["I9"],
    )


def _custom_emoji_set(req: Request) -> Call[Any]:
    return req.custom_emoji.set(
        create={"e1": CustomEmojiCreate(name="party_parrot", blob_id="B1", space_id="S1")},
        update={"E1": CustomEmojiUpdate(name="parrot")},
        destroy=["E9"],
    )


def _space_ban_set(req: Request) -> Call[Any]:
    return req.space_ban.set(
        create={"b1": SpaceBanCreate(space_id="S1", user_id="eve@example.com", reason="spam")},
        update={"SB1": SpaceBanUpdate(expires_at=None)},
        destroy=["SB9"],
    )


def _push_get(req: Request) -> Call[Any]:
    return req.push_subscription.get(None)


def _push_set(req: Request) -> Call[Any]:
    return req.push_subscription.set(
        create={
            "p1": PushSubscriptionCreate(
                device_client_id="phone-1",
                url="https://push.example.com/x",
                keys=PushKeys(p256dh="BPUB", auth="AUTH"),
                types=["Message", "Chat"],
                chat_push={"A1": ChatPushConfig(kinds=["direct"], urgency="high")},
            )
        },
        update={"PS1": PushSubscriptionUpdate(verification_code="vc-123")},
        destroy=["PS9"],
    )


def _push_set_plain(req: Request) -> Call[Any]:
    return req.push_subscription.set(
        update={"PS1": PushSubscriptionUpdate(expires=T0)},
    )


def _quota_query(req: Request) -> Call[Any]:
    return req.quota.query(
        filter=QuotaFilter(type="Message", resource_type="count"),
        sort=[req.quota.comparator("used", ascending=False)],
    )


# (spec method, builder, expected `using`)
SPEC_CASES: list[tuple[str, Builder, list[str]]] = [
    # ChatContact
    (
        "ChatContact/get",
        lambda r: r.chat_contact.get(["alice@example.com"], properties=["id", "login", "presence"]),
        CHAT_USING,
    ),
    ("ChatContact/changes", lambda r: r.chat_contact.changes("s1", max_changes=50), CHAT_USING),
    ("ChatContact/set", _chat_contact_set, CHAT_USING),
    (
        "ChatContact/query",
        lambda r: r.chat_contact.query(
            filter=ChatContactFilter(blocked=False), sort=["login"], limit=100
        ),
        CHAT_USING,
    ),
    (
        "ChatContact/queryChanges",
        lambda r: r.chat_contact.query_changes(
            "q1", filter=ChatContactFilter(presence="online"), sort=["login"]
        ),
        CHAT_USING,
    ),
    # Chat
    (
        "Chat/get",
        lambda r: r.chat.get(["C1", "C2"], properties=["id", "kind", "name", "unreadCount"]),
        CHAT_USING,
    ),
    ("Chat/changes", lambda r: r.chat.changes("s7"), CHAT_USING),
    ("Chat/set", _chat_set, CHAT_USING),
    (
        "Chat/query",
        lambda r: r.chat.query(
            filter=ChatFilter(kind="group", muted=False),
            sort=[r.chat.comparator("lastMessageAt", ascending=False)],
            calculate_total=True,
        ),
        CHAT_USING,
    ),
    (
        "Chat/queryChanges",
        lambda r: r.chat.query_changes("q7", filter=ChatFilter(kind="direct"), max_changes=20),
        CHAT_USING,
    ),
    ("Chat/typing", lambda r: r.chat.typing("C1", typing=True), CHAT_USING),
    # Message
    (
        "Message/get",
        lambda r: r.message.get(["M1", "M2"], properties=["id", "body", "senderId", "receivedAt"]),
        CHAT_USING,
    ),
    ("Message/changes", lambda r: r.message.changes("s100", max_changes=200), CHAT_USING),
    ("Message/set", _message_set, CHAT_USING),
    (
        "Message/query",
        lambda r: r.message.query(
            filter=MessageFilter(chat_id="C1"),
            sort=[Comparator(property="receivedAt", is_ascending=False)],
            limit=50,
        ),
        CHAT_USING,
    ),
    (
        "Message/queryChanges",
        lambda r: r.message.query_changes(
            "q100",
            filter=FilterOperator(
                operator="AND",
                conditions=[MessageFilter(chat_id="C1"), MessageFilter(has_attachment=True)],
            ),
            up_to_id="M50",
        ),
        CHAT_USING,
    ),
    # Space
    (
        "Space/get",
        lambda r: r.space.get(["S1"], properties=["id", "name", "memberCount"]),
        CHAT_USING,
    ),
    ("Space/changes", lambda r: r.space.changes("s3"), CHAT_USING),
    ("Space/set", _space_set, CHAT_USING),
    (
        "Space/query",
        lambda r: r.space.query(
            filter=SpaceFilter(is_public=True), sort=["name"], position=0, limit=25
        ),
        CHAT_USING,
    ),
    (
        "Space/queryChanges",
        lambda r: r.space.query_changes("q3", filter=SpaceFilter(name="rust")),
        CHAT_USING,
    ),
    ("Space/join", _space_join, CHAT_USING),
    # SpaceInvite
    (
        "SpaceInvite/get",
        lambda r: r.space_invite.get(["I1"], properties=["id", "code", "spaceId", "uses"]),
        CHAT_USING,
    ),
    ("SpaceInvite/changes", lambda r: r.space_invite.changes("s5"), CHAT_USING),
    ("SpaceInvite/set", _space_invite_set, CHAT_USING),
    # CustomEmoji
    ("CustomEmoji/get", lambda r: r.custom_emoji.get(None), CHAT_USING),
    ("CustomEmoji/changes", lambda r: r.custom_emoji.changes("s8"), CHAT_USING),
    ("CustomEmoji/set", _custom_emoji_set, CHAT_USING),
    (
        "CustomEmoji/query",
        lambda r: r.custom_emoji.query(filter=CustomEmojiFilter(space_id="S1"), sort=["name"]),
        CHAT_USING,
    ),
    (
        "CustomEmoji/queryChanges",
        lambda r: r.custom_emoji.query_changes("q8", filter=CustomEmojiFilter(space_id="S1")),
        CHAT_USING,
    ),
    # SpaceBan
    ("SpaceBan/get", lambda r: r.space_ban.get(["SB1"]), CHAT_USING),
    ("SpaceBan/changes", lambda r: r.space_ban.changes("s9"), CHAT_USING),
    ("SpaceBan/set", _space_ban_set, CHAT_USING),
    # ReadPosition
    (
        "ReadPosition/get",
        lambda r: r.read_position.get(None, properties=["chatId", "lastReadMessageId"]),
        CHAT_USING,
    ),
    ("ReadPosition/changes", lambda r: r.read_position.changes("s2"), CHAT_USING),
    (
        "ReadPosition/set",
        lambda r: r.read_position.set(
            update={"RP1": ReadPositionUpdate(last_read_message_id="M42")}
        ),
        CHAT_USING,
    ),
    # PresenceStatus
    ("PresenceStatus/get", lambda r: r.presence_status.get(None), CHAT_USING),
    ("PresenceStatus/changes", lambda r: r.presence_status.changes("s4"), CHAT_USING),
    (
        "PresenceStatus/set",
        lambda r: r.presence_status.set(
            update={
                "PS": PresenceStatusUpdate(
                    presence="busy", status_text="In a meeting", status_emoji="📅", expires_at=T0
                )
            }
        ),
        CHAT_USING,
    ),
    # PushSubscription (core; chat:push only because chatPush is used)
    ("PushSubscription/get", _push_get, [CORE]),
    ("PushSubscription/set", _push_set, [CORE, CHAT_PUSH]),
    # Quota
    (
        "Quota/get",
        lambda r: r.quota.get(None, properties=["name", "used", "hardLimit", "types"]),
        [CORE, QUOTA],
    ),
    ("Quota/changes", lambda r: r.quota.changes("qs1"), [CORE, QUOTA]),
    ("Quota/query", _quota_query, [CORE, QUOTA]),
    (
        "Quota/queryChanges",
        lambda r: r.quota.query_changes("qq1", filter=QuotaFilter(scope="account")),
        [CORE, QUOTA],
    ),
    # Blob
    ("Blob/lookup", lambda r: r.blob.lookup(["B1", "B2"]), [CORE, BLOB2]),
    (
        "Blob/upload",
        lambda r: r.blob.upload(
            ["hello ", b"\x00\xff", BlobSlice(blob_id="B1", offset=2, length=3)],
            type="application/octet-stream",
            creation_id="up",
        ),
        [CORE, BLOB2],
    ),
    (
        "Blob/get",
        lambda r: r.blob.get(["B1"], properties=["data:asText", "digest:sha-256"], length=10),
        [CORE, BLOB2],
    ),
    ("Blob/copy", lambda r: r.blob.copy("A2", ["B1", "B2"]), [CORE]),
    (
        "Blob/convert",
        lambda r: r.blob.convert("B1", "image/webp", width=320, height=240, creation_id="thumb"),
        [CORE, BLOB2],
    ),
    # Core
    ("Core/echo", lambda r: r.core.echo({"hello": True, "n": [1, 2]}), [CORE]),
]

# Variants worth their own snapshot (not extra spec methods).
VARIANT_CASES: list[tuple[str, Builder, list[str]]] = [
    ("Space/join by space id", _space_join_by_id, CHAT_USING),
    ("PushSubscription/set without chatPush", _push_set_plain, [CORE]),
]

# The spec's method table (DIGEST §3) plus the special and extension methods.
SPEC_METHODS: frozenset[str] = frozenset(
    [
        *(
            f"{t}/{m}"
            for t in ("ChatContact", "Chat", "Message", "Space", "CustomEmoji")
            for m in ("get", "changes", "set", "query", "queryChanges")
        ),
        *(
            f"{t}/{m}"
            for t in ("SpaceInvite", "SpaceBan", "ReadPosition", "PresenceStatus")
            for m in ("get", "changes", "set")
        ),
        "PushSubscription/get",
        "PushSubscription/set",
        "Chat/typing",
        "Space/join",
        "Quota/get",
        "Quota/changes",
        "Quota/query",
        "Quota/queryChanges",
        "Blob/lookup",
        "Blob/convert",
        "Blob/upload",
        "Blob/get",
        "Blob/copy",
        "Core/echo",
    ]
)
