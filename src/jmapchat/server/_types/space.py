"""Space (with roles, members, categories, channels): create, Space/set updates, destroy.

Spaces are shared objects (one global record); their changes are logged into every
member's account. Channel definitions live inside the Space (``_channels``) and are
synced into a channel Chat copy in every member's account (`_spaces`); who may do what
is `_access`; channel and category edits, `space_channels`; SpaceInvite and Space/join,
`space_invite`; SpaceBan, `space_ban`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, get_args

from jmapchat.models import SpaceProperty

from .._generic import DataType
from .._store import DESTROYED
from .._util import SetErr, is_uint, new_id
from ._access import (
    EVERYONE_DEFAULT,
    PERMISSIONS,
    banned,
    highest_position,
    known_perms,
    member_of,
    space_perms,
)
from ._common import (
    CREATED,
    GLOBAL,
    UPDATED,
    accounts_of,
    invalid_props,
    only_keys,
    readable_blob,
)
from ._spaces import drop_channel, entries, save_space, str_list
from .space_channels import edit_categories, edit_channels

if TYPE_CHECKING:
    from .._context import Core, Ctx

__all__ = ["SpaceType", "register"]

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
        edit = _SpaceEdit(ctx, obj)
        for key, value in patch.items():
            edit.apply(key, value)
        save_space(ctx, obj, UPDATED, removed=edit.removed, added=edit.added)
        return None

    def destroy(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        if "manage_space" not in space_perms(obj, ctx.user):
            raise SetErr("forbidden", "destroying a space needs manage_space")
        for cid in list(obj.get("_channels", {})):
            drop_channel(ctx, obj, cid)
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


class _SpaceEdit:
    """One Space/set update of one Space: the caller's permissions and rank, read once,
    and a method per patched property (each checks the permission it needs)."""

    def __init__(self, ctx: Ctx, space: dict[str, Any]) -> None:
        self.ctx = ctx
        self.space = space
        self.perms = space_perms(space, ctx.user)
        self.mine = highest_position(space, ctx.user)
        self.role_ids = {r["id"] for r in space["roles"]}
        self.removed: list[str] = []
        self.added: list[str] = []

    def need(self, perm: str) -> None:
        if perm not in self.perms:
            raise SetErr("forbidden", f"this needs the {perm} permission")

    def keep_an_admin(self, key: str) -> None:
        if not any(
            {"manage_members", "manage_space"} & space_perms(self.space, m["id"])
            for m in self.space["members"]
        ):
            raise invalid_props("this would leave the space without an administrator", key)

    def apply(self, key: str, value: Any) -> None:
        if key in _FIELDS:
            self.fields(key, value)
        elif key in _CHANNEL_EDITS:
            self.need("manage_channels")
            _CHANNEL_EDITS[key](self.ctx, self.space, key, value)
        else:
            edit = _EDITS.get(key)
            if edit is None:
                raise invalid_props(f"{key} cannot be updated", key)
            edit(self, key, value)

    def fields(self, key: str, value: Any) -> None:
        ctx, space = self.ctx, self.space
        self.need("manage_space")
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

    def add_roles(self, key: str, value: Any) -> None:
        ctx, space = self.ctx, self.space
        self.need("manage_roles")
        added_roles: set[str] = set()
        for e in entries(value, key):
            only_keys(e, {"name", "permissions", "position", "color"}, "role property")
            if (
                not isinstance(e.get("name"), str)
                or not is_uint(e.get("position"))
                or e["position"] == 0
            ):
                raise invalid_props("a role needs a name and a position > 0", key)
            if e["position"] >= self.mine:
                raise SetErr("forbidden", "roles must rank below your own highest role")
            _check_color(e.get("color"), key)
            new_role = {
                "id": new_id(),
                "name": e["name"],
                "color": e.get("color"),
                "permissions": known_perms(str_list(e.get("permissions", []), key)),
                "position": e["position"],
            }
            space["roles"].append(new_role)
            self.role_ids.add(new_role["id"])
            added_roles.add(new_role["id"])
        if len(space["roles"]) > ctx.core.chat.max_space_roles:
            raise SetErr("overQuota", "too many roles")
        _check_unique_positions(space, added_roles, key)

    def remove_roles(self, key: str, value: Any) -> None:
        space = self.space
        self.need("manage_roles")
        ids = str_list(value, key)
        for r in space["roles"]:
            if r["id"] in ids and r["position"] >= self.mine:
                raise SetErr("forbidden", "cannot remove a role at or above your own")
        space["roles"] = [r for r in space["roles"] if r["id"] not in ids]
        for m in space["members"]:
            m["roleIds"] = [r for r in m["roleIds"] if r not in ids]

    def update_roles(self, key: str, value: Any) -> None:
        space = self.space
        self.need("manage_roles")
        moved: set[str] = set()
        for e in entries(value, key):
            only_keys(e, {"id", "name", "permissions", "position", "color"}, "role property")
            role = next((r for r in space["roles"] if r["id"] == e.get("id")), None)
            if role is None:
                raise invalid_props(f"no role {e.get('id')!r}", key)
            if role["position"] >= self.mine:
                raise SetErr("forbidden", "cannot modify a role at or above your own")
            if "position" in e:
                if not is_uint(e["position"]) or e["position"] == 0:
                    raise invalid_props("position must be > 0", key)
                if e["position"] >= self.mine:
                    raise SetErr("forbidden", "roles must rank below your own highest role")
                role["position"] = e["position"]
                moved.add(role["id"])
            if "name" in e:
                if not isinstance(e["name"], str):
                    raise invalid_props("name must be a string", key)
                role["name"] = e["name"]
            if "permissions" in e:
                role["permissions"] = known_perms(str_list(e["permissions"], key))
            if "color" in e:
                _check_color(e["color"], key)
                role["color"] = e["color"]
        _check_unique_positions(space, moved, key)

    def add_members(self, key: str, value: Any) -> None:
        ctx, space = self.ctx, self.space
        self.need("manage_members")
        for e in entries(value, key):
            only_keys(e, {"id", "roleIds", "nick"}, "member property")
            uid = e.get("id")
            if not isinstance(uid, str) or not uid:
                raise invalid_props("a member needs an id", key)
            uid = ctx.ref(uid)
            rids = str_list(e.get("roleIds", []), key)
            if any(r not in self.role_ids for r in rids):
                raise invalid_props("unknown roleIds", key)
            if rids:
                self.need("manage_roles")
            if banned(ctx, space["id"], uid):
                raise SetErr("forbidden", f"{uid} is banned from this space")
            if member_of(space, uid) is None:
                space["members"].append(
                    {"id": uid, "roleIds": rids, "nick": e.get("nick"), "joinedAt": ctx.now}
                )
                self.added.append(uid)
        if len(space["members"]) > ctx.core.chat.max_space_members:
            raise SetErr("overQuota", "too many members")

    def remove_members(self, key: str, value: Any) -> None:
        ctx, space = self.ctx, self.space
        ids = [ctx.ref(i) for i in str_list(value, key)]
        if ids != [ctx.user]:
            self.need("manage_members")
            # a kick obeys the same role-rank rule as a ban: only members ranking
            # strictly below the caller can be removed (leaving is always allowed)
            for uid in ids:
                if (
                    uid != ctx.user
                    and member_of(space, uid) is not None
                    and highest_position(space, uid) >= self.mine
                ):
                    raise SetErr("forbidden", "cannot remove a member ranking at or above you")
        space["members"] = [m for m in space["members"] if m["id"] not in ids]
        self.removed.extend(ids)
        self.keep_an_admin("removeMembers")

    def update_members(self, key: str, value: Any) -> None:
        ctx, space = self.ctx, self.space
        for e in entries(value, key):
            only_keys(e, {"id", "roleIds", "nick"}, "member property")
            m = member_of(space, ctx.ref(e.get("id", "")))
            if m is None:
                raise invalid_props(f"no member {e.get('id')!r}", key)
            if "roleIds" in e:
                self.need("manage_roles")
                rids = str_list(e["roleIds"], key)
                if any(r not in self.role_ids for r in rids):
                    raise invalid_props("unknown roleIds", key)
                roles = {r["id"]: r for r in space["roles"]}
                changed = set(rids) ^ set(m["roleIds"])
                if any(roles[r]["position"] >= self.mine for r in changed if r in roles):
                    raise SetErr("forbidden", "cannot grant or revoke roles at or above your own")
                m["roleIds"] = rids
            if "nick" in e:
                if m["id"] != ctx.user:
                    self.need("manage_members")
                if e["nick"] is not None and not isinstance(e["nick"], str):
                    raise invalid_props("nick must be a string or null", key)
                m["nick"] = e["nick"]
        self.keep_an_admin("updateMembers")


_FIELDS = frozenset({"name", "description", "iconBlobId", "isPublic", "isPubliclyPreviewable"})
_EDITS: dict[str, Callable[[_SpaceEdit, str, Any], None]] = {
    "addRoles": _SpaceEdit.add_roles,
    "removeRoles": _SpaceEdit.remove_roles,
    "updateRoles": _SpaceEdit.update_roles,
    "addMembers": _SpaceEdit.add_members,
    "removeMembers": _SpaceEdit.remove_members,
    "updateMembers": _SpaceEdit.update_members,
}
_CHANNEL_EDITS: dict[str, Callable[[Ctx, dict[str, Any], str, Any], None]] = {
    "addChannels": edit_channels,
    "removeChannels": edit_channels,
    "updateChannels": edit_channels,
    "addCategories": edit_categories,
    "removeCategories": edit_categories,
    "updateCategories": edit_categories,
}


def register(core: Core) -> None:
    core.register(SpaceType())
