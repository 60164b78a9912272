"""Who may do what in a Space: membership, permissions (space-wide and per channel),
role rank and bans. Every data type asks here; nothing here writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from jmapchat.models import SpacePermission

from ._common import GLOBAL, accounts_of

if TYPE_CHECKING:
    from .._context import Ctx

__all__ = [
    "EVERYONE_DEFAULT",
    "PERMISSIONS",
    "audience",
    "banned",
    "channel_allows",
    "channel_perms",
    "highest_position",
    "known_perms",
    "load_space",
    "member_of",
    "space_perms",
]

# The draft's permission names (the client's ``SpacePermission``); the checks are the
# server's own.
PERMISSIONS: tuple[str, ...] = get_args(SpacePermission)
EVERYONE_DEFAULT = ["view", "send"]


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


def known_perms(perms: Any) -> list[str]:
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
        perms |= set(known_perms(o.get("allow", [])))
    for o in overrides:
        if o.get("targetType") == "member" and o.get("targetId") == user:
            perms -= set(o.get("deny", []))
    for o in overrides:
        if o.get("targetType") == "member" and o.get("targetId") == user:
            perms |= set(known_perms(o.get("allow", [])))
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


def audience(ctx: Ctx, space: dict[str, Any] | None, perm: str, *users: str) -> list[str]:
    """The accounts of ``users`` and of every member of ``space`` holding ``perm``."""
    found = set(users)
    if space is not None:
        found |= {m["id"] for m in space["members"] if perm in space_perms(space, m["id"])}
    return accounts_of(ctx, found)
