"""Message/set update: edits, reactions, deletes and read receipts, each reaching the
copies of the message the draft says it reaches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._core import PointerError, parse_pointer
from .._util import SetErr, parse_utc
from ._chats import chat_participants
from ._common import UPDATED, effective_receipt_sharing, invalid_props
from ._content import check_content
from ._messages import chat_of, check_may_send, copies_of, delivery_targets

if TYPE_CHECKING:
    from .._context import Ctx

__all__ = ["delete", "edit", "react", "read", "tombstone"]


def edit(ctx: Ctx, obj: dict[str, Any], edit: dict[str, Any]) -> dict[str, Any]:
    if obj["senderId"] != "self":
        raise SetErr("forbidden", "only your own messages can be edited")
    if obj.get("deletedAt"):
        raise SetErr("forbidden", "deleted messages cannot be edited")
    chat = chat_of(ctx, obj["chatId"])
    assert chat is not None
    # An edit is delivered like a new message (the draft's Peer/deliver `edit`): the
    # same sender checks, and only to the recipients a new message would reach now.
    participants, _space = check_may_send(ctx, chat)
    new = {
        k: edit.get(k, obj.get(k, []))
        for k in ("body", "bodyType", "mentions", "broadcastMentions")
    }
    check_content(ctx, chat, new)
    targets = delivery_targets(ctx, chat, participants)
    for acc, copy in copies_of(ctx, obj["senderMsgId"]):
        if copy.get("deletedAt") or acc not in targets:
            continue
        copy["editHistory"] = [
            *(copy.get("editHistory") or []),
            {"body": copy["body"], "bodyType": copy["bodyType"], "editedAt": ctx.now},
        ]
        copy.update(new)
        copy["editedAt"] = ctx.now
        ctx.write("Message", copy, UPDATED, account=acc)
    return {"editedAt": ctx.now}


def react(ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> None:
    if "reactions" in patch:
        raise SetErr("invalidPatch", "patch reactions/<senderReactionId>, not the whole map")
    if obj.get("deletedAt") and any(v is not None for v in patch.values()):
        raise SetErr("forbidden", "deleted messages cannot be reacted to")
    changes: dict[str, dict[str, Any] | None] = {}
    for key, value in patch.items():
        try:
            tokens = parse_pointer("/" + key)
        except PointerError:
            raise SetErr("invalidPatch", f"bad reactions patch path {key!r}") from None
        rid = tokens[1] if len(tokens) == 2 else ""
        if not rid:
            raise SetErr("invalidPatch", f"bad reactions patch path {key!r}")
        existing = (obj.get("reactions") or {}).get(rid)
        if existing is not None and existing.get("senderId") != "self":
            raise SetErr("forbidden", "you can only change your own reactions")
        if value is None:
            changes[rid] = None
            continue
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("emoji"), str)
            or not value["emoji"]
        ):
            raise invalid_props("a Reaction needs a non-empty emoji", key)
        if set(value) - {"emoji", "customEmojiId", "sentAt", "senderId"}:
            raise invalid_props("unknown Reaction property", key)
        if len(value["emoji"].encode()) > 256:
            raise invalid_props("emoji too long", key)
        cei = value.get("customEmojiId")
        if cei is not None and (
            not isinstance(cei, str) or ctx.type("CustomEmoji").load_one(ctx, cei) is None
        ):
            raise invalid_props("customEmojiId must name a CustomEmoji you can see", key)
        sent = value.get("sentAt", ctx.now)
        if parse_utc(sent, strict_utc=False) is None:
            raise invalid_props("sentAt must be a UTCDate", key)
        reaction = {"emoji": value["emoji"], "sentAt": sent}
        if cei is not None:
            reaction["customEmojiId"] = cei
        changes[rid] = reaction
    # A reaction is content from the caller: it reaches the copies an edit (or a new
    # message) would reach now. Removing one's own reaction reaches every copy, like a
    # retraction, so nothing stale is left behind after a block.
    chat = chat_of(ctx, obj["chatId"])
    assert chat is not None
    targets = delivery_targets(ctx, chat, chat_participants(ctx, chat))
    for acc, copy in copies_of(ctx, obj["senderMsgId"]):
        reactions = dict(copy.get("reactions") or {})
        for rid, change in changes.items():
            if change is None:
                cur = reactions.get(rid)
                if cur is not None and (acc == ctx.account_id or cur.get("senderId") == ctx.user):
                    del reactions[rid]
            elif acc in targets and not copy.get("deletedAt"):
                reactions[rid] = {
                    **change,
                    "senderId": "self" if acc == ctx.account_id else ctx.user,
                }
        if reactions != copy.get("reactions"):
            copy["reactions"] = reactions
            ctx.write("Message", copy, UPDATED, account=acc)


def tombstone(ctx: Ctx, acc: str, copy: dict[str, Any], at: str, for_all: bool | None) -> None:
    copy.update(body="", attachments=[], deletedAt=at)
    copy["mentions"] = []
    copy["broadcastMentions"] = []
    if for_all:
        copy["deletedForAll"] = True
    ctx.write("Message", copy, UPDATED, account=acc)


def delete(ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> None:
    at = patch.get("deletedAt")
    for_all = patch.get("deletedForAll")
    if at is None:
        raise invalid_props("deletedAt cannot be cleared", "deletedAt")
    if parse_utc(at, strict_utc=False) is None:
        raise invalid_props("deletedAt must be a UTCDate", "deletedAt")
    if for_all is not None and not isinstance(for_all, bool):
        raise invalid_props("deletedForAll must be a boolean", "deletedForAll")
    if for_all:
        if obj["senderId"] != "self":
            raise SetErr("forbidden", "only your own messages can be deleted for everyone")
        for acc, copy in copies_of(ctx, obj["senderMsgId"]):
            tombstone(ctx, acc, copy, at, True)
    else:
        tombstone(ctx, ctx.account_id, obj, at, None)


def read(ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
    at = patch.get("readAt", obj.get("readAt"))
    disp = patch.get("readDisposition")
    if at is not None and parse_utc(at, strict_utc=False) is None:
        raise invalid_props("readAt must be a UTCDate", "readAt")
    if disp is not None and not isinstance(disp, str):
        raise invalid_props("readDisposition must be a string", "readDisposition")
    obj["readAt"] = at
    obj["readDisposition"] = (disp or "displayed") if at is not None else None
    if at is not None and obj["senderId"] != "self" and obj.get("burnOnRead"):
        ctx.remove("Message", obj["id"])
        ctx.dirty_chats.add((ctx.account_id, obj["chatId"]))
        return None
    ctx.write("Message", obj, UPDATED)
    chat = chat_of(ctx, obj["chatId"])
    if (
        at is not None
        and chat is not None
        and chat["kind"] == "group"
        and obj["senderId"] != "self"
        and effective_receipt_sharing(ctx, ctx.account_id, chat)
    ):
        sender_acc = ctx.core.account_of(obj["senderId"])
        if sender_acc is not None:
            for acc, copy in copies_of(ctx, obj["senderMsgId"]):
                if acc != sender_acc:
                    continue
                sender_chat = ctx.store.get(acc, "Chat", copy["chatId"])
                if not effective_receipt_sharing(ctx, acc, sender_chat):
                    continue
                receipts = dict(copy.get("deliveryReceipts") or {})
                entry = dict(receipts.get(ctx.user) or {"deliveredAt": obj["receivedAt"]})
                entry["readAt"] = at
                entry["readDisposition"] = obj["readDisposition"]
                receipts[ctx.user] = entry
                copy["deliveryReceipts"] = receipts
                ctx.write("Message", copy, UPDATED, account=acc)
    return None


# --- destroy / expiry ---------------------------------------------------------------
