"""A Space's channels and categories: the addChannels / updateChannels / removeChannels
and category edits of Space/set, and a channel edited through its Chat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._util import SetErr, is_uint, new_id
from ._access import channel_allows, load_space
from ._common import UPDATED, invalid_props, only_keys
from ._spaces import CHANNEL_SHARED, drop_channel, entries, save_space, str_list

if TYPE_CHECKING:
    from .._context import Ctx

__all__ = ["edit_categories", "edit_channels", "update_channel_via_chat"]


def edit_channels(ctx: Ctx, space: dict[str, Any], key: str, value: Any) -> None:
    chans: dict[str, Any] = space.setdefault("_channels", {})
    cats = {c["id"] for c in space["categories"]}
    if key == "addChannels":
        for e in entries(value, key):
            only_keys(e, set(CHANNEL_SHARED), "channel property")
            chan: dict[str, Any] = {
                "name": None,
                "categoryId": None,
                "position": 0,
                "topic": None,
                "slowModeSeconds": 0,
                "permissionOverrides": [],
                "createdAt": ctx.now,
            }
            _apply_channel(ctx, chan, e, cats, key, creating=True)
            chans[new_id()] = chan
        if len(chans) > ctx.core.chat.max_space_channels:
            raise SetErr("overQuota", "too many channels")
    elif key == "removeChannels":
        for cid in [ctx.ref(i) for i in str_list(value, key)]:
            if cid not in chans:
                raise invalid_props(f"no channel {cid!r} in this space", key)
            drop_channel(ctx, space, cid)
    else:
        for e in entries(value, key):
            cid = ctx.ref(e["id"]) if isinstance(e.get("id"), str) else ""
            if cid not in chans:
                raise invalid_props(f"no channel {e.get('id')!r} in this space", key)
            only_keys(e, {"id", *CHANNEL_SHARED}, "channel property")
            _apply_channel(ctx, chans[cid], {k: v for k, v in e.items() if k != "id"}, cats, key)


def edit_categories(ctx: Ctx, space: dict[str, Any], key: str, value: Any) -> None:
    chans = space.setdefault("_channels", {})
    if key == "addCategories":
        for e in entries(value, key):
            only_keys(e, {"name", "position", "channelIds"}, "category property")
            if not isinstance(e.get("name"), str):
                raise invalid_props("a category needs a name", key)
            pos = e.get("position", len(space["categories"]))
            if not is_uint(pos):
                raise invalid_props("position must be an UnsignedInt", key)
            new_cat = {"id": new_id(), "name": e["name"], "position": pos, "channelIds": []}
            space["categories"].append(new_cat)
            _assign(ctx, chans, new_cat["id"], e.get("channelIds"), key)
        if len(space["categories"]) > ctx.core.chat.max_space_categories:
            raise SetErr("overQuota", "too many categories")
    elif key == "removeCategories":
        ids = str_list(value, key)
        space["categories"] = [c for c in space["categories"] if c["id"] not in ids]
        for ch in chans.values():
            if ch.get("categoryId") in ids:
                ch["categoryId"] = None
    else:
        for e in entries(value, key):
            only_keys(e, {"id", "name", "position", "channelIds"}, "category property")
            cat = next((c for c in space["categories"] if c["id"] == e.get("id")), None)
            if cat is None:
                raise invalid_props(f"no category {e.get('id')!r}", key)
            if "name" in e:
                if not isinstance(e["name"], str):
                    raise invalid_props("name must be a string", key)
                cat["name"] = e["name"]
            if "position" in e:
                if not is_uint(e["position"]):
                    raise invalid_props("position must be an UnsignedInt", key)
                cat["position"] = e["position"]
            if "channelIds" in e:
                for ch in chans.values():
                    if ch.get("categoryId") == cat["id"]:
                        ch["categoryId"] = None
                _assign(ctx, chans, cat["id"], e["channelIds"], key)


def _assign(ctx: Ctx, chans: dict[str, Any], cat_id: str, ids: Any, key: str) -> None:
    if ids is None:
        return
    for pos, cid in enumerate(str_list(ids, key)):
        cid = ctx.ref(cid)
        if cid not in chans:
            raise invalid_props(f"no channel {cid!r} in this space", key)
        chans[cid]["categoryId"] = cat_id
        chans[cid]["position"] = pos


def _apply_channel(
    ctx: Ctx,
    chan: dict[str, Any],
    e: dict[str, Any],
    cats: set[str],
    key: str,
    creating: bool = False,
) -> None:
    if creating and (not isinstance(e.get("name"), str) or not e["name"].strip()):
        raise invalid_props("a channel needs a name", key)
    for k, v in e.items():
        if k == "name" and (not isinstance(v, str) or not v.strip()):
            raise invalid_props("name must be a non-empty string", key)
        if k == "topic" and v is not None and not isinstance(v, str):
            raise invalid_props("topic must be a string or null", key)
        if k == "categoryId" and v is not None:
            v = ctx.ref(v) if isinstance(v, str) else v
            if v not in cats:
                raise invalid_props(f"no category {v!r}", key)
        if k in ("position", "slowModeSeconds") and not is_uint(v):
            raise invalid_props(f"{k} must be an UnsignedInt", key)
        if k == "permissionOverrides":
            if not isinstance(v, list):
                raise invalid_props("permissionOverrides must be an array", key)
            for o in v:
                if (
                    not isinstance(o, dict)
                    or not isinstance(o.get("targetId"), str)
                    or o.get("targetType") not in ("role", "member")
                    or not isinstance(o.get("allow", []), list)
                    or not isinstance(o.get("deny", []), list)
                ):
                    raise invalid_props("invalid ChannelPermission", key)
            v = [
                {
                    "targetId": o["targetId"],
                    "targetType": o["targetType"],
                    "allow": list(o.get("allow", [])),
                    "deny": list(o.get("deny", [])),
                }
                for o in v
            ]
        chan[k] = v


def update_channel_via_chat(ctx: Ctx, chat: dict[str, Any], patch: dict[str, Any]) -> None:
    space = load_space(ctx, chat["spaceId"])
    if space is None or not channel_allows(
        ctx, space["id"], chat["id"], ctx.user, "manage_channels"
    ):
        raise SetErr("forbidden", "this needs the manage_channels permission")
    cats = {c["id"] for c in space["categories"]}
    _apply_channel(ctx, space["_channels"][chat["id"]], patch, cats, next(iter(patch)))
    save_space(ctx, space, UPDATED)
