"""A chat's copies in its participants' accounts (every participant holds their own copy,
same id everywhere): creating and removing copies, a group's shared definition, who takes
part, pins shared across copies, and the unread counts recomputed after a call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._util import new_id
from ._access import load_space
from ._common import CREATED, GLOBAL, UPDATED, ensure_contact

if TYPE_CHECKING:
    from .._context import Ctx

__all__ = [
    "GROUP_SHARED",
    "add_chat_copy",
    "base_chat",
    "chat_participants",
    "ensure_direct_copy",
    "find_direct",
    "introduce",
    "load_group",
    "local_pins",
    "refresh_chats",
    "remove_chat_copy",
    "save_group",
    "share_pins",
]

GROUP_SHARED = ("name", "description", "avatarBlobId", "members")
GROUP_SHARED = ("name", "description", "avatarBlobId", "members")


def base_chat(ctx: Ctx, chat_id: str, kind: str) -> dict[str, Any]:
    return {
        "id": chat_id,
        "kind": kind,
        "createdAt": ctx.now,
        "lastMessageAt": None,
        "unreadCount": 0,
        "pinnedMessageIds": [],
        "muted": False,
        "muteUntil": None,
        "receiveTypingIndicators": True,
        "receiptSharing": None,
        "messageExpirySeconds": None,
    }


def add_chat_copy(ctx: Ctx, account: str, chat: dict[str, Any]) -> None:
    ctx.write("Chat", chat, CREATED, account=account)
    if not ctx.store.by_k1(account, "ReadPosition", chat["id"]):
        rp = {
            "id": new_id(),
            "chatId": chat["id"],
            "lastReadMessageId": None,
            "lastReadAt": ctx.now,
        }
        ctx.write("ReadPosition", rp, CREATED, account=account)


def remove_chat_copy(ctx: Ctx, account: str, chat_id: str) -> None:
    for mid in ctx.store.ids_by_k1(account, "Message", chat_id):
        ctx.remove("Message", mid, account=account)
    for rp in ctx.store.by_k1(account, "ReadPosition", chat_id):
        ctx.remove("ReadPosition", rp["id"], account=account)
    ctx.remove("Chat", chat_id, account=account)


def find_direct(ctx: Ctx, account: str, contact: str) -> dict[str, Any] | None:
    for chat in ctx.store.by_k1(account, "Chat", contact):
        if chat.get("kind") == "direct":
            return chat
    return None


def ensure_direct_copy(ctx: Ctx, account: str, chat_id: str, contact: str) -> dict[str, Any]:
    chat = ctx.store.get(account, "Chat", chat_id)
    if chat is not None:
        return chat
    ensure_contact(ctx, account, contact)
    chat = base_chat(ctx, chat_id, "direct")
    chat["contactId"] = contact
    add_chat_copy(ctx, account, chat)
    return chat


def load_group(ctx: Ctx, gid: str) -> dict[str, Any] | None:
    return ctx.store.get(GLOBAL, "_Group", gid)


def save_group(
    ctx: Ctx,
    gdef: dict[str, Any],
    extra_users: list[str] | None = None,
    new_users: list[str] | None = None,
) -> None:
    ctx.store.put(GLOBAL, "_Group", gdef)
    member_ids = [m["id"] for m in gdef["members"]]
    for user in member_ids + list(extra_users or []):
        acc = ctx.core.account_of(user)
        if acc is None:
            continue
        copy = ctx.store.get(acc, "Chat", gdef["id"])
        if copy is None:
            if user not in member_ids:
                continue
            copy = base_chat(ctx, gdef["id"], "group")
            copy["createdAt"] = gdef["createdAt"]
            copy.update({k: gdef[k] for k in GROUP_SHARED})
            if ctx.account_id == acc and gdef.get("messageExpirySeconds") is not None:
                copy["messageExpirySeconds"] = gdef["messageExpirySeconds"]
            add_chat_copy(ctx, acc, copy)
        elif any(copy.get(k) != gdef[k] for k in GROUP_SHARED):
            copy.update({k: gdef[k] for k in GROUP_SHARED})
            ctx.write("Chat", copy, UPDATED, account=acc)
    introduce(ctx, new_users or [], member_ids)


def introduce(ctx: Ctx, users: list[str], members: list[str]) -> None:
    """Each of ``users`` (new members) and every other member become each other's
    contacts."""
    for user in users:
        acc = ctx.core.account_of(user)
        for other in members:
            if other == user:
                continue
            if acc is not None:
                ensure_contact(ctx, acc, other)
            oacc = ctx.core.account_of(other)
            if oacc is not None:
                ensure_contact(ctx, oacc, user)


def chat_participants(ctx: Ctx, chat: dict[str, Any]) -> list[str]:
    """Usernames taking part in a chat (as seen from the caller's copy), caller included."""
    kind = chat.get("kind")
    if kind == "direct":
        return [ctx.user, chat["contactId"]]
    if kind == "group":
        gdef = load_group(ctx, chat["id"])
        return [m["id"] for m in gdef["members"]] if gdef else []
    space = load_space(ctx, chat.get("spaceId", ""))
    return [m["id"] for m in space["members"]] if space else []


def refresh_chats(ctx: Ctx) -> None:
    """Recompute unreadCount / lastMessageAt of chats touched by this call."""
    dirty, ctx.dirty_chats = ctx.dirty_chats, set()
    for acc, chat_id in sorted(dirty):
        chat = ctx.store.get(acc, "Chat", chat_id)
        if chat is None:
            continue
        rps = ctx.store.by_k1(acc, "ReadPosition", chat_id)
        last_read = rps[0].get("lastReadMessageId") if rps else None
        if last_read is None:
            # nothing read: every message, from the kept per-chat count (O(1), where a
            # COUNT reads the whole chat on each batch of new messages)
            unread = ctx.store.count_sorted(acc, "Message", chat_id)
        else:
            unread = ctx.store.count_k1_after(acc, "Message", chat_id, last_read)
        last = ctx.store.last_by_k1(acc, "Message", chat_id)
        last_at = last["receivedAt"] if last else None
        if last_at is None and chat.get("lastMessageAt") is not None:
            last_at = chat["lastMessageAt"]
        if chat.get("unreadCount") != unread or chat.get("lastMessageAt") != last_at:
            chat["unreadCount"] = unread
            chat["lastMessageAt"] = last_at
            ctx.write("Chat", chat, UPDATED, account=acc)


def local_pins(ctx: Ctx, account: str, sender_msg_ids: list[str]) -> list[str]:
    """The shared pin list (senderMsgIds) as ``account``'s own message ids; a message the
    account does not hold is left out."""
    out = []
    for smid in sender_msg_ids:
        for scope, msg in ctx.store.by_k2("Message", smid):
            if scope == account:
                out.append(str(msg["id"]))
                break
    return out


def share_pins(ctx: Ctx, chat: dict[str, Any], sender_msg_ids: list[str]) -> None:
    """Group and channel pins are one list per chat (the draft: only admins / ``pin``
    holders modify it): kept by senderMsgId in the shared definition and written into
    every other member's copy as that member's message ids."""
    if chat["kind"] == "group":
        gdef = load_group(ctx, chat["id"])
        if gdef is None:
            return
        gdef["_pins"] = sender_msg_ids
        ctx.store.put(GLOBAL, "_Group", gdef)
    else:
        space = load_space(ctx, chat["spaceId"])
        chan = space["_channels"].get(chat["id"]) if space else None
        if space is None or chan is None:
            return
        chan["_pins"] = sender_msg_ids
        ctx.store.put(GLOBAL, "Space", space)
    for user in dict.fromkeys(chat_participants(ctx, chat)):
        acc = ctx.core.account_of(user)
        if acc is None or acc == ctx.account_id:
            continue
        copy = ctx.store.get(acc, "Chat", chat["id"])
        if copy is None:
            continue
        pins = local_pins(ctx, acc, sender_msg_ids)
        if copy.get("pinnedMessageIds") != pins:
            copy["pinnedMessageIds"] = pins
            ctx.write("Chat", copy, UPDATED, account=acc)
