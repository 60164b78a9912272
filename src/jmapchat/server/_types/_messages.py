"""A message's copies across the participants' accounts: the sender's checks, whom a
message (or an edit, or a reaction) reaches, the copies of one message, the chat's expiry
policy applied to stored copies, and a channel's history given to a member who may now
view it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from .._util import SetErr, epoch_of, new_id
from ._access import banned, channel_allows, load_space
from ._chats import chat_participants, refresh_chats
from ._common import GLOBAL, UPDATED, accounts_of, ensure_contact, is_blocked

if TYPE_CHECKING:
    from .._context import Ctx
    from .message import MessageType

__all__ = [
    "apply_expiry_policy",
    "backfill_channel",
    "chat_of",
    "check_may_send",
    "copies_of",
    "delivery_accounts",
    "delivery_targets",
    "queue_push",
]


def chat_of(ctx: Ctx, chat_id: str) -> dict[str, Any] | None:
    """The caller's copy of a chat, read once per call (a call does not change it)."""
    key = ("chat", ctx.account_id, chat_id)
    if key not in ctx.cache:
        ctx.cache[key] = ctx.type("Chat").load_one(ctx, chat_id)
    out: dict[str, Any] | None = ctx.cache[key]
    return out


def check_may_send(ctx: Ctx, chat: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
    """The sender-side checks of a new message (and of an edit): membership, channel
    ``send`` permission and space bans. Returns the chat's participants and its space."""
    participants = chat_participants(ctx, chat)
    if ctx.user not in participants:
        raise SetErr("forbidden", "you are not a member of this chat")
    space = None
    if chat["kind"] == "channel":
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
    if chat["kind"] == "channel" and not channel_allows(
        ctx, chat["spaceId"], chat["id"], user, "view"
    ):
        return None
    return acc


def delivery_targets(ctx: Ctx, chat: dict[str, Any], participants: list[str]) -> set[str]:
    """The copies' accounts an edit or a new reaction from the caller reaches: the caller's
    own and every other participant's `_delivery_account` (so nothing reaches a recipient
    who has blocked the caller or lost ``view``; the caller is not told)."""
    return {ctx.account_id} | {
        acc
        for u in dict.fromkeys(participants)
        if u != ctx.user and (acc := _delivery_account(ctx, chat, u)) is not None
    }


def delivery_accounts(
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


def queue_push(ctx: Ctx, accounts: list[str], mid: str) -> None:
    """Chat push for a new message, sent after commit. One deferred task per call sends
    them all, in creation order (`PushSender.messages_delivered`)."""
    queue = ctx.message_pushes
    if not queue:
        core = ctx.core
        ctx.after_commit.append(lambda: core.pusher.messages_delivered(core, queue))
    queue.append((accounts, mid))


def copies_of(ctx: Ctx, sender_msg_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(scope, o) for scope, o in ctx.store.by_k2("Message", sender_msg_id) if scope != GLOBAL]


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
            k3, k4, k5 = dt.index_keys(msg)
            # hidden field only: no change is visible to clients until the message goes
            ctx.store.put(acc, "Message", msg, k1=k1, k2=k2, expires=exp, k3=k3, k4=k4, k5=k5)


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
