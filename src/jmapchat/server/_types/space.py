"""Space (with roles, members, categories, channels), SpaceInvite, SpaceBan, Space/join.

Spaces are shared objects (one global record); their changes are logged into every
member's account. Channel definitions live inside the Space (``_channels``) and are
synced into a channel Chat copy in every member's account.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any, ClassVar, get_args

from jmapchat.models import SpaceBanProperty, SpaceInviteProperty, SpaceProperty

from .._generic import DataType
from .._util import MethodErr, SetErr, check_args, epoch_of, is_uint, new_id
from ._common import (
    CREATED,
    GLOBAL,
    UPDATED,
    accounts_of,
    ensure_contact,
    invalid_props,
    only_keys,
    opt_utc,
    readable_blob,
)
from .chat import add_chat_copy, base_chat, local_pins, remove_chat_copy

if TYPE_CHECKING:
    from .._engine import Core, Ctx

__all__ = ["PERMISSIONS", "channel_allows", "load_space", "register", "space_perms"]

PERMISSIONS = (
    "view",
    "send",
    "pin",
    "manage_channels",
    "manage_members",
    "manage_roles",
    "manage_space",
    "ban",
    "mention_broadcast",
)
EVERYONE_DEFAULT = ["view", "send"]
# SpaceRole.color: "Hex color string (e.g., "#5865f2")" -- #RGB or #RRGGBB
_COLOR_RE = re.compile(r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$")
RESTRICTED = (
    "id",
    "name",
    "description",
    "iconBlobId",
    "memberCount",
    "createdAt",
    "isPublic",
    "isPubliclyPreviewable",
)
CHANNEL_SHARED = (
    "name",
    "categoryId",
    "position",
    "topic",
    "slowModeSeconds",
    "permissionOverrides",
)


def load_space(ctx: Ctx, sid: str) -> dict[str, Any] | None:
    key = ("space", sid)
    if key not in ctx.cache:
        ctx.cache[key] = ctx.store.get(GLOBAL, "Space", sid)
    out = ctx.cache[key]
    return out if isinstance(out, dict) else None


def member_of(space: dict[str, Any], user: str) -> dict[str, Any] | None:
    for m in space["members"]:
        if m["id"] == user:
            found: dict[str, Any] = m
            return found
    return None


def _known(perms: Any) -> list[str]:
    return [p for p in perms if p in PERMISSIONS] if isinstance(perms, list) else []


def space_perms(space: dict[str, Any], user: str) -> set[str]:
    m = member_of(space, user)
    if m is None:
        return set()
    out = set(space.get("_everyone", EVERYONE_DEFAULT))
    roles = {r["id"]: r for r in space["roles"]}
    for rid in m.get("roleIds", []):
        if rid in roles:
            out |= set(roles[rid]["permissions"])
    return out


def channel_perms(space: dict[str, Any], chat_id: str, user: str) -> set[str]:
    perms = space_perms(space, user)
    m = member_of(space, user)
    chan = space.get("_channels", {}).get(chat_id)
    if m is None or chan is None:
        return perms
    overrides = chan.get("permissionOverrides") or []
    roles = {r["id"]: r for r in space["roles"]}
    mine = [
        o
        for o in overrides
        if o.get("targetType") == "role" and o.get("targetId") in m.get("roleIds", [])
    ]
    mine.sort(key=lambda o: roles[o["targetId"]]["position"] if o["targetId"] in roles else 0)
    for o in mine:
        perms -= set(o.get("deny", []))
    for o in mine:
        perms |= set(_known(o.get("allow", [])))
    for o in overrides:
        if o.get("targetType") == "member" and o.get("targetId") == user:
            perms -= set(o.get("deny", []))
    for o in overrides:
        if o.get("targetType") == "member" and o.get("targetId") == user:
            perms |= set(_known(o.get("allow", [])))
    return perms


def channel_allows(ctx: Ctx, space_id: str, chat_id: str, user: str, perm: str) -> bool:
    key = ("perm", space_id, chat_id, user)
    if key not in ctx.cache:
        space = load_space(ctx, space_id)
        ctx.cache[key] = channel_perms(space, chat_id, user) if space else set()
    return perm in ctx.cache[key]


def highest_position(space: dict[str, Any], user: str) -> int:
    m = member_of(space, user)
    if m is None:
        return -1
    pos = [r["position"] for r in space["roles"] if r["id"] in m.get("roleIds", [])]
    return max(pos, default=0)


def banned(ctx: Ctx, space_id: str, user: str) -> bool:
    return any(b.get("userId") == user for b in ctx.store.by_k1(GLOBAL, "SpaceBan", space_id))


# --- persistence -----------------------------------------------------------------------


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
        from .._store import DESTROYED

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
    for user in added or []:
        acc = ctx.core.account_of(user)
        for other in members:
            if other == user:
                continue
            if acc is not None:
                ensure_contact(ctx, acc, other)
            oacc = ctx.core.account_of(other)
            if oacc is not None:
                ensure_contact(ctx, oacc, user)


def _give_history(
    ctx: Ctx, chan: dict[str, Any], acc: str, user: str, want: dict[str, Any]
) -> None:
    """Once a member may view a channel, its copy gets the history it lacks and the shared
    pins; a hidden ``_history`` mark on the copy makes this happen once per copy (again
    only after the copy was removed, e.g. by leaving the Space)."""
    from .message import backfill_channel

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


def _drop_channel(ctx: Ctx, space: dict[str, Any], chat_id: str) -> None:
    for user in [m["id"] for m in space["members"]]:
        acc = ctx.core.account_of(user)
        if acc is not None and ctx.store.get(acc, "Chat", chat_id) is not None:
            remove_chat_copy(ctx, acc, chat_id)
    space["_channels"].pop(chat_id, None)


# --- Space -----------------------------------------------------------------------------


def _check_color(value: Any, key: str) -> None:
    if value is not None and (not isinstance(value, str) or not _COLOR_RE.match(value)):
        raise invalid_props("color must be a hex color such as #5865f2", key)


def _check_unique_positions(space: dict[str, Any], changed: set[str], key: str) -> None:
    """The draft's SHOULD: no two roles of a Space share a position. Only the roles this
    update added or moved are checked, so an older clash never blocks unrelated edits."""
    for r in space["roles"]:
        if r["id"] in changed and any(
            o["position"] == r["position"] and o["id"] != r["id"] for o in space["roles"]
        ):
            raise invalid_props(f"another role already has position {r['position']}", key)


def _str_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_props(f"{key} must be an array of strings", key)
    return value


def _entries(value: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise invalid_props(f"{key} must be an array of objects", key)
    return value


class SpaceType(DataType):
    name = "Space"
    scope_global = True
    properties = get_args(SpaceProperty)
    filter_spec: ClassVar[dict[str, str]] = {"name": "str", "isPublic": "bool"}
    sort_props = frozenset({"name", "createdAt", "memberCount", "id"})
    default_sort: ClassVar[list[tuple[str, bool]]] = [("name", True)]

    def visible(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        return member_of(obj, ctx.user) is not None or bool(obj.get("isPubliclyPreviewable"))

    def all_visible(self, ctx: Ctx) -> list[dict[str, Any]]:
        return [s for s in ctx.store.all(GLOBAL, self.name) if member_of(s, ctx.user) is not None]

    def present(self, ctx: Ctx, obj: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        if member_of(obj, ctx.user) is None:
            return {k: out.get(k) for k in RESTRICTED}
        return out

    def query_candidates(self, ctx: Ctx, flt: dict[str, Any] | None) -> list[dict[str, Any]]:
        out = []
        for s in ctx.store.all(GLOBAL, self.name):
            if member_of(s, ctx.user) is not None or (
                s.get("isPublic") and s.get("isPubliclyPreviewable")
            ):
                out.append(s)
        if flt is None or not _wants_public(flt):
            out = [s for s in out if member_of(s, ctx.user) is not None]
        return out

    def match(self, ctx: Ctx, obj: dict[str, Any], cond: dict[str, Any]) -> bool:
        for key, value in cond.items():
            if key == "name" and value.casefold() not in (obj.get("name") or "").casefold():
                return False
            if key == "isPublic" and bool(obj.get("isPublic")) != value:
                return False
        return True

    def create(self, ctx: Ctx, cid: str, data: dict[str, Any]) -> dict[str, Any]:
        only_keys(data, {"name", "description", "iconBlobId", "isPublic", "isPubliclyPreviewable"})
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid_props("name is required", "name")
        for key in ("description", "iconBlobId"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise invalid_props(f"{key} must be a string", key)
        for key in ("isPublic", "isPubliclyPreviewable"):
            if key in data and not isinstance(data[key], bool):
                raise invalid_props(f"{key} must be a boolean", key)
        owner_role = {
            "id": new_id(),
            "name": "Owner",
            "color": None,
            "permissions": list(PERMISSIONS),
            "position": 1_000_000,
        }
        space: dict[str, Any] = {
            "id": new_id(),
            "name": name,
            "description": data.get("description"),
            "iconBlobId": data.get("iconBlobId"),
            "roles": [owner_role],
            "members": [
                {"id": ctx.user, "roleIds": [owner_role["id"]], "nick": None, "joinedAt": ctx.now}
            ],
            "categories": [],
            "uncategorizedChannelIds": [],
            "createdAt": ctx.now,
            "isPublic": bool(data.get("isPublic", False)),
            "isPubliclyPreviewable": bool(data.get("isPubliclyPreviewable", False)),
            "memberCount": 1,
            "_everyone": list(EVERYONE_DEFAULT),
            "_channels": {},
            "_creator": ctx.user,
        }
        if space["iconBlobId"] is not None:
            readable_blob(ctx, space["iconBlobId"], "iconBlobId")
        save_space(ctx, space, CREATED)
        return space

    def update(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        if member_of(obj, ctx.user) is None:
            raise SetErr("forbidden", "not a member of this space")
        space = obj
        perms = space_perms(space, ctx.user)
        mine = highest_position(space, ctx.user)

        def need(perm: str) -> None:
            if perm not in perms:
                raise SetErr("forbidden", f"this needs the {perm} permission")

        removed: list[str] = []
        added: list[str] = []
        role_ids = {r["id"] for r in space["roles"]}
        for key, value in patch.items():
            if key in ("name", "description", "iconBlobId", "isPublic", "isPubliclyPreviewable"):
                need("manage_space")
                if key == "name" and (not isinstance(value, str) or not value.strip()):
                    raise invalid_props("name must be a non-empty string", key)
                if (
                    key in ("description", "iconBlobId")
                    and value is not None
                    and not isinstance(value, str)
                ):
                    raise invalid_props(f"{key} must be a string or null", key)
                if key in ("isPublic", "isPubliclyPreviewable") and not isinstance(value, bool):
                    raise invalid_props(f"{key} must be a boolean", key)
                if key == "iconBlobId" and value is not None:
                    readable_blob(ctx, value, key)
                space[key] = value
            elif key == "addRoles":
                need("manage_roles")
                added_roles: set[str] = set()
                for e in _entries(value, key):
                    only_keys(e, {"name", "permissions", "position", "color"}, "role property")
                    if (
                        not isinstance(e.get("name"), str)
                        or not is_uint(e.get("position"))
                        or e["position"] == 0
                    ):
                        raise invalid_props("a role needs a name and a position > 0", key)
                    if e["position"] >= mine:
                        raise SetErr("forbidden", "roles must rank below your own highest role")
                    _check_color(e.get("color"), key)
                    new_role = {
                        "id": new_id(),
                        "name": e["name"],
                        "color": e.get("color"),
                        "permissions": _known(_str_list(e.get("permissions", []), key)),
                        "position": e["position"],
                    }
                    space["roles"].append(new_role)
                    role_ids.add(new_role["id"])
                    added_roles.add(new_role["id"])
                if len(space["roles"]) > ctx.core.chat.max_space_roles:
                    raise SetErr("overQuota", "too many roles")
                _check_unique_positions(space, added_roles, key)
            elif key == "removeRoles":
                need("manage_roles")
                ids = _str_list(value, key)
                for r in space["roles"]:
                    if r["id"] in ids and r["position"] >= mine:
                        raise SetErr("forbidden", "cannot remove a role at or above your own")
                space["roles"] = [r for r in space["roles"] if r["id"] not in ids]
                for m in space["members"]:
                    m["roleIds"] = [r for r in m["roleIds"] if r not in ids]
            elif key == "updateRoles":
                need("manage_roles")
                moved: set[str] = set()
                for e in _entries(value, key):
                    only_keys(
                        e, {"id", "name", "permissions", "position", "color"}, "role property"
                    )
                    role = next((r for r in space["roles"] if r["id"] == e.get("id")), None)
                    if role is None:
                        raise invalid_props(f"no role {e.get('id')!r}", key)
                    if role["position"] >= mine:
                        raise SetErr("forbidden", "cannot modify a role at or above your own")
                    if "position" in e:
                        if not is_uint(e["position"]) or e["position"] == 0:
                            raise invalid_props("position must be > 0", key)
                        if e["position"] >= mine:
                            raise SetErr("forbidden", "roles must rank below your own highest role")
                        role["position"] = e["position"]
                        moved.add(role["id"])
                    if "name" in e:
                        if not isinstance(e["name"], str):
                            raise invalid_props("name must be a string", key)
                        role["name"] = e["name"]
                    if "permissions" in e:
                        role["permissions"] = _known(_str_list(e["permissions"], key))
                    if "color" in e:
                        _check_color(e["color"], key)
                        role["color"] = e["color"]
                _check_unique_positions(space, moved, key)
            elif key == "addMembers":
                need("manage_members")
                for e in _entries(value, key):
                    only_keys(e, {"id", "roleIds", "nick"}, "member property")
                    uid = e.get("id")
                    if not isinstance(uid, str) or not uid:
                        raise invalid_props("a member needs an id", key)
                    uid = ctx.ref(uid)
                    rids = _str_list(e.get("roleIds", []), key)
                    if any(r not in role_ids for r in rids):
                        raise invalid_props("unknown roleIds", key)
                    if rids:
                        need("manage_roles")
                    if banned(ctx, space["id"], uid):
                        raise SetErr("forbidden", f"{uid} is banned from this space")
                    if member_of(space, uid) is None:
                        space["members"].append(
                            {"id": uid, "roleIds": rids, "nick": e.get("nick"), "joinedAt": ctx.now}
                        )
                        added.append(uid)
                if len(space["members"]) > ctx.core.chat.max_space_members:
                    raise SetErr("overQuota", "too many members")
            elif key == "removeMembers":
                ids = [ctx.ref(i) for i in _str_list(value, key)]
                if ids != [ctx.user]:
                    need("manage_members")
                    # a kick obeys the same role-rank rule as a ban: only members ranking
                    # strictly below the caller can be removed (leaving is always allowed)
                    for uid in ids:
                        if (
                            uid != ctx.user
                            and member_of(space, uid) is not None
                            and highest_position(space, uid) >= mine
                        ):
                            raise SetErr(
                                "forbidden", "cannot remove a member ranking at or above you"
                            )
                space["members"] = [m for m in space["members"] if m["id"] not in ids]
                removed.extend(ids)
                if not any(
                    {"manage_members", "manage_space"} & space_perms(space, m["id"])
                    for m in space["members"]
                ):
                    raise invalid_props(
                        "this would leave the space without an administrator", "removeMembers"
                    )
            elif key == "updateMembers":
                for e in _entries(value, key):
                    only_keys(e, {"id", "roleIds", "nick"}, "member property")
                    m = member_of(space, ctx.ref(e.get("id", "")))
                    if m is None:
                        raise invalid_props(f"no member {e.get('id')!r}", key)
                    if "roleIds" in e:
                        need("manage_roles")
                        rids = _str_list(e["roleIds"], key)
                        if any(r not in role_ids for r in rids):
                            raise invalid_props("unknown roleIds", key)
                        roles = {r["id"]: r for r in space["roles"]}
                        changed = set(rids) ^ set(m["roleIds"])
                        if any(roles[r]["position"] >= mine for r in changed if r in roles):
                            raise SetErr(
                                "forbidden", "cannot grant or revoke roles at or above your own"
                            )
                        m["roleIds"] = rids
                    if "nick" in e:
                        if m["id"] != ctx.user:
                            need("manage_members")
                        if e["nick"] is not None and not isinstance(e["nick"], str):
                            raise invalid_props("nick must be a string or null", key)
                        m["nick"] = e["nick"]
                if not any(
                    {"manage_members", "manage_space"} & space_perms(space, m["id"])
                    for m in space["members"]
                ):
                    raise invalid_props(
                        "this would leave the space without an administrator", "updateMembers"
                    )
            elif key in ("addChannels", "removeChannels", "updateChannels"):
                need("manage_channels")
                self._channels(ctx, space, key, value)
            elif key in ("addCategories", "removeCategories", "updateCategories"):
                need("manage_channels")
                self._categories(ctx, space, key, value)
            else:
                raise invalid_props(f"{key} cannot be updated", key)
        save_space(ctx, space, UPDATED, removed=removed, added=added)
        if removed:
            _after_members_left(ctx, space, removed)
        if added:
            _after_members_joined(ctx, space, added)
        return None

    def _channels(self, ctx: Ctx, space: dict[str, Any], key: str, value: Any) -> None:
        chans: dict[str, Any] = space.setdefault("_channels", {})
        cats = {c["id"] for c in space["categories"]}
        if key == "addChannels":
            for e in _entries(value, key):
                only_keys(
                    e,
                    {
                        "name",
                        "categoryId",
                        "position",
                        "topic",
                        "slowModeSeconds",
                        "permissionOverrides",
                    },
                    "channel property",
                )
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
            for cid in [ctx.ref(i) for i in _str_list(value, key)]:
                if cid not in chans:
                    raise invalid_props(f"no channel {cid!r} in this space", key)
                _drop_channel(ctx, space, cid)
        else:
            for e in _entries(value, key):
                cid = ctx.ref(e["id"]) if isinstance(e.get("id"), str) else ""
                if cid not in chans:
                    raise invalid_props(f"no channel {e.get('id')!r} in this space", key)
                only_keys(
                    e,
                    {
                        "id",
                        "name",
                        "categoryId",
                        "position",
                        "topic",
                        "slowModeSeconds",
                        "permissionOverrides",
                    },
                    "channel property",
                )
                _apply_channel(
                    ctx, chans[cid], {k: v for k, v in e.items() if k != "id"}, cats, key
                )

    def _categories(self, ctx: Ctx, space: dict[str, Any], key: str, value: Any) -> None:
        chans = space.setdefault("_channels", {})
        if key == "addCategories":
            for e in _entries(value, key):
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
            ids = _str_list(value, key)
            space["categories"] = [c for c in space["categories"] if c["id"] not in ids]
            for ch in chans.values():
                if ch.get("categoryId") in ids:
                    ch["categoryId"] = None
        else:
            for e in _entries(value, key):
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

    def destroy(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        if "manage_space" not in space_perms(obj, ctx.user):
            raise SetErr("forbidden", "destroying a space needs manage_space")
        from .._store import DESTROYED

        for cid in list(obj.get("_channels", {})):
            _drop_channel(ctx, obj, cid)
        members = [m["id"] for m in obj["members"]]
        ctx.store.delete(GLOBAL, "Space", obj["id"])
        ctx.cache.pop(("space", obj["id"]), None)
        ctx.log_only("Space", obj["id"], DESTROYED, accounts_of(ctx, members))
        for tname in ("SpaceInvite", "SpaceBan"):
            for o in ctx.store.by_k1(GLOBAL, tname, obj["id"]):
                ctx.remove(tname, o["id"], notify=accounts_of(ctx, [*members, o.get("userId", "")]))
        for o in ctx.store.by_k1(GLOBAL, "CustomEmoji", obj["id"]):
            ctx.remove("CustomEmoji", o["id"], notify=accounts_of(ctx, members))


def _wants_public(flt: dict[str, Any]) -> bool:
    if "operator" in flt:
        return flt["operator"] != "NOT" and any(_wants_public(c) for c in flt.get("conditions", []))
    return flt.get("isPublic") is True


def _assign(ctx: Ctx, chans: dict[str, Any], cat_id: str, ids: Any, key: str) -> None:
    if ids is None:
        return
    for pos, cid in enumerate(_str_list(ids, key)):
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


def _after_members_left(ctx: Ctx, space: dict[str, Any], users: list[str]) -> None:
    for inv in ctx.store.by_k1(GLOBAL, "SpaceInvite", space["id"]):
        if inv.get("createdBy") in users:
            pass  # invites outlive their creator's membership


def _after_members_joined(ctx: Ctx, space: dict[str, Any], users: list[str]) -> None:
    return None


# --- SpaceInvite -----------------------------------------------------------------------


def _invite_audience(ctx: Ctx, space: dict[str, Any] | None, inv: dict[str, Any]) -> list[str]:
    users = {inv["createdBy"]}
    if space is not None:
        users |= {
            m["id"] for m in space["members"] if "manage_members" in space_perms(space, m["id"])
        }
    return accounts_of(ctx, users)


class SpaceInviteType(DataType):
    name = "SpaceInvite"
    scope_global = True
    properties = get_args(SpaceInviteProperty)
    methods = ("get", "changes", "set")
    update_forbidden = True

    def keys(self, obj: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
        return obj["spaceId"], obj["code"], None

    def visible(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        space = load_space(ctx, obj["spaceId"])
        if space is None or member_of(space, ctx.user) is None:
            return False
        return obj["createdBy"] == ctx.user or "manage_members" in space_perms(space, ctx.user)

    def all_visible(self, ctx: Ctx) -> list[dict[str, Any]]:
        return [o for o in ctx.store.all(GLOBAL, self.name) if self.visible(ctx, o)]

    def create(self, ctx: Ctx, cid: str, data: dict[str, Any]) -> dict[str, Any]:
        if "id" in data or "code" in data:
            raise invalid_props(
                "id and code are server-set", *[k for k in ("id", "code") if k in data]
            )
        only_keys(data, {"spaceId", "defaultChannelId", "expiresAt", "maxUses"})
        sid = data.get("spaceId")
        space = load_space(ctx, ctx.ref(sid)) if isinstance(sid, str) else None
        if space is None or member_of(space, ctx.user) is None:
            raise invalid_props("no such space", "spaceId")
        if "manage_members" not in space_perms(space, ctx.user):
            raise SetErr("forbidden", "creating invites needs manage_members")
        dch = data.get("defaultChannelId")
        if dch is not None:
            dch = ctx.ref(dch) if isinstance(dch, str) else dch
            if dch not in space.get("_channels", {}):
                raise invalid_props(
                    "defaultChannelId is not a channel of this space", "defaultChannelId"
                )
        if data.get("maxUses") is not None and not is_uint(data["maxUses"]):
            raise invalid_props("maxUses must be an UnsignedInt", "maxUses")
        inv = {
            "id": new_id(),
            "code": secrets.token_urlsafe(9),
            "spaceId": space["id"],
            "defaultChannelId": dch,
            "createdBy": ctx.user,
            "expiresAt": opt_utc(data, "expiresAt"),
            "maxUses": data.get("maxUses"),
            "uses": 0,
            "createdAt": ctx.now,
        }
        ctx.write(self, inv, CREATED, notify=_invite_audience(ctx, space, inv))
        return inv

    def destroy(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        space = load_space(ctx, obj["spaceId"])
        if obj["createdBy"] != ctx.user and (
            space is None or "manage_members" not in space_perms(space, ctx.user)
        ):
            raise SetErr("forbidden", "revoking needs manage_members or being the creator")
        ctx.remove(self, obj["id"], notify=_invite_audience(ctx, space, obj))


# --- SpaceBan --------------------------------------------------------------------------


def _ban_audience(ctx: Ctx, space: dict[str, Any] | None, ban: dict[str, Any]) -> list[str]:
    users = {ban["userId"]}
    if space is not None:
        users |= {m["id"] for m in space["members"] if "ban" in space_perms(space, m["id"])}
    return accounts_of(ctx, users)


class SpaceBanType(DataType):
    name = "SpaceBan"
    scope_global = True
    properties = get_args(SpaceBanProperty)
    methods = ("get", "changes", "set")

    def keys(self, obj: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
        return obj["spaceId"], None, epoch_of(obj.get("expiresAt"))

    def visible(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        if obj["userId"] == ctx.user:
            return True
        space = load_space(ctx, obj["spaceId"])
        return space is not None and "ban" in space_perms(space, ctx.user)

    def _space_for(self, ctx: Ctx, sid: str) -> dict[str, Any]:
        space = load_space(ctx, sid)
        if space is None or member_of(space, ctx.user) is None:
            raise invalid_props("no such space", "spaceId")
        if "ban" not in space_perms(space, ctx.user):
            raise SetErr("forbidden", "this needs the ban permission")
        return space

    def create(self, ctx: Ctx, cid: str, data: dict[str, Any]) -> dict[str, Any]:
        only_keys(data, {"spaceId", "userId", "reason", "expiresAt"})
        if not isinstance(data.get("spaceId"), str):
            raise invalid_props("spaceId is required", "spaceId")
        space = self._space_for(ctx, ctx.ref(data["spaceId"]))
        uid = data.get("userId")
        if not isinstance(uid, str) or not uid:
            raise invalid_props("userId is required", "userId")
        if uid == ctx.user:
            raise invalid_props("you cannot ban yourself", "userId")
        if data.get("reason") is not None and not isinstance(data["reason"], str):
            raise invalid_props("reason must be a string", "reason")
        if member_of(space, uid) is not None and highest_position(space, uid) >= highest_position(
            space, ctx.user
        ):
            raise SetErr("forbidden", "cannot ban a member ranking at or above you")
        ban = {
            "id": new_id(),
            "spaceId": space["id"],
            "userId": uid,
            "bannedBy": ctx.user,
            "reason": data.get("reason"),
            "createdAt": ctx.now,
            "expiresAt": opt_utc(data, "expiresAt"),
        }
        ctx.write(self, ban, CREATED, notify=_ban_audience(ctx, space, ban))
        if member_of(space, uid) is not None:
            space["members"] = [m for m in space["members"] if m["id"] != uid]
            save_space(ctx, space, UPDATED, removed=[uid])
        return ban

    def update(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        space = self._space_for(ctx, obj["spaceId"])
        for key, value in patch.items():
            if key == "reason":
                if value is not None and not isinstance(value, str):
                    raise invalid_props("reason must be a string or null", key)
            elif key == "expiresAt":
                opt_utc(patch, key)
            else:
                raise invalid_props(f"{key} cannot be updated", key)
            obj[key] = value
        ctx.write(self, obj, UPDATED, notify=_ban_audience(ctx, space, obj))
        return None

    def destroy(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        space = self._space_for(ctx, obj["spaceId"])
        ctx.remove(self, obj["id"], notify=_ban_audience(ctx, space, obj))

    def expire(self, ctx: Ctx, scope: str, oid: str) -> None:
        obj = ctx.store.get(GLOBAL, self.name, oid)
        if obj is not None:
            ctx.remove(self, oid, notify=_ban_audience(ctx, load_space(ctx, obj["spaceId"]), obj))


# --- Space/join ------------------------------------------------------------------------


def space_join(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(args, {"accountId": "str", "inviteCode": "str", "spaceId": "str"})
    if args.get("accountId", ctx.account_id) != ctx.account_id:
        raise MethodErr("accountNotFound", "no such account")
    if ("inviteCode" in args) == ("spaceId" in args):
        raise MethodErr("invalidArguments", "give exactly one of inviteCode and spaceId")
    invite = None
    if "inviteCode" in args:
        found = [
            o for scope, o in ctx.store.by_k2("SpaceInvite", args["inviteCode"]) if scope == GLOBAL
        ]
        if not found:
            raise MethodErr("invalidArguments", "unknown invite code")
        invite = found[0]
        exp = epoch_of(invite.get("expiresAt"))
        if exp is not None and exp <= ctx.now_ts:
            raise MethodErr("invalidArguments", "the invite has expired")
        if invite.get("maxUses") is not None and invite["uses"] >= invite["maxUses"]:
            raise MethodErr("invalidArguments", "the invite has been used up")
        space = load_space(ctx, invite["spaceId"])
        if space is None:
            raise MethodErr("invalidArguments", "the invite's space no longer exists")
    else:
        space = load_space(ctx, ctx.ref(args["spaceId"]))
        if space is None or not space.get("isPublic"):
            raise MethodErr("notPermitted", "the space is not public")
    if banned(ctx, space["id"], ctx.user):
        raise MethodErr("forbidden", "you are banned from this space")
    if member_of(space, ctx.user) is None:
        if len(space["members"]) >= ctx.core.chat.max_space_members:
            raise MethodErr("overQuota", "the space is full")
        space["members"].append({"id": ctx.user, "roleIds": [], "nick": None, "joinedAt": ctx.now})
        if invite is not None:
            invite["uses"] += 1
            ctx.write("SpaceInvite", invite, UPDATED, notify=_invite_audience(ctx, space, invite))
        save_space(ctx, space, UPDATED, added=[ctx.user])
    return {"accountId": ctx.account_id, "spaceId": space["id"]}


def register(core: Core) -> None:
    from .._core_caps import CHAT

    core.register(SpaceType())
    core.register(SpaceInviteType())
    core.register(SpaceBanType())
    core.method("Space/join", CHAT, space_join)
