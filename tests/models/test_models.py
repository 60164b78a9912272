"""Unit tests for jmapchat.models: surface, partial objects, tolerance, inputs, patches, guards."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

import jmapchat.models as models
from jmapchat._core._model import JMAPModel
from jmapchat._core._types import NOT_GIVEN, CreationRef
from jmapchat.models import (
    CategoryAdd,
    CategoryUpdate,
    ChannelAdd,
    ChannelPermissionInput,
    ChannelUpdate,
    Chat,
    ChatCapability,
    ChatContact,
    ChatContactUpdate,
    ChatCreate,
    ChatMemberAdd,
    ChatMemberRoleUpdate,
    ChatMessageEntry,
    ChatMessagePush,
    ChatPushConfig,
    ChatUpdate,
    CustomEmoji,
    CustomEmojiCreate,
    FilterOperator,
    GetResponse,
    Message,
    MessageCreate,
    MessageFilter,
    MessageUpdate,
    PresenceStatus,
    PresenceStatusUpdate,
    PushKeys,
    PushPayload,
    PushSubscription,
    PushSubscriptionCreate,
    PushSubscriptionUpdate,
    Quota,
    ReactionInput,
    ReadPosition,
    ReadPositionUpdate,
    SetResponse,
    Space,
    SpaceBan,
    SpaceBanUpdate,
    SpaceCreate,
    SpaceInvite,
    SpaceInviteCreate,
    SpaceJoin,
    SpaceMemberAdd,
    SpaceMemberUpdate,
    SpaceRoleAdd,
    SpaceRoleUpdate,
    SpaceUpdate,
    StateChange,
    format_utc_date,
    is_already_exists,
    is_rate_limited,
    parse_push_payload,
    utc_now,
)

# ---------------------------------------------------------------- public surface


def _ruf022_key(name: str) -> tuple[int, str]:
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_unique_and_importable() -> None:
    assert list(models.__all__) == sorted(set(models.__all__), key=_ruf022_key)
    for name in models.__all__:
        assert hasattr(models, name), name


PROPERTY_LITERALS: dict[str, type[JMAPModel]] = {
    "ChatContactProperty": models.ChatContact,
    "ChatProperty": models.Chat,
    "MessageProperty": models.Message,
    "SpaceProperty": models.Space,
    "SpaceInviteProperty": models.SpaceInvite,
    "CustomEmojiProperty": models.CustomEmoji,
    "SpaceBanProperty": models.SpaceBan,
    "ReadPositionProperty": models.ReadPosition,
    "PresenceStatusProperty": models.PresenceStatus,
    "PushSubscriptionProperty": models.PushSubscription,
    "QuotaProperty": models.Quota,
    "ChatMessageEntryProperty": models.ChatMessageEntry,
}


@pytest.mark.parametrize("name", sorted(PROPERTY_LITERALS))
def test_property_literals_match_models(name: str) -> None:
    model = PROPERTY_LITERALS[name]
    aliases = {f.alias or n for n, f in model.model_fields.items()}
    assert set(typing.get_args(getattr(models, name))) == aliases


@pytest.mark.parametrize(
    "model",
    [
        ChatContact,
        Chat,
        Message,
        Space,
        SpaceInvite,
        CustomEmoji,
        SpaceBan,
        ReadPosition,
        PresenceStatus,
        PushSubscription,
        Quota,
    ],
)
def test_data_models_parse_partial_objects(model: type[Any]) -> None:
    obj = model.model_validate({"id": "x1"})
    assert obj.model_fields_set == {"id"}
    assert obj.to_wire() == {"id": "x1"}
    with pytest.raises(ValidationError):
        model.model_validate({})


def test_forbidden_operations_have_no_models() -> None:
    for name in (
        "ChatContactCreate",
        "SpaceInviteUpdate",
        "ReadPositionCreate",
        "PresenceStatusCreate",
        "SpaceInviteFilter",
        "SpaceBanFilter",
        "ReadPositionFilter",
    ):
        assert not hasattr(models, name), name


# ---------------------------------------------------------------- data models

FULL_MESSAGE: dict[str, Any] = {
    "id": "01J3YKZQP5MWVT8PPBEHTJ3HX",
    "senderMsgId": "01J3YKZQP5MWVT8PPBEHTJ3HX",
    "chatId": "C1",
    "senderId": "self",
    "body": "hi bøb 👋",
    "bodyType": "text/plain",
    "attachments": [
        {
            "blobId": "B1",
            "filename": "a.png",
            "contentType": "image/png",
            "size": 10,
            "sha256": "ab" * 32,
        }
    ],
    "mentions": [{"id": "bob", "offset": 3, "length": 4}],
    "broadcastMentions": [],
    "actions": [
        {"type": "urn:jmap:chat:cap:vtc", "uri": "https://meet/x", "metadata": {"roomName": "r"}}
    ],
    "reactions": {
        "R1": {"emoji": "👍", "senderId": "self", "sentAt": "2026-01-01T00:00:00Z"},
        "R2": {"emoji": "catjam", "customEmojiId": "E1", "senderId": "bob", "sentAt": "x"},
    },
    "replyTo": "M0",
    "threadRootId": "M0",
    "replyCount": 0,
    "sentAt": "2026-01-01T00:00:00Z",
    "receivedAt": "2026-01-01T00:00:01Z",
    "deliveryState": "delivered",
    "deliveryReceipts": {
        "bob": {
            "deliveredAt": "2026-01-01T00:00:02Z",
            "readAt": None,
        }
    },
    "deliveredAt": "2026-01-01T00:00:02Z",
    "readAt": None,
    "editedAt": "2026-01-01T00:01:00Z",
    "editHistory": [{"body": "hi", "bodyType": "text/plain", "editedAt": "2026-01-01T00:01:00Z"}],
    "burnOnRead": False,
}


def test_full_message_round_trips() -> None:
    msg = Message.model_validate(FULL_MESSAGE)
    assert msg.to_wire() == FULL_MESSAGE
    assert msg.is_own
    assert not msg.is_deleted
    assert msg.reactions is not None
    assert msg.reactions["R1"].is_own
    assert msg.mentions is not None
    assert msg.mentions[0].slice(msg.body or "") == "bøb"
    assert msg.delivery_receipts is not None
    assert msg.delivery_receipts["bob"].read_at is None
    assert "read_at" in msg.delivery_receipts["bob"].model_fields_set
    assert "device_delivered_at" not in msg.delivery_receipts["bob"].model_fields_set


def test_unknown_fields_and_enum_values_are_kept() -> None:
    data = {
        "id": "C1",
        "kind": "thread",  # unknown kind
        "vendorFlag": {"x": 1},
        "members": [{"id": "a", "role": "owner", "joinedAt": "t", "extra": True}],
        "permissionOverrides": [
            {"targetId": "r", "targetType": "team", "allow": ["fly"], "deny": []}
        ],
    }
    chat = Chat.model_validate(data)
    assert chat.kind == "thread"
    assert chat.model_extra == {"vendorFlag": {"x": 1}}
    assert chat.to_wire() == data
    msg = Message.model_validate({"id": "m", "deliveryState": "bounced", "readDisposition": "x"})
    assert msg.delivery_state == "bounced"
    space = Space.model_validate(
        {"id": "S", "roles": [{"id": "r", "permissions": ["mention_all", "new_perm"]}]}
    )
    assert space.roles is not None
    assert space.roles[0].permissions == ["mention_all", "new_perm"]


def test_space_restricted_view() -> None:
    data = {
        "id": "S1",
        "name": "ACME",
        "memberCount": 3,
        "createdAt": "t",
        "isPublic": True,
        "isPubliclyPreviewable": True,
    }
    space = Space.model_validate(data)
    assert space.roles is None
    assert "roles" not in space.model_fields_set
    assert space.to_wire() == data


def test_get_response_of_partial_messages() -> None:
    res = GetResponse[Message].model_validate(
        {
            "accountId": "A",
            "state": "s",
            "list": [{"id": "m", "body": "x", "senderId": "bob"}],
            "notFound": ["z"],
        }
    )
    assert res.list[0].sender_id == "bob"
    assert res.list[0].chat_id is None


def test_set_response_tolerates_draft_and_compliance_shapes() -> None:
    res = SetResponse[Chat].model_validate(
        {
            "accountId": "A",
            "newState": "2",
            "updated": {"C1": {"id": "C1", "kind": "direct"}},
            "notCreated": {
                "c1": {"type": "alreadyExists", "existingId": "C1"},
                "c2": {"type": "rateLimited", "serverRetryAfter": 2.5},
                "c3": {"type": "rateLimit"},
                "c4": {"type": "tooLarge", "maxBodyBytes": 10},
                "c5": {"type": "somethingNew"},
            },
        }
    )
    errors = res.errors
    assert is_already_exists(errors["c1"])
    assert errors["c1"].existing_id == "C1"
    assert is_rate_limited(errors["c2"])
    assert is_rate_limited(errors["c3"])
    assert errors["c2"].server_retry_after == 2.5
    assert errors["c4"].model_extra == {"maxBodyBytes": 10}
    assert errors["c5"].type == "somethingNew"


def test_quota_example_from_rfc9425() -> None:
    quota = Quota.model_validate(
        {
            "id": "2a06",
            "resourceType": "count",
            "used": 1056,
            "warnLimit": 1600,
            "softLimit": 1800,
            "hardLimit": 2000,
            "scope": "account",
            "name": "bob@example.com",
            "description": "Personal",
            "types": ["Mail", "Calendar", "Contact"],
        }
    )
    assert quota.hard_limit == 2000
    assert Quota.model_validate({"id": "2a06", "used": 1246}).to_wire() == {
        "id": "2a06",
        "used": 1246,
    }


def test_capabilities() -> None:
    cap = ChatCapability.model_validate(
        {
            "maxBodyBytes": 65536,
            "maxAttachmentBytes": 1,
            "maxAttachmentsPerMessage": 2,
            "supportedBodyTypes": ["text/plain", "application/jmap-chat-rich"],
            "supportsThreads": True,
        }
    )
    assert cap.max_body_bytes == 65536
    assert cap.supports_threads
    assert ChatCapability.model_validate({}).supported_body_types == ["text/plain"]


# ---------------------------------------------------------------- create inputs


def test_message_create_defaults() -> None:
    m = MessageCreate(chat_id="C1", body="hi")
    wire = m.to_wire()
    assert wire["bodyType"] == "text/plain"
    assert wire["sentAt"].endswith("Z")
    assert "." not in wire["sentAt"]
    assert set(wire) == {"chatId", "body", "bodyType", "sentAt"}


def test_message_create_accepts_datetime_and_creation_refs() -> None:
    ref = CreationRef("c1")
    m = MessageCreate(
        chat_id=ref,
        body="x",
        sent_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # type: ignore[arg-type]
        reply_to=CreationRef("m0"),
    )
    assert m.chat_id is ref
    assert isinstance(m.reply_to, CreationRef)
    assert m.to_wire()["chatId"] == "#c1"
    assert m.to_wire()["sentAt"] == "2026-01-02T03:04:05Z"


def test_utc_dates() -> None:
    assert format_utc_date(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
    assert format_utc_date(datetime(2026, 1, 1, 0, 0, 0, 120000)) == "2026-01-01T00:00:00.12Z"
    plus2 = timezone(timedelta(hours=2))
    assert format_utc_date(datetime(2026, 1, 1, 2, tzinfo=plus2)) == "2026-01-01T00:00:00Z"
    assert len(utc_now()) == len("2026-01-01T00:00:00Z")


def test_chat_create_constructors() -> None:
    assert ChatCreate.direct("bob@example.com").to_wire() == {
        "kind": "direct",
        "contactId": "bob@example.com",
    }
    group = ChatCreate.group("Team", ["a", "b"], description="d", message_expiry_seconds=60)
    assert group.to_wire() == {
        "kind": "group",
        "name": "Team",
        "memberIds": ["a", "b"],
        "description": "d",
        "messageExpirySeconds": 60,
    }
    refs = ChatCreate.group("T", [CreationRef("x")])
    assert isinstance(refs.member_ids, list)
    assert isinstance(refs.member_ids[0], CreationRef)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ChatCreate.group("", ["a"]),
        lambda: ChatCreate.group("   ", ["a"]),
        lambda: ChatCreate(kind="group", member_ids=["a"]),
        lambda: ChatCreate(kind="group", name="x"),
        lambda: ChatCreate(kind="direct"),
        lambda: ChatCreate(kind="direct", contact_id="b", name="x"),
        lambda: ChatCreate(kind="channel", name="x"),
        lambda: ChatUpdate(name=""),
        lambda: SpaceCreate(name=""),
        lambda: SpaceUpdate(name=" "),
        lambda: SpaceRoleAdd(name="", permissions=[], position=1),
        lambda: SpaceRoleAdd(name="mod", permissions=[], position=0),
        lambda: SpaceRoleUpdate(id="r", name=""),
        lambda: ChannelAdd(name=""),
        lambda: ChannelUpdate(id="c", name=""),
        lambda: CategoryAdd(name=""),
        lambda: CategoryUpdate(id="k", name=""),
        lambda: SpaceJoin(),
        lambda: SpaceJoin(invite_code="abc", space_id="S1"),
        lambda: SpaceJoin.by_invite(""),
        lambda: SpaceJoin.by_space_id(""),
        lambda: CustomEmojiCreate(name="Cat:Jam", blob_id="b"),
        lambda: ReactionInput(emoji=""),
        lambda: MessageCreate(
            chat_id="c",
            body="x",
            attachments=[
                {  # type: ignore[list-item]
                    "blobId": "b",
                    "filename": "../x",
                    "contentType": "a/b",
                    "size": 1,
                    "sha256": "0",
                }
            ],
        ),
    ],
)
def test_guards_raise_before_io(build: Any) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        build()


def test_space_join() -> None:
    by_code = SpaceJoin.by_invite("s3cret-code")
    assert by_code.to_wire() == {"inviteCode": "s3cret-code"}
    assert "s3cret-code" not in repr(by_code)
    assert SpaceJoin.by_space_id("S1").to_wire() == {"spaceId": "S1"}


def test_other_creates() -> None:
    assert SpaceInviteCreate(space_id="S", max_uses=5).to_wire() == {"spaceId": "S", "maxUses": 5}
    assert CustomEmojiCreate(name="cat_jam-2", blob_id="B").to_wire() == {
        "name": "cat_jam-2",
        "blobId": "B",
    }
    assert SpaceCreate(name="ACME", description="d").to_wire() == {
        "name": "ACME",
        "description": "d",
    }


# ---------------------------------------------------------------- patches


def test_message_update_reaction_keys_are_escaped() -> None:
    patch = MessageUpdate(
        add_reactions={"a/b~c": ReactionInput(emoji="👍", sent_at="2026-01-01T00:00:00Z")},
        remove_reactions=["R2"],
    )
    assert patch.to_wire() == {
        "reactions/a~1b~0c": {"emoji": "👍", "sentAt": "2026-01-01T00:00:00Z"},
        "reactions/R2": None,
    }
    back = MessageUpdate.model_validate(patch.to_wire())
    assert isinstance(back.add_reactions, dict)
    assert set(back.add_reactions) == {"a/b~c"}
    assert back.remove_reactions == ["R2"]
    assert back.to_wire() == patch.to_wire()


def test_message_update_null_vs_absent() -> None:
    assert MessageUpdate().to_wire() == {}
    assert MessageUpdate(read_at=None, deleted_at=None).to_wire() == {
        "readAt": None,
        "deletedAt": None,
    }
    assert MessageUpdate(
        read_at="2026-01-01T00:00:00Z", read_disposition="processed"
    ).to_wire() == {"readAt": "2026-01-01T00:00:00Z", "readDisposition": "processed"}
    assert MessageUpdate(deleted_at="2026-01-01T00:00:00Z", deleted_for_all=True).to_wire() == {
        "deletedAt": "2026-01-01T00:00:00Z",
        "deletedForAll": True,
    }


def test_message_update_guards() -> None:
    with pytest.raises(ValueError, match="both added and removed"):
        MessageUpdate(add_reactions={"r": ReactionInput(emoji="x")}, remove_reactions=["r"])
    with pytest.raises(ValueError, match="exceed"):
        MessageUpdate(body="hi", mentions=[models.Mention(id="a", offset=1, length=5)])


def test_chat_update() -> None:
    patch = ChatUpdate(
        muted=True,
        mute_until=None,
        pinned_message_ids=["M2", "M1"],
        add_members=[ChatMemberAdd(id="c"), ChatMemberAdd(id="d", role="admin")],
        remove_members=["e"],
        update_member_roles=[ChatMemberRoleUpdate(id="f", role="admin")],
    )
    assert patch.to_wire() == {
        "muted": True,
        "muteUntil": None,
        "pinnedMessageIds": ["M2", "M1"],
        "addMembers": [{"id": "c"}, {"id": "d", "role": "admin"}],
        "removeMembers": ["e"],
        "updateMemberRoles": [{"id": "f", "role": "admin"}],
    }


def test_space_update_semantic_keys() -> None:
    patch = SpaceUpdate(
        name="New",
        description=None,
        is_public=True,
        add_roles=[SpaceRoleAdd(name="mod", permissions=["pin"], position=5, color="#fff")],
        update_roles=[SpaceRoleUpdate(id="r1", permissions=["view"])],
        remove_roles=["r2"],
        add_members=[SpaceMemberAdd(id="bob", role_ids=["r1"])],
        update_members=[SpaceMemberUpdate(id="bob", nick=None)],
        remove_members=["eve"],
        add_channels=[ChannelAdd(name="general", topic="hi")],
        update_channels=[
            ChannelUpdate(
                id="ch1",
                slow_mode_seconds=10,
                permission_overrides=[
                    ChannelPermissionInput(target_id="r1", target_type="role", deny=["send"])
                ],
            )
        ],
        remove_channels=["ch2"],
        add_categories=[CategoryAdd(name="Text", channel_ids=[CreationRef("x")])],
        update_categories=[CategoryUpdate(id="k1", position=2)],
        remove_categories=["k2"],
    )
    assert patch.to_wire() == {
        "name": "New",
        "description": None,
        "isPublic": True,
        "addRoles": [{"name": "mod", "permissions": ["pin"], "position": 5, "color": "#fff"}],
        "updateRoles": [{"id": "r1", "permissions": ["view"]}],
        "removeRoles": ["r2"],
        "addMembers": [{"id": "bob", "roleIds": ["r1"]}],
        "updateMembers": [{"id": "bob", "nick": None}],
        "removeMembers": ["eve"],
        "addChannels": [{"name": "general", "topic": "hi"}],
        "updateChannels": [
            {
                "id": "ch1",
                "slowModeSeconds": 10,
                "permissionOverrides": [
                    {"targetId": "r1", "targetType": "role", "allow": [], "deny": ["send"]}
                ],
            }
        ],
        "removeChannels": ["ch2"],
        "addCategories": [{"name": "Text", "channelIds": ["#x"]}],
        "updateCategories": [{"id": "k1", "position": 2}],
        "removeCategories": ["k2"],
    }


def test_small_updates() -> None:
    assert ChatContactUpdate(blocked=True, display_name=None).to_wire() == {
        "blocked": True,
        "displayName": None,
    }
    assert ReadPositionUpdate(last_read_message_id="M9").to_wire() == {"lastReadMessageId": "M9"}
    assert PresenceStatusUpdate(presence="away", status_text=None).to_wire() == {
        "presence": "away",
        "statusText": None,
    }
    assert SpaceBanUpdate(expires_at=None).to_wire() == {"expiresAt": None}
    assert models.CustomEmojiUpdate(name="x").to_wire() == {"name": "x"}


def test_filters() -> None:
    assert MessageFilter(chat_id="C", has_attachment=False).to_wire() == {
        "chatId": "C",
        "hasAttachment": False,
    }
    op = FilterOperator(
        operator="AND", conditions=[MessageFilter(chat_id="C"), MessageFilter(text="x")]
    )
    assert op.to_wire() == {"operator": "AND", "conditions": [{"chatId": "C"}, {"text": "x"}]}
    assert models.QuotaFilter(type="Message").to_wire() == {"type": "Message"}
    assert models.ChatFilter(kind="group").to_wire() == {"kind": "group"}
    assert models.SpaceFilter(is_public=True).to_wire() == {"isPublic": True}
    assert models.ChatContactFilter(blocked=False).to_wire() == {"blocked": False}
    assert models.CustomEmojiFilter(space_id="S").to_wire() == {"spaceId": "S"}


# ---------------------------------------------------------------- push


def test_push_subscription_and_payloads() -> None:
    create = PushSubscriptionCreate(
        device_client_id="dev",
        url="https://push.example/x",
        keys=PushKeys(p256dh="KEY", auth="AUTH"),
        types=None,
        chat_push={"A1": ChatPushConfig(kinds=["direct"], mention_urgency="high")},
    )
    assert create.to_wire() == {
        "deviceClientId": "dev",
        "url": "https://push.example/x",
        "keys": {"p256dh": "KEY", "auth": "AUTH"},
        "types": None,
        "chatPush": {"A1": {"kinds": ["direct"], "mentionUrgency": "high"}},
    }
    assert "AUTH" not in repr(create)
    update = PushSubscriptionUpdate(verification_code="CODE")
    assert update.to_wire() == {"verificationCode": "CODE"}
    assert "CODE" not in repr(update)
    sub = PushSubscription.model_validate({"id": "P", "verificationCode": "V", "chatPush": None})
    assert "'V'" not in repr(sub)

    push = ChatMessagePush(
        account_id="A", state="s", messages=[ChatMessageEntry(message_id="m", has_mention=False)]
    )
    assert push.to_wire() == {
        "@type": "ChatMessagePush",
        "accountId": "A",
        "state": "s",
        "messages": [{"messageId": "m", "hasMention": False}],
    }
    assert isinstance(parse_push_payload(push.to_wire()), ChatMessagePush)
    assert isinstance(parse_push_payload({"@type": "StateChange", "changed": {}}), StateChange)
    other = parse_push_payload({"@type": "Vendor", "x": 1})
    assert type(other) is PushPayload
    assert other.to_wire() == {"@type": "Vendor", "x": 1}


def test_secrets_redacted_in_repr() -> None:
    invite = SpaceInvite.model_validate({"id": "I", "code": "hunter2"})
    assert "hunter2" not in repr(invite)
    assert invite.code == "hunter2"


def test_not_given_sentinel_default() -> None:
    assert MessageFilter().chat_id is NOT_GIVEN
    assert SpaceBan.model_validate({"id": "b"}).reason is None


def test_inputs_reject_misspelled_fields() -> None:
    with pytest.raises(ValidationError, match="chatid"):
        MessageCreate(chat_id="c", body="x", chatid="y")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SpaceUpdate.model_validate({"addMember": [{"id": "x"}]})
