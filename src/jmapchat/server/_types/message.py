"""Message: relay delivery into every participant's account, edits, reactions, deletes.

The sender's copy has ``senderId: "self"`` and ``senderMsgId == id``; every other local
participant gets a copy with its own receiver-assigned id, ``senderId`` = the sender's
contact id and the same ``senderMsgId`` (indexed, so edits, reactions and retractions
find all copies).
"""

from __future__ import annotations

import hmac
import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, get_args

import orjson

from jmapchat.models import MessageProperty

from ..._core._pointer import PointerError
from ..._core._pointer import parse as parse_pointer
from .._generic import DataType
from .._store import GLOBAL
from .._util import MethodErr, SetErr, epoch_of, format_utc, is_uint, new_id, parse_utc
from ._common import (
    CREATED,
    UPDATED,
    accounts_of,
    effective_receipt_sharing,
    ensure_contact,
    invalid_props,
    is_blocked,
    only_keys,
    readable_blob,
)
from .chat import chat_participants, ensure_direct_copy, load_group, refresh_chats

if TYPE_CHECKING:
    from .._engine import Core, Ctx

__all__ = ["MessageType", "apply_expiry_policy", "backfill_channel", "register"]

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
SCOPES = ("everyone", "here", "admins")
SPAN_TYPES = frozenset(
    {
        "text",
        "bold",
        "italic",
        "bold-italic",
        "code",
        "codeblock",
        "blockquote",
        "mention",
        "broadcast",
        "link",
    }
)
RICH = "application/jmap-chat-rich"
PLAINTEXT_TYPES = ("text/plain", "text/markdown", RICH)
_MIME_RE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}(\s*;.*)?$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def _nbytes(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def _known_contact(ctx: Ctx, user_id: str) -> bool:
    """The draft validates a Mention's (and a mention span's) ChatContact existence: the
    caller themself, or a ChatContact of the caller's account."""
    return user_id == ctx.user or ctx.store.get(ctx.account_id, "ChatContact", user_id) is not None


def _check_rich(ctx: Ctx, body: str) -> list[str]:
    """Validate a rich body; return its broadcast scopes."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SetErr("invalidArguments", "a rich body must be JSON", properties=["body"]) from None
    spans = doc.get("spans") if isinstance(doc, dict) else None
    if not isinstance(spans, list):
        raise SetErr("invalidArguments", "a rich body needs a spans array", properties=["body"])
    scopes = []
    for span in spans:
        if not isinstance(span, dict) or span.get("type") not in SPAN_TYPES:
            raise SetErr("invalidArguments", "unknown span type", properties=["body"])
        if not isinstance(span.get("text"), str):
            raise SetErr("invalidArguments", "every span needs text", properties=["body"])
        t = span["type"]
        if t == "mention" and not isinstance(span.get("userId"), str):
            raise SetErr("invalidArguments", "a mention span needs userId", properties=["body"])
        if t == "mention" and not _known_contact(ctx, span["userId"]):
            raise invalid_props(f"no ChatContact {span['userId']!r}", "body")
        if t == "broadcast":
            if span.get("scope") not in SCOPES:
                raise SetErr("invalidArguments", "unknown broadcast scope", properties=["body"])
            scopes.append(span["scope"])
        if t == "link" and not isinstance(span.get("uri"), str):
            raise SetErr("invalidArguments", "a link span needs uri", properties=["body"])
    return scopes


def _check_content(ctx: Ctx, chat: dict[str, Any], msg: dict[str, Any]) -> None:
    """Validate body, bodyType, mentions and broadcastMentions (create and edit)."""
    body, body_type = msg["body"], msg["bodyType"]
    if not isinstance(body, str):
        raise invalid_props("body must be a string", "body")
    if not isinstance(body_type, str) or body_type not in ctx.core.chat.supported_body_types:
        raise invalid_props("bodyType is not in supportedBodyTypes", "bodyType")
    size = _nbytes(body)
    if size > ctx.core.chat.max_body_bytes:
        # draft: invalidArguments (compliance 4.1 expects tooLarge)
        raise SetErr("invalidArguments", "body is longer than maxBodyBytes", properties=["body"])
    mentions, bmentions = msg["mentions"], msg["broadcastMentions"]
    if not isinstance(mentions, list) or not isinstance(bmentions, list):
        raise invalid_props("mentions and broadcastMentions must be arrays", "mentions")
    for m in mentions:
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("id"), str)
            or not is_uint(m.get("offset"))
            or not is_uint(m.get("length"))
        ):
            raise invalid_props("a Mention needs id, offset and length", "mentions")
        if m["offset"] + m["length"] > size:
            raise invalid_props("a mention lies outside the body", "mentions")
        if not _known_contact(ctx, m["id"]):
            raise invalid_props(f"no ChatContact {m['id']!r}", "mentions")
    scopes = []
    for m in bmentions:
        if not isinstance(m, dict):
            raise invalid_props("a BroadcastMention must be an object", "broadcastMentions")
        if m.get("scope") not in SCOPES:
            raise SetErr(
                "invalidArguments", "unknown broadcast scope", properties=["broadcastMentions"]
            )
        if not is_uint(m.get("offset", 0)) or not is_uint(m.get("length", 0)):
            raise invalid_props("offset and length must be UnsignedInts", "broadcastMentions")
        if m.get("offset", 0) + m.get("length", 0) > size:
            raise invalid_props("a broadcast mention lies outside the body", "broadcastMentions")
        scopes.append(m["scope"])
    if body_type == RICH:
        if mentions or bmentions:
            raise invalid_props(
                "rich bodies carry mentions inline", "mentions" if mentions else "broadcastMentions"
            )
        scopes += _check_rich(ctx, body)
    if scopes:
        _check_broadcast(ctx, chat)


def _check_broadcast(ctx: Ctx, chat: dict[str, Any]) -> None:
    if chat["kind"] == "channel":
        from .space import channel_allows

        if not channel_allows(ctx, chat["spaceId"], chat["id"], ctx.user, "mention_broadcast"):
            raise SetErr("forbidden", "broadcast mentions need the mention_broadcast permission")
    elif chat["kind"] == "group":
        gdef = load_group(ctx, chat["id"])
        if gdef is None or not any(
            m["id"] == ctx.user and m.get("role") == "admin" for m in gdef["members"]
        ):
            raise SetErr("forbidden", "broadcast mentions in groups are for admins")


def _check_attachments(ctx: Ctx, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise invalid_props("attachments must be an array", "attachments")
    if len(value) > ctx.core.chat.max_attachments_per_message:
        raise invalid_props("too many attachments", "attachments")
    out = []
    for a in value:
        if not isinstance(a, dict):
            raise invalid_props("an Attachment must be an object", "attachments")
        blob_id, name, ctype = a.get("blobId"), a.get("filename"), a.get("contentType")
        if not isinstance(blob_id, str) or not isinstance(name, str) or not isinstance(ctype, str):
            raise invalid_props(
                "an Attachment needs blobId, filename and contentType", "attachments"
            )
        if not name or any(c in name for c in "/\\\x00"):
            raise invalid_props("filename must not contain /, \\ or NUL", "attachments")
        if not _MIME_RE.match(ctype):
            raise invalid_props("contentType is not a MIME type", "attachments")
        blob_id = ctx.ref(blob_id)
        _, size, sha = readable_blob(ctx, blob_id, "attachments")
        if size > ctx.core.chat.max_attachment_bytes:
            raise SetErr(
                "tooLarge", "attachment larger than maxAttachmentBytes", properties=["attachments"]
            )
        if "size" in a and a["size"] != size:
            raise invalid_props("size does not match the blob", "attachments")
        given = a.get("sha256")
        if given is not None and (
            not isinstance(given, str)
            or not _SHA_RE.match(given)
            or not hmac.compare_digest(given, sha)
        ):
            raise invalid_props("sha256 does not match the blob", "attachments")
        out.append({**a, "blobId": blob_id, "size": size, "sha256": sha})
    return out


def _check_may_send(ctx: Ctx, chat: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
    """The sender-side checks of a new message (and of an edit): membership, channel
    ``send`` permission and space bans. Returns the chat's participants and its space."""
    participants = chat_participants(ctx, chat)
    if ctx.user not in participants:
        raise SetErr("forbidden", "you are not a member of this chat")
    space = None
    if chat["kind"] == "channel":
        from .space import banned, channel_allows, load_space

        space = load_space(ctx, chat["spaceId"])
        if not channel_allows(ctx, chat["spaceId"], chat["id"], ctx.user, "send") or banned(
            ctx, chat["spaceId"], ctx.user
        ):
            raise SetErr("forbidden", "you may not send in this channel")
    return participants, space


def _delivery_account(ctx: Ctx, chat: dict[str, Any], user: str) -> str | None:
    """The account a message (or an edit) from the caller is delivered to for ``user``, or
    None when it must be dropped: unknown user, sender blocked by the recipient, or no
    ``view`` permission in the channel."""
    acc = ctx.core.account_of(user)
    if acc is None or is_blocked(ctx, acc, ctx.user):
        return None
    if chat["kind"] == "channel":
        from .space import channel_allows

        if not channel_allows(ctx, chat["spaceId"], chat["id"], user, "view"):
            return None
    return acc


def _delivery_targets(ctx: Ctx, chat: dict[str, Any], participants: list[str]) -> set[str]:
    """The copies' accounts an edit or a new reaction from the caller reaches: the caller's
    own and every other participant's `_delivery_account` (so nothing reaches a recipient
    who has blocked the caller or lost ``view``; the caller is not told)."""
    return {ctx.account_id} | {
        acc
        for u in dict.fromkeys(participants)
        if u != ctx.user and (acc := _delivery_account(ctx, chat, u)) is not None
    }


def _delivery_accounts(
    ctx: Ctx, chat: dict[str, Any], recipients: list[str]
) -> list[tuple[str, str]]:
    """(user, account) for each recipient a new message reaches (`_delivery_account`),
    computed once per call and chat: nothing a Message/set does changes the answer, and
    the per-call cache is dropped whenever an object's changes are rolled back."""
    key = ("delivery", chat["id"], tuple(recipients))
    out: list[tuple[str, str]] | None = ctx.cache.get(key)
    if out is None:
        out = []
        for user in recipients:
            acc = _delivery_account(ctx, chat, user)
            if acc is not None:
                out.append((user, acc))
        ctx.cache[key] = out
    return out


def _queue_push(ctx: Ctx, accounts: list[str], mid: str) -> None:
    """Chat push for a new message, sent after commit. One deferred task per call sends
    them all, in creation order (`PushSender.messages_delivered`)."""
    queue = ctx.message_pushes
    if not queue:
        core = ctx.core
        ctx.after_commit.append(lambda: core.pusher.messages_delivered(core, queue))
    queue.append((accounts, mid))


def _copies(ctx: Ctx, sender_msg_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(scope, o) for scope, o in ctx.store.by_k2("Message", sender_msg_id) if scope != GLOBAL]


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

    def _chat(self, ctx: Ctx, chat_id: str) -> dict[str, Any] | None:
        key = ("chat", ctx.account_id, chat_id)
        if key not in ctx.cache:
            ctx.cache[key] = ctx.type("Chat").load_one(ctx, chat_id)
        out: dict[str, Any] | None = ctx.cache[key]
        return out

    def visible(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        return self._chat(ctx, obj["chatId"]) is not None

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
            if self._chat(ctx, chat_id) is None:
                return []
            return ctx.store.by_k1(ctx.account_id, self.name, chat_id)
        return [m for m in ctx.store.all(ctx.account_id, self.name) if self.visible(ctx, m)]

    def effective_default_sort(
        self, ctx: Ctx, flt: dict[str, Any] | None
    ) -> list[tuple[str, bool]]:
        chat_id, _ = self._chat_filter(flt)
        return [("receivedAt", chat_id is not None)]

    def sort_key(self, obj: dict[str, Any]) -> float | None:
        # the first part of sort_value("receivedAt"): pages come from the k3 index
        return epoch_of(obj.get("receivedAt")) or 0.0

    def query_page(
        self,
        ctx: Ctx,
        flt: dict[str, Any] | None,
        spec: list[tuple[str, bool, str]],
        position: int,
        limit: int | None,
    ) -> tuple[list[str], int, int] | None:
        """A chat's messages by receivedAt (the default order) straight from the index:
        a page costs about the same at 100 and at 100,000 messages."""
        if flt is None or set(flt) != {"chatId"} or len(spec) != 1 or spec[0][0] != "receivedAt":
            return None
        chat_id = ctx.ref(flt["chatId"])
        if self._chat(ctx, chat_id) is None:
            return [], max(0, position), 0
        total = ctx.store.count_sorted(ctx.account_id, self.name, chat_id)
        start = max(0, total + position) if position < 0 else position
        asc = spec[0][1]
        end = total if limit is None else min(total, start + limit)
        if start >= end:
            return [], start, total
        if start > total - end:
            # nearer the end (the newest page): walk the index from that side, so the
            # OFFSET SQLite must skip stays small
            ids = ctx.store.page_sorted(
                ctx.account_id, self.name, chat_id, not asc, total - end, end - start
            )
            return ids[::-1], start, total
        ids = ctx.store.page_sorted(ctx.account_id, self.name, chat_id, asc, start, end - start)
        return ids, start, total

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
                if _mentions(obj, ctx.user) != value:
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
        chat = self._chat(ctx, chat_id)  # read once per call (the call does not change it)
        if chat is None:
            raise invalid_props("no such chat", "chatId")
        participants, space = _check_may_send(ctx, chat)
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
        _check_content(ctx, chat, msg)
        attachments = _check_attachments(ctx, data.get("attachments", []))
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
        for user, acc in _delivery_accounts(ctx, chat, recipients):
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
            _queue_push(ctx, [ctx.core.account_of(u) or "" for u in delivered_to], mid)
        return own

    def _slow_mode(self, ctx: Ctx, space: dict[str, Any], chat: dict[str, Any]) -> None:
        from .space import channel_allows

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
        for scope, o in _copies(ctx, sender_msg_id):
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
        edit: dict[str, Any] = {
            k: patch[k] for k in ("body", "bodyType", "mentions", "broadcastMentions") if k in patch
        }
        reactions = {
            k: v for k, v in patch.items() if k == "reactions" or k.startswith("reactions/")
        }
        delete: dict[str, Any] = {k: patch[k] for k in ("deletedAt", "deletedForAll") if k in patch}
        read: dict[str, Any] = {k: patch[k] for k in ("readAt", "readDisposition") if k in patch}
        rest = set(patch) - set(edit) - set(reactions) - set(delete) - set(read)
        if rest:
            bad = sorted(rest)
            raise invalid_props(f"cannot update {', '.join(bad)}", *bad)
        result: dict[str, Any] = {}
        if edit:
            result.update(self._edit(ctx, obj, edit))
        if reactions:
            self._react(ctx, obj, reactions)
        if delete:
            self._delete(ctx, obj, delete)
        if read:
            return self._read(ctx, obj, read)
        return result or None

    def _edit(self, ctx: Ctx, obj: dict[str, Any], edit: dict[str, Any]) -> dict[str, Any]:
        if obj["senderId"] != "self":
            raise SetErr("forbidden", "only your own messages can be edited")
        if obj.get("deletedAt"):
            raise SetErr("forbidden", "deleted messages cannot be edited")
        chat = self._chat(ctx, obj["chatId"])
        assert chat is not None
        # An edit is delivered like a new message (the draft's Peer/deliver `edit`): the
        # same sender checks, and only to the recipients a new message would reach now.
        participants, _space = _check_may_send(ctx, chat)
        new = {
            k: edit.get(k, obj.get(k, []))
            for k in ("body", "bodyType", "mentions", "broadcastMentions")
        }
        _check_content(ctx, chat, new)
        targets = _delivery_targets(ctx, chat, participants)
        for acc, copy in _copies(ctx, obj["senderMsgId"]):
            if copy.get("deletedAt") or acc not in targets:
                continue
            copy["editHistory"] = [
                *(copy.get("editHistory") or []),
                {"body": copy["body"], "bodyType": copy["bodyType"], "editedAt": ctx.now},
            ]
            copy.update(new)
            copy["editedAt"] = ctx.now
            ctx.write(self, copy, UPDATED, account=acc)
        return {"editedAt": ctx.now}

    def _react(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> None:
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
        chat = self._chat(ctx, obj["chatId"])
        assert chat is not None
        targets = _delivery_targets(ctx, chat, chat_participants(ctx, chat))
        for acc, copy in _copies(ctx, obj["senderMsgId"]):
            reactions = dict(copy.get("reactions") or {})
            for rid, change in changes.items():
                if change is None:
                    cur = reactions.get(rid)
                    if cur is not None and (
                        acc == ctx.account_id or cur.get("senderId") == ctx.user
                    ):
                        del reactions[rid]
                elif acc in targets and not copy.get("deletedAt"):
                    reactions[rid] = {
                        **change,
                        "senderId": "self" if acc == ctx.account_id else ctx.user,
                    }
            if reactions != copy.get("reactions"):
                copy["reactions"] = reactions
                ctx.write(self, copy, UPDATED, account=acc)

    def _tombstone(
        self, ctx: Ctx, acc: str, copy: dict[str, Any], at: str, for_all: bool | None
    ) -> None:
        copy.update(body="", attachments=[], deletedAt=at)
        copy["mentions"] = []
        copy["broadcastMentions"] = []
        if for_all:
            copy["deletedForAll"] = True
        ctx.write(self, copy, UPDATED, account=acc)

    def _delete(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> None:
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
            for acc, copy in _copies(ctx, obj["senderMsgId"]):
                self._tombstone(ctx, acc, copy, at, True)
        else:
            self._tombstone(ctx, ctx.account_id, obj, at, None)

    def _read(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        at = patch.get("readAt", obj.get("readAt"))
        disp = patch.get("readDisposition")
        if at is not None and parse_utc(at, strict_utc=False) is None:
            raise invalid_props("readAt must be a UTCDate", "readAt")
        if disp is not None and not isinstance(disp, str):
            raise invalid_props("readDisposition must be a string", "readDisposition")
        obj["readAt"] = at
        obj["readDisposition"] = (disp or "displayed") if at is not None else None
        if at is not None and obj["senderId"] != "self" and obj.get("burnOnRead"):
            ctx.remove(self, obj["id"])
            ctx.dirty_chats.add((ctx.account_id, obj["chatId"]))
            return None
        ctx.write(self, obj, UPDATED)
        chat = self._chat(ctx, obj["chatId"])
        if (
            at is not None
            and chat is not None
            and chat["kind"] == "group"
            and obj["senderId"] != "self"
            and effective_receipt_sharing(ctx, ctx.account_id, chat)
        ):
            sender_acc = ctx.core.account_of(obj["senderId"])
            if sender_acc is not None:
                for acc, copy in _copies(ctx, obj["senderMsgId"]):
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
                    ctx.write(self, copy, UPDATED, account=acc)
        return None

    # --- destroy / expiry ---------------------------------------------------------------

    def destroy(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        # The draft's delete is an update of deletedAt; a destroy tombstones locally too.
        if not obj.get("deletedAt"):
            self._tombstone(ctx, ctx.account_id, obj, ctx.now, None)

    def expire(self, ctx: Ctx, scope: str, oid: str) -> None:
        obj = ctx.store.get(scope, self.name, oid)
        if obj is not None:
            ctx.remove(self, oid, account=scope)
            ctx.dirty_chats.add((scope, obj["chatId"]))
            refresh_chats(ctx)

    def finish_set(self, ctx: Ctx) -> None:
        refresh_chats(ctx)


def apply_expiry_policy(ctx: Ctx, acc: str, chat_id: str, seconds: int | None) -> None:
    """Re-stamp every message of ``acc``'s copy of a chat with the chat's (new)
    ``messageExpirySeconds``: the policy covers the messages already stored, counted from
    each one's ``receivedAt``; ``senderExpiresAt`` still applies when it comes first. The
    expiry sweep at the start of the next request removes those already past."""
    dt = ctx.type("Message")
    for msg in ctx.store.by_k1(acc, "Message", chat_id):
        exps = [epoch_of(msg.get("senderExpiresAt"))]
        if seconds:
            exps.append((epoch_of(msg.get("receivedAt")) or ctx.now_ts) + seconds)
        live = [e for e in exps if e is not None]
        new = min(live) if live else None
        if msg.get("_expires") != new:
            if new is None:
                msg.pop("_expires", None)
            else:
                msg["_expires"] = new
            k1, k2, exp = dt.keys(msg)
            # hidden field only: no change is visible to clients until the message goes
            ctx.store.put(acc, "Message", msg, k1=k1, k2=k2, expires=exp)


_HISTORY_DROP = frozenset(
    {
        "id",
        "senderId",
        "replyTo",
        "threadRootId",
        "reactions",
        "deliveryState",
        "deliveredAt",
        "readAt",
        "readDisposition",
        "deliveryReceipts",
    }
)


def backfill_channel(ctx: Ctx, acc: str, user: str, chat: dict[str, Any]) -> None:
    """A member who may now view a channel (joined the Space later, or was given ``view``)
    gets the channel's history it lacks, as it stands now.

    Channel membership and visibility come from the Space (``view``), not from the time of
    joining, so every message still held by some member and not yet in ``acc`` is copied
    in arrival order: edits, reactions, replies and threads kept; messages deleted (for
    everyone or by every holder), expired ones and those from contacts ``acc`` blocks are
    left out. No pushes. For a copy that held nothing yet, the history arrives read
    (ReadPosition at its last message); otherwise the read position is left alone.
    """
    chat_id = chat["id"]
    held_rows = ctx.store.execute(
        "SELECT k2, id FROM objects WHERE scope=? AND type='Message' AND k1=?", (acc, chat_id)
    ).fetchall()
    local: dict[str, str] = {str(k2): str(i) for k2, i in held_rows}  # senderMsgId -> own id
    fresh = not local
    scopes = [a for a in accounts_of(ctx, chat_participants(ctx, chat)) if a != acc]
    if not scopes:
        return
    marks = ",".join("?" * len(scopes))
    rows = ctx.store.execute(
        f"SELECT scope, data FROM objects WHERE scope IN ({marks}) AND type='Message' "
        "AND k1=? ORDER BY id",
        (*scopes, chat_id),
    ).fetchall()
    best: dict[str, tuple[str, dict[str, Any]]] = {}
    for scope, data in rows:
        msg = orjson.loads(data)
        if msg.get("deletedAt"):
            continue
        smid = msg["senderMsgId"]
        if smid in local:
            continue
        if smid not in best or msg.get("senderId") == "self":
            best[smid] = (str(scope), msg)
    if not best:
        return
    order = sorted(best.items(), key=lambda kv: (epoch_of(kv[1][1]["receivedAt"]) or 0.0, kv[0]))
    dt: MessageType = ctx.type("Message")  # type: ignore[assignment]
    their_chat = ctx.store.get(acc, "Chat", chat_id)
    if their_chat is None:
        return
    last_id = None
    for smid, (scope, src) in order:
        sender = ctx.core.user_of(scope) if src["senderId"] == "self" else src["senderId"]
        if sender != user and is_blocked(ctx, acc, sender):
            continue
        exp = epoch_of(src.get("senderExpiresAt"))
        if exp is not None and exp <= ctx.now_ts:
            continue
        if sender != user:
            ensure_contact(ctx, acc, sender)

        def mapped(ref: str | None, scope: str = scope) -> str | None:
            if ref is None:
                return None
            orig = ctx.store.get(scope, "Message", ref)
            return local.get(orig["senderMsgId"]) if orig else None

        reactions = {}
        for rid, r in (src.get("reactions") or {}).items():
            reactor = ctx.core.user_of(scope) if r.get("senderId") == "self" else r.get("senderId")
            if reactor != user and is_blocked(ctx, acc, str(reactor)):
                continue
            reactions[rid] = {**r, "senderId": "self" if reactor == user else reactor}
        copy = {k: v for k, v in src.items() if k[:1] != "_" and k not in _HISTORY_DROP}
        copy.update(
            id=new_id(),
            senderId="self" if sender == user else sender,
            replyTo=mapped(src.get("replyTo")),
            threadRootId=mapped(src.get("threadRootId")),
            reactions=reactions,
            deliveryState="delivered" if sender == user else "received",
            deliveredAt=None,
            readAt=None,
            readDisposition=None,
        )
        for a in copy.get("attachments") or []:
            ctx.store.grant_blob(acc, a["blobId"])
        dt._store_copy(ctx, acc, copy, their_chat)
        if copy["replyTo"] is not None or copy["threadRootId"] is not None:
            dt._mark_replied(ctx, acc, copy["replyTo"], copy["threadRootId"])
        local[smid] = last_id = copy["id"]
    if last_id is not None and fresh:
        for rp in ctx.store.by_k1(acc, "ReadPosition", chat_id):
            rp["lastReadMessageId"] = last_id
            ctx.write("ReadPosition", rp, UPDATED, account=acc)
    refresh_chats(ctx)


def _mentions(obj: dict[str, Any], user: str) -> bool:
    if any(m.get("id") == user for m in obj.get("mentions") or []):
        return True
    if obj.get("bodyType") == RICH:
        try:
            doc = orjson.loads(obj.get("body") or "{}")
        except orjson.JSONDecodeError:
            return False
        spans = doc.get("spans", []) if isinstance(doc, dict) else []
        return any(
            isinstance(s, dict) and s.get("type") == "mention" and s.get("userId") == user
            for s in spans
        )
    return False


def register(core: Core) -> None:
    core.register(MessageType())


__all__ += ["PLAINTEXT_TYPES"]
