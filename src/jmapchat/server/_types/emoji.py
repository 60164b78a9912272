"""CustomEmoji: server-global or Space-scoped custom reaction images."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, get_args

from jmapchat.models import EMOJI_NAME_PATTERN, CustomEmojiProperty

from .._generic import DataType
from .._util import SetErr, new_id
from ._access import load_space, member_of, space_perms
from ._common import (
    CREATED,
    GLOBAL,
    UPDATED,
    accounts_of,
    invalid_props,
    only_keys,
    readable_blob,
)

if TYPE_CHECKING:
    from .._context import Core, Ctx

__all__ = ["CustomEmojiType", "is_image_type", "register"]

NAME_RE = re.compile(EMOJI_NAME_PATTERN)  # the draft's rule, shared with the client models


def is_image_type(media_type: str) -> bool:
    """True for an ``image/*`` media type (parameters and case ignored)."""
    main = media_type.split(";", 1)[0].strip().lower()
    return main.startswith("image/") and len(main) > len("image/")


class CustomEmojiType(DataType):
    name = "CustomEmoji"
    scope_global = True
    properties = get_args(CustomEmojiProperty)
    filter_spec: ClassVar[dict[str, str]] = {"spaceId": "str?", "name": "str"}
    sort_props = frozenset({"name", "createdAt", "id"})
    default_sort: ClassVar[list[tuple[str, bool]]] = [("name", True)]

    def keys(self, obj: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
        return obj.get("spaceId") or "", None, None

    def _space(self, ctx: Ctx, sid: str) -> dict[str, Any] | None:
        space = load_space(ctx, sid)
        return space if space is not None and member_of(space, ctx.user) is not None else None

    def visible(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        sid = obj.get("spaceId")
        return sid is None or self._space(ctx, sid) is not None

    def audience(self, ctx: Ctx, obj: dict[str, Any]) -> list[str]:
        sid = obj.get("spaceId")
        if sid is None:
            return list(ctx.core.users_by_account)
        space = load_space(ctx, sid)
        return accounts_of(ctx, [m["id"] for m in space["members"]]) if space else []

    def _authorize(self, ctx: Ctx, obj: dict[str, Any], creating: bool) -> None:
        sid = obj.get("spaceId")
        if sid is not None:
            space = self._space(ctx, sid)
            if space is None:
                raise invalid_props("no such space", "spaceId")
            if "manage_space" not in space_perms(space, ctx.user):
                raise SetErr("forbidden", "space emoji need the manage_space permission")
        elif not creating and obj.get("createdBy") != ctx.user:
            raise SetErr("forbidden", "only the creator may change a server-global emoji")

    def _check(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        name = obj.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise invalid_props("name must be lowercase letters, digits, - or _", "name")
        meta = readable_blob(ctx, obj.get("blobId"), "blobId")
        if not is_image_type(meta[0]):
            # draft: blobId "MUST be a valid image type"; RFC 8620 §5.3 invalidProperties
            raise invalid_props(f"blobId must reference an image, not {meta[0]!r}", "blobId")
        for other in ctx.store.by_k1(GLOBAL, self.name, obj.get("spaceId") or ""):
            if other["name"] == name and other["id"] != obj.get("id"):
                raise SetErr(
                    "alreadyExists", f"an emoji named {name!r} exists", existingId=other["id"]
                )

    def match(self, ctx: Ctx, obj: dict[str, Any], cond: dict[str, Any]) -> bool:
        for key, value in cond.items():
            if key == "spaceId" and obj.get("spaceId") != value:
                return False
            if key == "name" and obj.get("name") != value:
                return False
        return True

    def create(self, ctx: Ctx, cid: str, data: dict[str, Any]) -> dict[str, Any]:
        only_keys(data, {"name", "blobId", "spaceId"})
        sid = data.get("spaceId")
        if sid is not None and not isinstance(sid, str):
            raise invalid_props("spaceId must be a string", "spaceId")
        obj = {
            "id": new_id(),
            "name": data.get("name"),
            "blobId": ctx.ref(data["blobId"])
            if isinstance(data.get("blobId"), str)
            else data.get("blobId"),
            "spaceId": ctx.ref(sid) if sid else None,
            "createdBy": ctx.user,
            "createdAt": ctx.now,
        }
        self._authorize(ctx, obj, True)
        self._check(ctx, obj)
        ctx.write(self, obj, CREATED, notify=self.audience(ctx, obj))
        return obj

    def update(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        only_keys(patch, {"name", "blobId"})
        self._authorize(ctx, obj, False)
        obj.update({k: ctx.ref(v) if isinstance(v, str) else v for k, v in patch.items()})
        self._check(ctx, obj)
        ctx.write(self, obj, UPDATED, notify=self.audience(ctx, obj))
        return None

    def destroy(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        self._authorize(ctx, obj, False)
        ctx.remove(self, obj["id"], notify=self.audience(ctx, obj))


def register(core: Core) -> None:
    core.register(CustomEmojiType())
