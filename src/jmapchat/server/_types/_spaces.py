"""A Space's record and what follows from it: the computed layout, each member's copy of
every channel (with the history and pins a member who may view it gets), and the shape
checks Space updates share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._store import DESTROYED
from ._access import channel_allows
from ._chats import add_chat_copy, base_chat, introduce, local_pins, remove_chat_copy
from ._common import GLOBAL, UPDATED, accounts_of, invalid_props
from ._messages import backfill_channel

if TYPE_CHECKING:
    from .._context import Ctx

__all__ = [
    "CHANNEL_SHARED",
    "drop_channel",
    "entries",
    "save_space",
    "str_list",
]

CHANNEL_SHARED = (
    "name",
    "categoryId",
    "position",
    "topic",
    "slowModeSeconds",
    "permissionOverrides",
)


def _recompute_layout(space: dict[str, Any]) -> None:
    chans = space.get("_channels", {})
    cats = {c["id"]: c for c in space["categories"]}
    for chan in chans.values():
        if chan.get("categoryId") not in cats:
            chan["categoryId"] = None
    ordered = sorted(chans.items(), key=lambda kv: (kv[1].get("position") or 0, kv[0]))
    for cat in space["categories"]:
        cat["channelIds"] = [cid for cid, ch in ordered if ch.get("categoryId") == cat["id"]]
    space["uncategorizedChannelIds"] = [cid for cid, ch in ordered if ch.get("categoryId") is None]
    space["categories"].sort(key=lambda c: (c.get("position", 0), c["id"]))
    space["roles"].sort(key=lambda r: (-r["position"], r["id"]))
    space["memberCount"] = len(space["members"])


def _channel_copy(ctx: Ctx, space: dict[str, Any], chat_id: str) -> dict[str, Any]:
    chan = space["_channels"][chat_id]
    chat = base_chat(ctx, chat_id, "channel")
    chat["createdAt"] = chan.get("createdAt", ctx.now)
    chat["spaceId"] = space["id"]
    chat.update({k: chan.get(k) for k in CHANNEL_SHARED})
    return chat


def save_space(
    ctx: Ctx,
    space: dict[str, Any],
    kind: int,
    *,
    removed: list[str] | None = None,
    added: list[str] | None = None,
) -> None:
    """Write the Space, log it for members (destroyed for removed ones), sync channel copies."""
    _recompute_layout(space)
    members = [m["id"] for m in space["members"]]
    ctx.store.put(GLOBAL, "Space", space)
    ctx.cache[("space", space["id"])] = space
    for k in [k for k in ctx.cache if isinstance(k, tuple) and k[:2] == ("perm", space["id"])]:
        del ctx.cache[k]
    ctx.log_only("Space", space["id"], kind, accounts_of(ctx, members))
    if removed:
        ctx.log_only(
            "Space",
            space["id"],
            DESTROYED,
            accounts_of(ctx, [r for r in removed if r not in members]),
        )
    chans = space.get("_channels", {})
    for user in members:
        acc = ctx.core.account_of(user)
        if acc is None:
            continue
        for chat_id in chans:
            want = _channel_copy(ctx, space, chat_id)
            have = ctx.store.get(acc, "Chat", chat_id)
            if have is None:
                add_chat_copy(ctx, acc, want)
            elif any(have.get(k) != want.get(k) for k in CHANNEL_SHARED):
                have.update({k: want[k] for k in CHANNEL_SHARED})
                ctx.write("Chat", have, UPDATED, account=acc)
            view = channel_allows(ctx, space["id"], chat_id, user, "view")
            if view and (have is None or not have.get("_history")):
                _give_history(ctx, chans[chat_id], acc, user, want)
            elif not view and have is not None and have.get("_history"):
                del have["_history"]  # given view again later, the gap is filled then
                k1, k2, exp = ctx.type("Chat").keys(have)
                ctx.store.put(acc, "Chat", have, k1=k1, k2=k2, expires=exp)
    for user in removed or []:
        acc = ctx.core.account_of(user)
        if acc is None or user in members:
            continue
        for chat_id in chans:
            if ctx.store.get(acc, "Chat", chat_id) is not None:
                remove_chat_copy(ctx, acc, chat_id)
    introduce(ctx, added or [], members)


def _give_history(
    ctx: Ctx, chan: dict[str, Any], acc: str, user: str, want: dict[str, Any]
) -> None:
    """Once a member may view a channel, its copy gets the history it lacks and the shared
    pins; a hidden ``_history`` mark on the copy makes this happen once per copy (again
    only after the copy was removed, e.g. by leaving the Space)."""
    backfill_channel(ctx, acc, user, want)
    copy = ctx.store.get(acc, "Chat", want["id"])
    if copy is None:
        return
    copy["_history"] = True
    shared = chan.get("_pins")
    pins = copy.get("pinnedMessageIds") if shared is None else local_pins(ctx, acc, shared)
    if pins != copy.get("pinnedMessageIds"):
        copy["pinnedMessageIds"] = pins
        ctx.write("Chat", copy, UPDATED, account=acc)
    else:
        k1, k2, exp = ctx.type("Chat").keys(copy)
        ctx.store.put(acc, "Chat", copy, k1=k1, k2=k2, expires=exp)  # the mark only


def drop_channel(ctx: Ctx, space: dict[str, Any], chat_id: str) -> None:
    for user in [m["id"] for m in space["members"]]:
        acc = ctx.core.account_of(user)
        if acc is not None and ctx.store.get(acc, "Chat", chat_id) is not None:
            remove_chat_copy(ctx, acc, chat_id)
    space["_channels"].pop(chat_id, None)


def str_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_props(f"{key} must be an array of strings", key)
    return value


def entries(value: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise invalid_props(f"{key} must be an array of objects", key)
    return value
