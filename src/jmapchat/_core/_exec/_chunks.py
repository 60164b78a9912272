"""Pure helpers of the split planner: counting, chunking and merging objects of one call.

No state: `Splitter` (`_plan`) calls them while packing envelopes and absorbing replies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .._call import Call
from .._json import dumps
from .._refs import Ref
from .._session import CoreCapability

__all__ = [
    "bounded",
    "chunk_args",
    "counted",
    "invocation",
    "limit_for",
    "merge",
    "objects_in",
    "set_created",
]


def objects_in(method: str, args: Mapping[str, Any]) -> int | None:
    """How many objects a /set or /get carries, or None if unknown (or not applicable)."""
    if method.endswith("/get"):
        ids = args.get("ids")
        return len(ids) if isinstance(ids, list | tuple) else None
    if method.endswith("/set"):
        if any(k in args for k in ("#create", "#update", "#destroy")):
            return None
        total = 0
        for key in ("create", "update"):
            part = args.get(key)
            if isinstance(part, Mapping):
                total += len(part)
        destroy = args.get("destroy")
        if isinstance(destroy, list | tuple):
            total += len(destroy)
        elif isinstance(destroy, Ref):
            return None
        return total
    return None


def limit_for(method: str, limits: CoreCapability) -> int | None:
    if method.endswith("/get"):
        return limits.max_objects_in_get
    if method.endswith("/set"):
        return limits.max_objects_in_set
    return None


_COUNTED_ARGS: Final = {"/get": ("ids",), "/set": ("create", "update", "destroy")}


def counted(method: str) -> tuple[str, ...]:
    for suffix, names in _COUNTED_ARGS.items():
        if method.endswith(suffix):
            return names
    return ()


def bounded(source: Call[Any], path: str, limit: int) -> bool:
    """Can a reference to ``path`` of ``source`` be shown to carry at most ``limit`` ids?"""
    bound = _bound(source, path, depth=0)
    return bound is not None and bound <= limit


def _bound(source: Call[Any], path: str, depth: int) -> int | None:
    """An upper bound on the number of ids at ``path`` of ``source``'s result, if known."""
    args = source.args
    if depth > 16:
        return None
    if source.method.endswith("/query") and path == "/ids":
        lim = args.get("limit")
        return lim if isinstance(lim, int) and not isinstance(lim, bool) and lim >= 0 else None
    if source.method.endswith("/get") and path == "/list/*/id":
        ids = args.get("ids")
        if isinstance(ids, list | tuple):
            return len(ids)
        if isinstance(ids, Ref):
            return _bound(ids.source, ids.path, depth + 1)
        return None
    if source.method.endswith("/changes") and path in ("/created", "/updated", "/destroyed"):
        mc = args.get("maxChanges")
        return mc if isinstance(mc, int) and not isinstance(mc, bool) and mc >= 0 else None
    return None


def chunk_args(method: str, args: dict[str, Any], size: int) -> list[tuple[dict[str, Any], int]]:
    """Cut a /get's ids or a /set's create+update+destroy into chunks of ``size`` objects."""
    out: list[tuple[dict[str, Any], int]] = []
    if method.endswith("/get"):
        ids = list(args["ids"])
        for start in range(0, len(ids), size):
            chunk = dict(args)
            chunk["ids"] = ids[start : start + size]
            out.append((chunk, len(chunk["ids"])))
        return out
    items: list[tuple[str, Any, Any]] = []
    for key in ("create", "update"):
        part = args.get(key)
        if isinstance(part, Mapping):
            items.extend((key, k, v) for k, v in part.items())
    destroy = args.get("destroy")
    if isinstance(destroy, list):
        items.extend(("destroy", v, None) for v in destroy)
    base = {k: v for k, v in args.items() if k not in ("create", "update", "destroy")}
    for start in range(0, len(items), size):
        chunk = dict(base)
        for kind, key, value in items[start : start + size]:
            if kind == "destroy":
                chunk.setdefault("destroy", []).append(key)
            else:
                chunk.setdefault(kind, {})[key] = value
        out.append((chunk, min(size, len(items) - start)))
    return out


def invocation(head: bytes, encoded_args: bytes, wire_id: str) -> bytes:
    """``dumps([method, args, wire_id])`` from ``head`` (``[method,``) and encoded args."""
    return head + encoded_args + b"," + dumps(wire_id) + b"]"


def merge(method: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge the successful chunk results of one /get or /set into one result."""
    merged: dict[str, Any] = dict(results[0])
    if method.endswith("/get"):
        merged["list"] = [item for r in results for item in (r.get("list") or [])]
        merged["notFound"] = [item for r in results for item in (r.get("notFound") or [])]
        return merged
    merged["newState"] = results[-1].get("newState")
    for key in ("created", "updated", "notCreated", "notUpdated", "notDestroyed"):
        parts: list[dict[str, Any]] = [r[key] for r in results if isinstance(r.get(key), dict)]
        if parts:  # keys no chunk sent stay as the first chunk had them (absent or null)
            merged[key] = {k: v for p in parts for k, v in p.items()}
    destroyed: list[list[Any]] = [
        r["destroyed"] for r in results if isinstance(r.get("destroyed"), list)
    ]
    if destroyed:
        merged["destroyed"] = [i for d in destroyed for i in d]
    return merged


def set_created(name: str, args: Mapping[str, Any], sink: dict[str, str]) -> None:
    if not name.endswith(("/set", "/copy")):
        return
    created = args.get("created")
    if isinstance(created, Mapping):
        for key, obj in created.items():
            if isinstance(obj, Mapping) and isinstance(obj.get("id"), str):
                sink[key] = obj["id"]
