"""SpaceBan: a ban removes the member and keeps them out until it expires or is lifted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from jmapchat.models import SpaceBanProperty

from .._generic import DataType
from .._util import SetErr, epoch_of, new_id
from ._access import audience, highest_position, load_space, member_of, space_perms
from ._common import CREATED, GLOBAL, UPDATED, invalid_props, only_keys, opt_utc
from ._spaces import save_space

if TYPE_CHECKING:
    from .._context import Core, Ctx

__all__ = ["SpaceBanType", "register"]


def _ban_audience(ctx: Ctx, space: dict[str, Any] | None, ban: dict[str, Any]) -> list[str]:
    return audience(ctx, space, "ban", ban["userId"])


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


def register(core: Core) -> None:
    core.register(SpaceBanType())
