"""Chat (direct / group / channel) and Chat/typing.

Every participant's account holds its own copy of a Chat (same id everywhere) with its
own preferences (muted, …) and unreadCount. A group's shared definition (name, members,
…) lives in a hidden global ``_Group`` record and is synced into every member's copy;
a channel's lives in its Space.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, get_args

from jmapchat.models import ChatProperty

from .._core_caps import CHAT
from .._generic import DataType
from .._util import MethodErr, SetErr, check_args, epoch_of, is_uint, new_id
from ._access import channel_allows
from ._chats import (
    chat_participants,
    ensure_direct_copy,
    find_direct,
    load_group,
    remove_chat_copy,
    save_group,
    share_pins,
)
from ._common import (
    UPDATED,
    invalid_props,
    is_blocked,
    only_keys,
    opt_utc,
    readable_blob,
)
from ._messages import apply_expiry_policy
from .space_channels import update_channel_via_chat

if TYPE_CHECKING:
    from .._context import Core, Ctx

__all__ = ["ChatType", "chat_typing", "register"]

COMMON_UPDATE = frozenset(
    {
        "muted",
        "muteUntil",
        "receiveTypingIndicators",
        "pinnedMessageIds",
        "messageExpirySeconds",
        "receiptSharing",
    }
)
GROUP_ADMIN_UPDATE = frozenset(
    {"name", "description", "avatarBlobId", "addMembers", "removeMembers", "updateMemberRoles"}
)
CHANNEL_UPDATE = frozenset(
    {"name", "topic", "slowModeSeconds", "permissionOverrides", "categoryId", "position"}
)


def _is_group_admin(gdef: dict[str, Any], user: str) -> bool:
    return any(m["id"] == user and m.get("role") == "admin" for m in gdef["members"])


def _member_ids(ctx: Ctx, value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise invalid_props(f"{key} must be an array of contact ids", key)
    return [ctx.ref(v) for v in value]


class ChatType(DataType):
    name = "Chat"
    properties = get_args(ChatProperty)
    filter_spec: ClassVar[dict[str, str]] = {
        "kind": "str",
        "muted": "bool",
        "name": "str",
        "spaceId": "str",
        "contactId": "str",
    }
    sort_props = frozenset({"lastMessageAt", "name", "createdAt", "id", "unreadCount"})
    default_sort: ClassVar[list[tuple[str, bool]]] = [("lastMessageAt", False)]

    def keys(self, obj: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
        kind = obj.get("kind")
        k1 = (
            obj.get("contactId")
            if kind == "direct"
            else obj.get("spaceId")
            if kind == "channel"
            else "group"
        )
        return k1, None, epoch_of(obj.get("muteUntil")) if obj.get("muted") else None

    def visible(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        if obj.get("kind") != "channel":
            return True
        if not obj.get("spaceId"):
            return False  # a channel outside any Space is malformed: nobody may use it
        return channel_allows(ctx, obj["spaceId"], obj["id"], ctx.user, "view")

    def match(self, ctx: Ctx, obj: dict[str, Any], cond: dict[str, Any]) -> bool:
        for key, value in cond.items():
            if key == "name":
                name = obj.get("name") or ""
                if value.casefold() not in name.casefold():
                    return False
            elif key == "muted":
                if bool(obj.get("muted")) != value:
                    return False
            elif obj.get(key) != value:
                return False
        return True

    # --- create -------------------------------------------------------------------------

    def create(self, ctx: Ctx, cid: str, data: dict[str, Any]) -> dict[str, Any]:
        kind = data.get("kind")
        if kind == "direct":
            only_keys(
                data,
                {
                    "kind",
                    "contactId",
                    "muted",
                    "receiveTypingIndicators",
                    "receiptSharing",
                    "messageExpirySeconds",
                },
            )
            contact = data.get("contactId")
            if not isinstance(contact, str) or not contact:
                raise invalid_props("contactId is required", "contactId")
            contact = ctx.ref(contact)
            if contact == ctx.user:
                raise invalid_props("cannot open a direct chat with yourself", "contactId")
            existing = find_direct(ctx, ctx.account_id, contact)
            if existing is not None:
                return {**existing, "_existing": True}
            chat_id = None
            other = ctx.core.account_of(contact)
            if other is not None:
                theirs = find_direct(ctx, other, ctx.user)
                if theirs is not None:
                    chat_id = theirs["id"]
            chat = ensure_direct_copy(ctx, ctx.account_id, chat_id or new_id(), contact)
            if other is not None:
                ensure_direct_copy(ctx, other, chat["id"], ctx.user)
            self._apply_prefs(ctx, chat, data)
            return chat
        if kind == "group":
            only_keys(
                data,
                {
                    "kind",
                    "name",
                    "memberIds",
                    "description",
                    "avatarBlobId",
                    "messageExpirySeconds",
                },
            )
            name = data.get("name")
            if not isinstance(name, str) or not name.strip():
                raise invalid_props("name is required for a group chat", "name")
            members = _member_ids(ctx, data.get("memberIds", []), "memberIds")
            for key in ("description", "avatarBlobId"):
                if data.get(key) is not None and not isinstance(data[key], str):
                    raise invalid_props(f"{key} must be a string", key)
            if data.get("avatarBlobId") is not None:
                readable_blob(ctx, data["avatarBlobId"], "avatarBlobId")
            mes = data.get("messageExpirySeconds")
            if mes is not None and not is_uint(mes):
                raise invalid_props(
                    "messageExpirySeconds must be an UnsignedInt", "messageExpirySeconds"
                )
            uniq = [m for m in dict.fromkeys(members) if m != ctx.user]
            if len(uniq) + 1 > ctx.core.chat.max_group_members:
                raise SetErr("overQuota", "too many members for a group chat")
            gid = new_id()
            gdef = {
                "id": gid,
                "name": name,
                "description": data.get("description"),
                "avatarBlobId": data.get("avatarBlobId"),
                "members": [
                    {"id": ctx.user, "role": "admin", "joinedAt": ctx.now, "invitedBy": None}
                ]
                + [
                    {"id": m, "role": "member", "joinedAt": ctx.now, "invitedBy": ctx.user}
                    for m in uniq
                ],
                "createdAt": ctx.now,
                "messageExpirySeconds": mes,
            }
            save_group(ctx, gdef, new_users=[ctx.user, *uniq])
            created = ctx.store.get(ctx.account_id, "Chat", gid)
            assert created is not None
            return created
        if kind == "channel":
            raise SetErr("forbidden", "channels are created with Space/set addChannels")
        raise invalid_props("kind must be direct or group", "kind")

    def _apply_prefs(self, ctx: Ctx, chat: dict[str, Any], data: dict[str, Any]) -> None:
        prefs = {k: v for k, v in data.items() if k in COMMON_UPDATE}
        if prefs:
            self._common_update(ctx, chat, prefs)
            ctx.write(self, chat, UPDATED)

    # --- update -------------------------------------------------------------------------

    def _common_update(self, ctx: Ctx, chat: dict[str, Any], patch: dict[str, Any]) -> None:
        for key, value in patch.items():
            if key in ("muted", "receiveTypingIndicators"):
                if not isinstance(value, bool):
                    raise invalid_props(f"{key} must be a boolean", key)
            elif key == "receiptSharing":
                if value is not None and not isinstance(value, bool):
                    raise invalid_props("receiptSharing must be a boolean or null", key)
            elif key == "muteUntil":
                opt_utc(patch, key)
            elif key == "messageExpirySeconds":
                if value is not None and not is_uint(value):
                    raise invalid_props("messageExpirySeconds must be an UnsignedInt", key)
                if value != chat.get(key):
                    apply_expiry_policy(ctx, ctx.account_id, chat["id"], value)
            elif key == "pinnedMessageIds":
                ids = _member_ids(ctx, value if value is not None else [], key)
                msgs = ctx.store.get_many(ctx.account_id, "Message", ids)
                if any(i not in msgs or msgs[i]["chatId"] != chat["id"] for i in ids):
                    raise invalid_props("pinnedMessageIds must be messages of this chat", key)
                self._check_pin(ctx, chat)
                value = list(dict.fromkeys(ids))
                if chat["kind"] in ("group", "channel"):
                    share_pins(ctx, chat, [msgs[i]["senderMsgId"] for i in value])
            chat[key] = value

    def _check_pin(self, ctx: Ctx, chat: dict[str, Any]) -> None:
        if chat["kind"] == "group":
            gdef = load_group(ctx, chat["id"])
            if gdef is None or not _is_group_admin(gdef, ctx.user):
                raise SetErr("forbidden", "only group admins may pin messages")
        elif chat["kind"] == "channel" and not channel_allows(
            ctx, chat["spaceId"], chat["id"], ctx.user, "pin"
        ):
            raise SetErr("forbidden", "pinning needs the pin permission")

    def update(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        kind = obj["kind"]
        common = {k: v for k, v in patch.items() if k in COMMON_UPDATE}
        rest = {k: v for k, v in patch.items() if k not in COMMON_UPDATE}
        if kind == "group":
            only_keys(rest, GROUP_ADMIN_UPDATE)
        elif kind == "channel":
            only_keys(rest, CHANNEL_UPDATE)
        else:
            only_keys(rest, frozenset())
        self._common_update(ctx, obj, common)
        if common:
            ctx.write(self, obj, UPDATED)
        if rest and kind == "group":
            self._group_update(ctx, obj, rest)
        elif rest and kind == "channel":
            update_channel_via_chat(ctx, obj, rest)
        return None

    def _group_update(self, ctx: Ctx, chat: dict[str, Any], patch: dict[str, Any]) -> None:
        gdef = load_group(ctx, chat["id"])
        if gdef is None or not _is_group_admin(gdef, ctx.user):
            raise SetErr("forbidden", "only group admins may change this")
        removed: list[str] = []
        added: list[str] = []
        for key, value in patch.items():
            if key == "name":
                if not isinstance(value, str) or not value.strip():
                    raise invalid_props("name must be a non-empty string", key)
                gdef["name"] = value
            elif key in ("description", "avatarBlobId"):
                if value is not None and not isinstance(value, str):
                    raise invalid_props(f"{key} must be a string or null", key)
                if key == "avatarBlobId" and value is not None:
                    readable_blob(ctx, value, key)
                gdef[key] = value
            elif key == "addMembers":
                if not isinstance(value, list):
                    raise invalid_props("addMembers must be an array", key)
                for entry in value:
                    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                        raise invalid_props("addMembers entries need an id", key)
                    role = entry.get("role", "member")
                    if role not in ("admin", "member") or set(entry) - {"id", "role"}:
                        raise invalid_props("role must be admin or member", key)
                    uid = ctx.ref(entry["id"])
                    if any(m["id"] == uid for m in gdef["members"]):
                        continue
                    gdef["members"].append(
                        {"id": uid, "role": role, "joinedAt": ctx.now, "invitedBy": ctx.user}
                    )
                    added.append(uid)
                if len(gdef["members"]) > ctx.core.chat.max_group_members:
                    raise SetErr("overQuota", "too many members for a group chat")
            elif key == "removeMembers":
                ids = _member_ids(ctx, value, key)
                before = len(gdef["members"])
                gdef["members"] = [m for m in gdef["members"] if m["id"] not in ids]
                if len(gdef["members"]) != before:
                    removed.extend(i for i in ids if i not in removed)
            elif key == "updateMemberRoles":
                if not isinstance(value, list):
                    raise invalid_props("updateMemberRoles must be an array", key)
                for entry in value:
                    if (
                        not isinstance(entry, dict)
                        or not isinstance(entry.get("id"), str)
                        or entry.get("role") not in ("admin", "member")
                    ):
                        raise invalid_props(
                            "updateMemberRoles entries need id and role admin|member", key
                        )
                    for m in gdef["members"]:
                        if m["id"] == entry["id"]:
                            m["role"] = entry["role"]
        if gdef["members"] and not any(m.get("role") == "admin" for m in gdef["members"]):
            raise invalid_props("a group needs at least one admin", "removeMembers")
        save_group(ctx, gdef, extra_users=removed, new_users=added)

    # --- destroy ------------------------------------------------------------------------

    def destroy(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        if obj["kind"] == "channel":
            raise SetErr("forbidden", "channels are removed with Space/set removeChannels")
        if obj["kind"] == "group":
            gdef = load_group(ctx, obj["id"])
            if gdef is not None and any(m["id"] == ctx.user for m in gdef["members"]):
                gdef["members"] = [m for m in gdef["members"] if m["id"] != ctx.user]
                if gdef["members"] and not any(m.get("role") == "admin" for m in gdef["members"]):
                    gdef["members"][0]["role"] = "admin"
                remove_chat_copy(ctx, ctx.account_id, obj["id"])
                save_group(ctx, gdef)
                return
        remove_chat_copy(ctx, ctx.account_id, obj["id"])

    def expire(self, ctx: Ctx, scope: str, oid: str) -> None:
        chat = ctx.store.get(scope, self.name, oid)
        if chat is not None:
            chat["muted"] = False
            chat["muteUntil"] = None
            ctx.write(self, chat, UPDATED, account=scope)


def chat_typing(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(
        args, {"accountId": "str", "chatId": "str", "typing": "bool"}, ("chatId", "typing")
    )
    if args.get("accountId", ctx.account_id) != ctx.account_id:
        raise MethodErr("accountNotFound", "no such account")
    chat_id = ctx.ref(args["chatId"])
    chat = ctx.type("Chat").load_one(ctx, chat_id)
    participants = chat_participants(ctx, chat) if chat else []
    if chat is None or ctx.user not in participants:
        raise MethodErr("notFound", "no such chat, or not a participant")
    typing = args["typing"]
    key = (ctx.account_id, chat_id)
    if typing:
        last = ctx.core.typing_seen.get(key)
        if last is not None and ctx.now_ts - last < 3.0:
            return {"accountId": ctx.account_id}
        ctx.core.typing_seen[key] = ctx.now_ts
    else:
        ctx.core.typing_seen.pop(key, None)
    for user in participants:
        if user == ctx.user:
            continue
        acc = ctx.core.account_of(user)
        if acc is None:
            continue
        copy = ctx.store.get(acc, "Chat", chat_id)
        if copy is None or is_blocked(ctx, acc, ctx.user):
            continue
        if chat["kind"] != "channel" and copy.get("receiveTypingIndicators") is False:
            continue
        if chat["kind"] == "channel" and not channel_allows(
            ctx, chat["spaceId"], chat_id, user, "view"
        ):
            continue
        ctx.emit(acc, "typing", {"chatId": chat_id, "senderId": ctx.user, "typing": typing})
    return {"accountId": ctx.account_id}


def register(core: Core) -> None:
    core.register(ChatType())
    core.method("Chat/typing", CHAT, chat_typing)
