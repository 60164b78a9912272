"""Helpers shared by the data-type modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._store import CREATED, GLOBAL, UPDATED
from .._util import SetErr, invalid_props, parse_utc

if TYPE_CHECKING:
    from .._context import Ctx

__all__ = [
    "CREATED",
    "GLOBAL",
    "UPDATED",
    "accounts_of",
    "ensure_contact",
    "invalid_props",
    "only_keys",
    "opt_utc",
    "presence_of",
    "readable_blob",
]


def only_keys(
    data: dict[str, Any], allowed: set[str] | frozenset[str], what: str = "property"
) -> None:
    if allowed.issuperset(data):
        return
    bad = sorted(k for k in data if k not in allowed)
    if bad:
        raise invalid_props(f"unknown or server-set {what}: {', '.join(bad)}", *bad)


def opt_utc(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if parse_utc(value) is None:
        raise invalid_props(f"{key} must be a UTCDate", key)
    assert isinstance(value, str)
    return value


def readable_blob(ctx: Ctx, value: object, prop: str) -> tuple[str, int, str]:
    """The (type, size, sha256) of a blob the caller may read, for a reference to it.

    A reference may only point at a blob its author can already read (one they uploaded,
    or one an object they can read references): anything else would hand out a blob
    whose id was merely seen."""
    meta = ctx.store.blob_meta(ctx.account_id, value) if isinstance(value, str) else None
    if meta is None:
        raise invalid_props(f"{prop} must be a blob you can read", prop)
    return meta


def accounts_of(ctx: Ctx, usernames: Any) -> list[str]:
    out = []
    for u in usernames:
        acc = ctx.core.account_of(u)
        if acc is not None:
            out.append(acc)
    return out


def presence_of(ctx: Ctx, username: str) -> dict[str, Any] | None:
    acc = ctx.core.account_of(username)
    if acc is None:
        return None
    objs = ctx.store.all(acc, "PresenceStatus")
    return objs[0] if objs else None


def contact_mirror(ctx: Ctx, username: str) -> dict[str, Any]:
    ps = presence_of(ctx, username)
    if ps is None:
        return {"presence": None, "statusText": None, "statusEmoji": None, "lastActiveAt": None}
    presence = ps.get("presence", "online")
    return {
        "presence": "offline" if presence == "invisible" else presence,
        "statusText": ps.get("statusText"),
        "statusEmoji": ps.get("statusEmoji"),
        "lastActiveAt": ps.get("updatedAt"),
    }


def ensure_contact(ctx: Ctx, account: str, username: str) -> dict[str, Any]:
    """The ChatContact for ``username`` in ``account``, created when first needed."""
    if ctx.core.users_by_account.get(account) == username:
        raise SetErr("invalidProperties", "a user is not their own contact")
    obj = ctx.store.get(account, "ChatContact", username)
    if obj is not None:
        return obj
    obj = {
        "id": username,
        "login": username,
        "displayName": None,
        "firstSeenAt": ctx.now,
        "lastSeenAt": ctx.now,
        **contact_mirror(ctx, username),
        "endpoints": [],
        "blocked": False,
    }
    ctx.write("ChatContact", obj, CREATED, account=account)
    return obj


def is_blocked(ctx: Ctx, account: str, sender: str) -> bool:
    obj = ctx.store.get(account, "ChatContact", sender)
    return bool(obj and obj.get("blocked"))


def effective_receipt_sharing(ctx: Ctx, account: str, chat: dict[str, Any] | None) -> bool:
    if chat is not None and isinstance(chat.get("receiptSharing"), bool):
        return bool(chat["receiptSharing"])
    objs = ctx.store.all(account, "PresenceStatus")
    return bool(objs[0].get("receiptSharing", True)) if objs else True


__all__ += ["contact_mirror", "effective_receipt_sharing", "is_blocked"]
