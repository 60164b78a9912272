"""Per-account singletons and cursors: PresenceStatus and ReadPosition."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from jmapchat.models import PresenceStatusProperty, ReadPositionProperty

from .._generic import DataType
from .._util import epoch_of, parse_utc
from ._chats import refresh_chats
from ._common import UPDATED, contact_mirror, invalid_props, is_blocked

if TYPE_CHECKING:
    from .._context import Core, Ctx

__all__ = ["PresenceStatusType", "ReadPositionType", "propagate_presence", "register"]

PRESENCE_VALUES = ("online", "away", "busy", "invisible", "offline")


def propagate_presence(ctx: Ctx, username: str) -> None:
    """Mirror a user's PresenceStatus into every local ChatContact for them + push events."""
    mirror = contact_mirror(ctx, username)
    for acc, other in list(ctx.core.users_by_account.items()):
        if other == username:
            continue
        contact = ctx.store.get(acc, "ChatContact", username)
        if contact is None:
            continue
        changed = {k: v for k, v in mirror.items() if contact.get(k) != v}
        if changed:
            contact.update(changed)
            contact["lastSeenAt"] = ctx.now
            ctx.write("ChatContact", contact, UPDATED, account=acc)
        if not is_blocked(ctx, acc, username):
            ctx.emit(
                acc,
                "presence",
                {
                    "contactId": username,
                    "presence": mirror["presence"],
                    "lastActiveAt": mirror["lastActiveAt"],
                    "statusText": mirror["statusText"],
                    "statusEmoji": mirror["statusEmoji"],
                },
            )


class PresenceStatusType(DataType):
    name = "PresenceStatus"
    properties = get_args(PresenceStatusProperty)
    methods = ("get", "changes", "set")
    create_forbidden = True
    destroy_forbidden = True

    def keys(self, obj: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
        return None, None, epoch_of(obj.get("expiresAt"))

    def update(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        for key, value in patch.items():
            if key == "presence":
                if value not in PRESENCE_VALUES:
                    raise invalid_props(
                        "presence must be one of " + ", ".join(PRESENCE_VALUES), key
                    )
            elif key in ("statusText", "statusEmoji"):
                if value is not None and not isinstance(value, str):
                    raise invalid_props(f"{key} must be a string or null", key)
            elif key == "expiresAt":
                if value is not None and parse_utc(value) is None:
                    raise invalid_props("expiresAt must be a UTCDate or null", key)
            elif key == "receiptSharing":
                if not isinstance(value, bool):
                    raise invalid_props("receiptSharing must be a boolean", key)
            else:
                raise invalid_props(f"{key} cannot be updated", key)
            obj[key] = value
        obj["updatedAt"] = ctx.now
        ctx.write(self, obj, UPDATED)
        propagate_presence(ctx, ctx.user)
        return {"updatedAt": obj["updatedAt"]}

    def expire(self, ctx: Ctx, scope: str, oid: str) -> None:
        obj = ctx.store.get(scope, self.name, oid)
        if obj is None:
            return
        # draft: clear text/emoji and reset presence to "online" (compliance 9.3 says offline)
        obj.update(statusText=None, statusEmoji=None, presence="online", expiresAt=None)
        obj["updatedAt"] = ctx.now
        ctx.write(self, obj, UPDATED, account=scope)
        propagate_presence(ctx, ctx.core.user_of(scope))


class ReadPositionType(DataType):
    name = "ReadPosition"
    properties = get_args(ReadPositionProperty)
    methods = ("get", "changes", "set")
    create_forbidden = True
    destroy_forbidden = True

    def keys(self, obj: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
        return obj["chatId"], None, None

    def visible(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        chat = ctx.type("Chat").load_one(ctx, obj["chatId"])
        return chat is not None

    def update(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        before = obj.get("lastReadMessageId") or ""
        for key, value in patch.items():
            if key != "lastReadMessageId":
                raise invalid_props(f"{key} cannot be updated", key)
            if value is not None:
                if not isinstance(value, str):
                    raise invalid_props("lastReadMessageId must be a string or null", key)
                value = ctx.ref(value)
                msg = ctx.store.get(ctx.account_id, "Message", value)
                if msg is None or msg.get("chatId") != obj["chatId"]:
                    raise invalid_props("lastReadMessageId is not a message of this chat", key)
            obj["lastReadMessageId"] = value
        obj["lastReadAt"] = ctx.now
        ctx.write(self, obj, UPDATED)
        ctx.dirty_chats.add((ctx.account_id, obj["chatId"]))
        # a thread root's unreadReplyCount changes when the read position passes one of its
        # thread's messages: report those roots as updated (only the range that moved)
        low, high = sorted((before, obj.get("lastReadMessageId") or ""))
        if low != high:
            roots = ctx.store.execute(
                "SELECT DISTINCT json_extract(data, '$.threadRootId') FROM objects "
                "WHERE scope=? AND type='Message' AND k1=? AND id>? AND id<=? "
                "AND json_extract(data, '$.threadRootId') IS NOT NULL",
                (ctx.account_id, obj["chatId"], low, high),
            ).fetchall()
            for (rid,) in roots:
                ctx.log_only("Message", str(rid), UPDATED, [ctx.account_id])
        return {"lastReadAt": obj["lastReadAt"]}

    def finish_set(self, ctx: Ctx) -> None:
        refresh_chats(ctx)


def register(core: Core) -> None:
    core.register(PresenceStatusType())
    core.register(ReadPositionType())
