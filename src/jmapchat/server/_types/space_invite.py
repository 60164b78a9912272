"""SpaceInvite (invite codes to a Space) and Space/join (by invite code, or a public
Space by id)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, get_args

from jmapchat.models import SpaceInviteProperty

from .._core_caps import CHAT
from .._generic import DataType
from .._util import MethodErr, SetErr, check_args, epoch_of, is_uint, new_id
from ._access import audience, banned, load_space, member_of, space_perms
from ._common import CREATED, GLOBAL, UPDATED, invalid_props, only_keys, opt_utc
from ._spaces import save_space

if TYPE_CHECKING:
    from .._context import Core, Ctx

__all__ = ["SpaceInviteType", "register", "space_join"]


def _invite_audience(ctx: Ctx, space: dict[str, Any] | None, inv: dict[str, Any]) -> list[str]:
    return audience(ctx, space, "manage_members", inv["createdBy"])


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
    core.register(SpaceInviteType())
    core.method("Space/join", CHAT, space_join)
