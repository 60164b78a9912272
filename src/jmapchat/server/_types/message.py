"""Message: relay delivery into every participant's account, edits, reactions, deletes.

The sender's copy has ``senderId: "self"`` and ``senderMsgId == id``; every other local
participant gets a copy with its own receiver-assigned id, ``senderId`` = the sender's
contact id and the same ``senderMsgId`` (indexed, so edits, reactions and retractions
find all copies). What a message may say is `_content`; whom it reaches and its copies,
`_messages`; the update side, `message_update`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, get_args

from jmapchat.models import MessageProperty

from .._generic import DataType
from .._util import MethodErr, SetErr, epoch_of, format_utc, new_id, parse_utc
from ._access import channel_allows
from ._chats import ensure_direct_copy, refresh_chats
from ._common import CREATED, UPDATED, ensure_contact, invalid_props, only_keys
from ._content import PLAINTEXT_TYPES, RICH, check_attachments, check_content, mentions_user
from ._message_query import message_query_plan
from ._messages import chat_of, check_may_send, copies_of, delivery_accounts, queue_push
from .message_update import delete, edit, react, read, tombstone

if TYPE_CHECKING:
    from .._context import Core, Ctx
    from .._query import SqlPlan

__all__ = ["PLAINTEXT_TYPES", "RICH", "MessageType", "register"]

CREATE_KEYS = frozenset(
    {
        "chatId",
        "body",
        "bodyType",
        "sentAt",
        "attachments",
        "mentions",
        "broadcastMentions",
        "actions",
        "replyTo",
        "threadRootId",
        "senderExpiresAt",
        "burnOnRead",
    }
)


class MessageType(DataType):
    name = "Message"
    properties = get_args(MessageProperty)
    filter_spec: ClassVar[dict[str, str]] = {
        "chatId": "str",
        "text": "str",
        "threadRootId": "str",
        "hasAttachment": "bool",
        "hasMention": "bool",
        "senderId": "str",
        "after": "str",
        "before": "str",
    }
    sort_props = frozenset({"receivedAt", "sentAt", "id"})

    def keys(self, obj: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
        return obj["chatId"], obj["senderMsgId"], obj.get("_expires")

    def visible(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        return chat_of(ctx, obj["chatId"]) is not None

    def present(self, ctx: Ctx, obj: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in obj.items() if k[:1] != "_"}
        if ctx.core.chat.supports_threads:
            out["replyCount"] = (
                ctx.store.execute(
                    "SELECT COUNT(*) FROM objects WHERE scope=? AND type='Message' AND k1=? "
                    "AND json_extract(data, '$.replyTo')=?",
                    (ctx.account_id, obj["chatId"], obj["id"]),
                ).fetchone()[0]
                if obj.get("_replies")
                else 0
            )
            if obj.get("threadRootId") is None:
                out["unreadReplyCount"] = (
                    self._unread_replies(ctx, obj) if obj.get("_thread") else 0
                )
        return out

    def _unread_replies(self, ctx: Ctx, root: dict[str, Any]) -> int:
        """Messages of ``root``'s thread that sort after the owner's lastReadMessageId
        (the same rule as Chat.unreadCount, applied to one thread)."""
        key = ("last read", ctx.account_id, root["chatId"])
        if key not in ctx.cache:
            rps = ctx.store.by_k1(ctx.account_id, "ReadPosition", root["chatId"])
            ctx.cache[key] = rps[0].get("lastReadMessageId") if rps else None
        last_read = ctx.cache[key] or ""
        row = ctx.store.execute(
            "SELECT COUNT(*) FROM objects WHERE scope=? AND type='Message' AND k1=? AND id>? "
            "AND json_extract(data, '$.threadRootId')=?",
            (ctx.account_id, root["chatId"], last_read, root["id"]),
        ).fetchone()
        return int(row[0])

    # --- query --------------------------------------------------------------------------

    def check_condition(self, ctx: Ctx, cond: dict[str, Any]) -> None:
        super().check_condition(ctx, cond)
        if "threadRootId" in cond and not ctx.core.chat.supports_threads:
            raise MethodErr("unsupportedFilter", "threads are not supported")

    def _chat_filter(self, flt: dict[str, Any] | None) -> tuple[str | None, bool]:
        if flt is None:
            return None, False
        if "operator" not in flt:
            return flt.get("chatId"), flt.get("hasMention") is True
        if flt["operator"] == "AND":
            chat_id, mention = None, False
            for c in flt["conditions"]:
                cid, m = self._chat_filter(c)
                chat_id = chat_id or cid
                mention = mention or m
            return chat_id, mention
        return None, False

    def query_candidates(self, ctx: Ctx, flt: dict[str, Any] | None) -> list[dict[str, Any]]:
        chat_id, mention = self._chat_filter(flt)
        if chat_id is None and not mention:
            raise MethodErr(
                "unsupportedFilter", "Message/query needs a chatId filter (or hasMention: true)"
            )
        if chat_id is not None:
            chat_id = ctx.ref(chat_id)
            if chat_of(ctx, chat_id) is None:
                return []
            return ctx.store.by_k1(ctx.account_id, self.name, chat_id)
        return [m for m in ctx.store.all(ctx.account_id, self.name) if self.visible(ctx, m)]

    def effective_default_sort(
        self, ctx: Ctx, flt: dict[str, Any] | None
    ) -> list[tuple[str, bool]]:
        chat_id, _ = self._chat_filter(flt)
        return [("receivedAt", chat_id is not None)]

    def index_keys(self, obj: dict[str, Any]) -> tuple[float | None, float | None, str | None]:
        # the first part of sort_value("receivedAt") and ("sentAt"), and the senderId
        # (always set): the k3, k4 and k5 indexes of _message_query
        return (
            epoch_of(obj.get("receivedAt")) or 0.0,
            epoch_of(obj.get("sentAt")) or 0.0,
            obj.get("senderId"),
        )

    def query_plan(
        self, ctx: Ctx, flt: dict[str, Any] | None, spec: list[tuple[str, bool, str]]
    ) -> SqlPlan | None:
        return message_query_plan(ctx, *self._chat_filter(flt), flt, spec)

    def sort_value(self, ctx: Ctx, obj: dict[str, Any], prop: str) -> Any:
        if prop in ("receivedAt", "sentAt"):
            return (epoch_of(obj.get(prop)) or 0.0, obj["id"])
        return obj.get(prop)

    def match(self, ctx: Ctx, obj: dict[str, Any], cond: dict[str, Any]) -> bool:
        for key, value in cond.items():
            if key == "chatId":
                if obj["chatId"] != ctx.ref(value):
                    return False
            elif key == "text":
                if value.casefold() not in obj.get("body", "").casefold():
                    return False
            elif key == "threadRootId":
                if obj.get("threadRootId") != ctx.ref(value) and obj["id"] != ctx.ref(value):
                    return False
            elif key == "hasAttachment":
                if bool(obj.get("attachments")) != value:
                    return False
            elif key == "hasMention":
                if mentions_user(obj, ctx.user) != value:
                    return False
            elif key == "senderId":
                if obj.get("senderId") != value:
                    return False
            elif key == "after":
                if (epoch_of(obj.get("receivedAt")) or 0) < (epoch_of(value) or 0):
                    return False
            elif key == "before" and (epoch_of(obj.get("receivedAt")) or 0) >= (
                epoch_of(value) or 0
            ):
                return False
        return True

    # --- create -------------------------------------------------------------------------

    def create(self, ctx: Ctx, cid: str, data: dict[str, Any]) -> dict[str, Any]:
        only_keys(data, CREATE_KEYS)
        chat_id = data.get("chatId")
        if not isinstance(chat_id, str):
            raise invalid_props("chatId is required", "chatId")
        chat_id = ctx.ref(chat_id)
        chat = chat_of(ctx, chat_id)  # read once per call (the call does not change it)
        if chat is None:
            raise invalid_props("no such chat", "chatId")
        participants, space = check_may_send(ctx, chat)
        if "body" not in data:
            raise invalid_props("body is required", "body")
        sent_at = data.get("sentAt", ctx.now)
        if parse_utc(sent_at, strict_utc=False) is None:
            raise invalid_props("sentAt must be a UTCDate", "sentAt")
        msg: dict[str, Any] = {
            "body": data["body"],
            "bodyType": data.get("bodyType", "text/plain"),
            "mentions": data.get("mentions", []),
            "broadcastMentions": data.get("broadcastMentions", []),
        }
        check_content(ctx, chat, msg)
        attachments = check_attachments(ctx, data.get("attachments", []))
        actions = data.get("actions", [])
        if not isinstance(actions, list) or not all(
            isinstance(a, dict) and isinstance(a.get("type"), str) and isinstance(a.get("uri"), str)
            for a in actions
        ):
            raise invalid_props("actions must be MessageAction objects", "actions")
        reply_to = data.get("replyTo")
        thread_root = data.get("threadRootId")
        parent = None
        if reply_to is not None:
            reply_to = ctx.ref(reply_to) if isinstance(reply_to, str) else reply_to
            parent = (
                ctx.store.get(ctx.account_id, self.name, reply_to)
                if isinstance(reply_to, str)
                else None
            )
            if parent is None or parent["chatId"] != chat_id:
                raise invalid_props("replyTo must be a message of the same chat", "replyTo")
            thread_root = parent.get("threadRootId") or parent["id"]
        elif thread_root is not None:
            thread_root = ctx.ref(thread_root) if isinstance(thread_root, str) else thread_root
            root = (
                ctx.store.get(ctx.account_id, self.name, thread_root)
                if isinstance(thread_root, str)
                else None
            )
            if root is None or root["chatId"] != chat_id:
                raise invalid_props(
                    "threadRootId must be a message of the same chat", "threadRootId"
                )
            thread_root = root.get("threadRootId") or root["id"]
        if not ctx.core.chat.supports_threads:
            thread_root = None
        expires_at = data.get("senderExpiresAt")
        if expires_at is not None:
            ts = epoch_of(expires_at) if parse_utc(expires_at, strict_utc=False) else None
            if ts is None:
                raise invalid_props("senderExpiresAt must be a UTCDate", "senderExpiresAt")
            if ts <= ctx.now_ts:
                raise SetErr(
                    "invalidArguments",
                    "senderExpiresAt is in the past",
                    properties=["senderExpiresAt"],
                )
        burn = data.get("burnOnRead")
        if burn is not None and not isinstance(burn, bool):
            raise invalid_props("burnOnRead must be a boolean", "burnOnRead")
        if chat["kind"] == "channel" and space is not None:
            self._slow_mode(ctx, space, chat)

        mid = new_id()
        recipients = [u for u in dict.fromkeys(participants) if u != ctx.user]
        base = {
            "senderMsgId": mid,
            "chatId": chat_id,
            "body": msg["body"],
            "bodyType": msg["bodyType"],
            "attachments": attachments,
            "mentions": msg["mentions"],
            "broadcastMentions": msg["broadcastMentions"],
            "actions": actions,
            "reactions": {},
            "sentAt": sent_at,
            "receivedAt": ctx.now,
            "senderExpiresAt": expires_at,
            "burnOnRead": burn,
            "deliveredAt": None,
            "readAt": None,
            "readDisposition": None,
            "editedAt": None,
            "editHistory": [],
            "deletedAt": None,
            "deletedForAll": None,
        }
        delivered_to: list[str] = []
        for user, acc in delivery_accounts(ctx, chat, recipients):
            self._deliver(
                ctx,
                acc,
                chat,
                base,
                parent_sender_id=parent["senderMsgId"] if parent else None,
                thread_root=thread_root,
            )
            delivered_to.append(user)
        own = {
            "id": mid,
            **base,
            "senderId": "self",
            "replyTo": reply_to,
            "threadRootId": thread_root,
            "deliveryState": "delivered" if delivered_to or not recipients else "pending",
            "deliveredAt": ctx.now if delivered_to else None,
        }
        if chat["kind"] == "group":
            own["deliveryReceipts"] = {
                u: {"deliveredAt": ctx.now if u in delivered_to else None, "readAt": None}
                for u in recipients
            }
        self._store_copy(ctx, ctx.account_id, own, chat)
        if parent is not None or thread_root is not None:
            self._mark_replied(ctx, ctx.account_id, parent["id"] if parent else None, thread_root)
        if ctx.core.pusher.enabled:
            queue_push(ctx, [ctx.core.account_of(u) or "" for u in delivered_to], mid)
        return own

    def _slow_mode(self, ctx: Ctx, space: dict[str, Any], chat: dict[str, Any]) -> None:
        secs = space["_channels"].get(chat["id"], {}).get("slowModeSeconds") or 0
        if secs <= 0 or channel_allows(ctx, space["id"], chat["id"], ctx.user, "manage_channels"):
            return
        key = (ctx.user, chat["id"])
        last = ctx.core.slow_mode_seen.get(key)
        if last is not None and ctx.now_ts - last < secs:
            # serverRetryAfter: the UTCDate from which the send is accepted (rounded up
            # to the millisecond, so a send at exactly that time passes)
            retry = datetime.fromtimestamp(math.ceil((last + secs) * 1000) / 1000, UTC)
            raise SetErr(
                "rateLimited",
                f"slow mode: wait {secs} seconds between messages",
                serverRetryAfter=format_utc(retry),
            )
        ctx.core.slow_mode_seen[key] = ctx.now_ts

    def _store_copy(self, ctx: Ctx, acc: str, msg: dict[str, Any], chat: dict[str, Any]) -> None:
        exps = [epoch_of(msg.get("senderExpiresAt"))]
        if chat.get("messageExpirySeconds"):
            exps.append(ctx.now_ts + chat["messageExpirySeconds"])
        live = [e for e in exps if e is not None]
        if live:
            msg["_expires"] = min(live)
        ctx.write(self, msg, CREATED, account=acc)
        ctx.dirty_chats.add((acc, msg["chatId"]))

    def _deliver(
        self,
        ctx: Ctx,
        acc: str,
        chat: dict[str, Any],
        base: dict[str, Any],
        *,
        parent_sender_id: str | None,
        thread_root: str | None,
    ) -> None:
        chat_id = chat["id"]
        key = ("recipient chat", acc, chat_id)
        their_chat: dict[str, Any] | None = ctx.cache.get(key)
        if their_chat is None:
            if chat["kind"] == "direct":
                their_chat = ensure_direct_copy(ctx, acc, chat_id, ctx.user)
            else:
                their_chat = ctx.store.get(acc, "Chat", chat_id)
            if their_chat is None:
                return
            ensure_contact(ctx, acc, ctx.user)
            # the rest of this call neither changes that copy nor removes the contact
            ctx.cache[key] = their_chat
        reply_to = root = None
        if parent_sender_id is not None:
            reply_to = self._local_id(ctx, acc, parent_sender_id)
        if thread_root is not None:
            own_root = ctx.store.get(ctx.account_id, self.name, thread_root)
            root = self._local_id(ctx, acc, own_root["senderMsgId"]) if own_root else None
        copy = {
            "id": new_id(),
            **base,
            "senderId": ctx.user,
            "replyTo": reply_to,
            "threadRootId": root,
            "deliveryState": "received",
        }
        self._store_copy(ctx, acc, copy, their_chat)
        if reply_to is not None or root is not None:
            self._mark_replied(ctx, acc, reply_to, root)

    def _local_id(self, ctx: Ctx, acc: str, sender_msg_id: str) -> str | None:
        for scope, o in copies_of(ctx, sender_msg_id):
            if scope == acc:
                return str(o["id"])
        return None

    def _mark_replied(self, ctx: Ctx, acc: str, parent_id: str | None, root_id: str | None) -> None:
        """A new reply changes its parent's ``replyCount`` and its thread root's
        ``unreadReplyCount``: flag them (so `present` counts) and log them as updated."""
        flags: dict[str, list[str]] = {}
        for mid, flag in ((parent_id, "_replies"), (root_id, "_thread")):
            if mid is not None:
                flags.setdefault(mid, []).append(flag)
        for mid, names in flags.items():
            msg = ctx.store.get(acc, self.name, mid)
            if msg is not None:
                msg.update(dict.fromkeys(names, True))
                ctx.write(self, msg, UPDATED, account=acc)

    # --- update -------------------------------------------------------------------------

    def update(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        edit_patch: dict[str, Any] = {
            k: patch[k] for k in ("body", "bodyType", "mentions", "broadcastMentions") if k in patch
        }
        reactions = {
            k: v for k, v in patch.items() if k == "reactions" or k.startswith("reactions/")
        }
        delete_patch: dict[str, Any] = {
            k: patch[k] for k in ("deletedAt", "deletedForAll") if k in patch
        }
        read_patch: dict[str, Any] = {
            k: patch[k] for k in ("readAt", "readDisposition") if k in patch
        }
        rest = set(patch) - set(edit_patch) - set(reactions) - set(delete_patch) - set(read_patch)
        if rest:
            bad = sorted(rest)
            raise invalid_props(f"cannot update {', '.join(bad)}", *bad)
        result: dict[str, Any] = {}
        if edit_patch:
            result.update(edit(ctx, obj, edit_patch))
        if reactions:
            react(ctx, obj, reactions)
        if delete_patch:
            delete(ctx, obj, delete_patch)
        if read_patch:
            return read(ctx, obj, read_patch)
        return result or None

    # --- destroy / expiry ---------------------------------------------------------------

    def destroy(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        # The draft's delete is an update of deletedAt; a destroy tombstones locally too.
        if not obj.get("deletedAt"):
            tombstone(ctx, ctx.account_id, obj, ctx.now, None)

    def expire(self, ctx: Ctx, scope: str, oid: str) -> None:
        obj = ctx.store.get(scope, self.name, oid)
        if obj is not None:
            ctx.remove(self, oid, account=scope)
            ctx.dirty_chats.add((scope, obj["chatId"]))
            refresh_chats(ctx)

    def finish_set(self, ctx: Ctx) -> None:
        refresh_chats(ctx)


def register(core: Core) -> None:
    core.register(MessageType())
