"""ChatContact: one per other user known to the account (id = the user's login id)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, get_args

from jmapchat.models import ChatContactProperty

from .._generic import DataType
from .._util import SetErr
from ._common import UPDATED, invalid_props

if TYPE_CHECKING:
    from .._context import Core, Ctx

__all__ = ["ChatContactType", "register"]


class ChatContactType(DataType):
    name = "ChatContact"
    properties = get_args(ChatContactProperty)
    filter_spec: ClassVar[dict[str, str]] = {"blocked": "bool", "presence": "str"}
    sort_props = frozenset({"lastSeenAt", "login", "lastActiveAt", "displayName", "id"})
    default_sort: ClassVar[list[tuple[str, bool]]] = [("login", True)]
    create_forbidden = True
    destroy_forbidden = True

    def update(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        for key, value in patch.items():
            if key == "blocked":
                if not isinstance(value, bool):
                    raise invalid_props("blocked must be a boolean", "blocked")
                obj["blocked"] = value
            elif key == "displayName":
                if value is not None and not isinstance(value, str):
                    raise invalid_props("displayName must be a string or null", "displayName")
                obj["displayName"] = value
            elif key in self.properties:
                raise SetErr("forbidden", f"{key} is server-set", properties=[key])
            else:
                raise invalid_props(f"unknown property {key!r}", key)
        ctx.write(self, obj, UPDATED)
        return None


def register(core: Core) -> None:
    core.register(ChatContactType())
