"""Generic RFC 8620 /query and /queryChanges: filters (FilterOperator trees over a data
type's conditions), comparators and collations, positions, anchors and totals."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ._config import COLLATIONS
from ._generic import account_arg, changes_floor, parse_state, state_of
from ._util import MethodErr, check_args

if TYPE_CHECKING:
    from ._context import Ctx
    from ._generic import DataType

__all__ = ["QUERY_CHANGES_ARGS", "run_query", "std_query", "std_query_changes"]


def _check_filter(dt: DataType, ctx: Ctx, flt: Any, depth: int = 0) -> None:
    if depth > 20:
        raise MethodErr("invalidArguments", "filter nested too deeply")
    if not isinstance(flt, dict):
        raise MethodErr("invalidArguments", "a filter must be an object")
    if "operator" in flt:
        if set(flt) - {"operator", "conditions"}:
            raise MethodErr("invalidArguments", "a FilterOperator has only operator and conditions")
        if flt["operator"] not in ("AND", "OR", "NOT"):
            raise MethodErr("invalidArguments", "operator must be AND, OR or NOT")
        conds = flt.get("conditions")
        if not isinstance(conds, list):
            raise MethodErr("invalidArguments", "conditions must be an array")
        for c in conds:
            _check_filter(dt, ctx, c, depth + 1)
    else:
        dt.check_condition(ctx, flt)


def _matches(dt: DataType, ctx: Ctx, obj: dict[str, Any], flt: dict[str, Any]) -> bool:
    if "operator" in flt:
        conds = flt["conditions"]
        op = flt["operator"]
        if op == "AND":
            return all(_matches(dt, ctx, obj, c) for c in conds)
        if op == "OR":
            return any(_matches(dt, ctx, obj, c) for c in conds)
        return not any(_matches(dt, ctx, obj, c) for c in conds)
    return dt.match(ctx, obj, flt)


def _sort_spec(
    dt: DataType, ctx: Ctx, sort: Any, flt: dict[str, Any] | None
) -> list[tuple[str, bool, str]]:
    if sort is None or sort == []:
        return [(p, asc, "i;unicode-casemap") for p, asc in dt.effective_default_sort(ctx, flt)]
    if not isinstance(sort, list):
        raise MethodErr("invalidArguments", "sort must be an array")
    out: list[tuple[str, bool, str]] = []
    for comp in sort:
        if not isinstance(comp, dict):
            raise MethodErr("invalidArguments", "a Comparator must be an object")
        comp = check_args(
            comp, {"property": "str", "isAscending": "bool", "collation": "str"}, ("property",)
        )
        prop = comp["property"]
        if prop not in dt.sort_props:
            raise MethodErr("unsupportedSort", f"cannot sort on {prop!r}")
        coll = comp.get("collation", "i;unicode-casemap")
        if coll not in COLLATIONS:
            raise MethodErr("unsupportedSort", f"unsupported collation {coll!r}")
        out.append((prop, comp.get("isAscending", True), coll))
    return out


def _ascii_numeric(value: str) -> tuple[int, int, str]:
    """RFC 4790 i;ascii-numeric: the number in the string's leading ASCII digits, compared
    without int() (any length), and +infinity when there is none."""
    end = 0
    while end < len(value) and "0" <= value[end] <= "9":
        end += 1
    if end == 0:
        return (1, 0, "")
    digits = value[:end].lstrip("0")
    return (0, len(digits), digits)


def _collate(value: Any, coll: str) -> Any:
    if isinstance(value, str):
        if coll == "i;unicode-casemap":
            return value.casefold()
        if coll == "i;ascii-casemap":
            return value.lower()
        if coll == "i;ascii-numeric":
            return _ascii_numeric(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _sorted(
    dt: DataType, ctx: Ctx, objs: list[dict[str, Any]], spec: list[tuple[str, bool, str]]
) -> list[dict[str, Any]]:
    keyed = [
        ([_collate(dt.sort_value(ctx, o, p), c) for p, _, c in spec], o["id"], o) for o in objs
    ]

    def cmp(a: tuple[list[Any], str, Any], b: tuple[list[Any], str, Any]) -> int:
        for (va, vb), (_, asc, _) in zip(zip(a[0], b[0], strict=True), spec, strict=True):
            if va == vb:
                continue
            if va is None:
                return 1
            if vb is None:
                return -1
            try:
                less = va < vb
            except TypeError:
                less = str(va) < str(vb)
            r = -1 if less else 1
            return r if asc else -r
        return (a[1] > b[1]) - (a[1] < b[1])

    keyed.sort(key=functools.cmp_to_key(cmp))
    return [k[2] for k in keyed]


def run_query(dt: DataType, ctx: Ctx, flt: dict[str, Any] | None, sort: Any) -> list[str]:
    if flt is not None:
        _check_filter(dt, ctx, flt)
    spec = _sort_spec(dt, ctx, sort, flt)
    objs = dt.query_candidates(ctx, flt)
    if flt is not None:
        objs = [o for o in objs if _matches(dt, ctx, o, flt)]
    return [o["id"] for o in _sorted(dt, ctx, objs, spec)]


_QUERY_ARGS = {
    "accountId": "str",
    "filter": "obj?",
    "sort": "list?",
    "position": "int",
    "anchor": "str?",
    "anchorOffset": "int",
    "limit": "uint?",
    "calculateTotal": "bool",
}


def std_query(dt: DataType, ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(args, _QUERY_ARGS)
    account_arg(ctx, args)
    flt = args.get("filter")
    if flt is not None:
        _check_filter(dt, ctx, flt)
    page = None
    if args.get("anchor") is None:
        page = dt.query_page(
            ctx,
            flt,
            _sort_spec(dt, ctx, args.get("sort"), flt),
            args.get("position", 0),
            args.get("limit"),
        )
    if page is not None:
        window, start, total = page
        out: dict[str, Any] = {
            "accountId": ctx.account_id,
            "queryState": state_of(ctx, dt),
            "canCalculateChanges": True,
            "position": start,
            "ids": window,
        }
        if args.get("calculateTotal"):
            out["total"] = total
        if args.get("limit") is not None:
            out["limit"] = args["limit"]
        return out
    ids = run_query(dt, ctx, flt, args.get("sort"))
    total = len(ids)
    anchor = args.get("anchor")
    if anchor is not None:
        anchor = ctx.ref(anchor)
        try:
            idx = ids.index(anchor)
        except ValueError:
            raise MethodErr("anchorNotFound", "anchor is not in the results") from None
        start = max(0, idx + args.get("anchorOffset", 0))
    else:
        pos = args.get("position", 0)
        start = max(0, total + pos) if pos < 0 else pos
    limit = args.get("limit")
    window = ids[start:] if limit is None else ids[start : start + limit]
    out = {
        "accountId": ctx.account_id,
        "queryState": state_of(ctx, dt),
        "canCalculateChanges": True,
        "position": min(start, total) if window else start,
        "ids": window,
    }
    if args.get("calculateTotal"):
        out["total"] = total
    if limit is not None:
        out["limit"] = limit
    return out


QUERY_CHANGES_ARGS = {
    "accountId": "str",
    "filter": "obj?",
    "sort": "list?",
    "sinceQueryState": "str",
    "maxChanges": "uint?",
    "upToId": "str?",
    "calculateTotal": "bool",
}


def std_query_changes(dt: DataType, ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(args, QUERY_CHANGES_ARGS, ("sinceQueryState",))
    account_arg(ctx, args)
    since = parse_state(args["sinceQueryState"])
    current = ctx.store.modseq(ctx.account_id, dt.name)
    if since is None or since > current or since < changes_floor(ctx, dt):
        raise MethodErr("cannotCalculateChanges", "unknown sinceQueryState")
    ids = run_query(dt, ctx, args.get("filter"), args.get("sort"))
    changed: dict[str, int] = {}
    for _, oid, kind in ctx.store.changes_since(ctx.account_id, dt.name, since):
        changed[oid] = kind
    max_changes = args.get("maxChanges")
    if max_changes is not None and len(changed) > max_changes:
        raise MethodErr("tooManyChanges", f"more than {max_changes} changes")
    # every changed id may have left the results (RFC 8620 allows extra ids here)
    removed = list(changed)
    added = [{"id": oid, "index": i} for i, oid in enumerate(ids) if oid in changed]
    out: dict[str, Any] = {
        "accountId": ctx.account_id,
        "oldQueryState": str(since),
        "newQueryState": str(current),
        "removed": removed,
        "added": added,
    }
    if args.get("calculateTotal"):
        out["total"] = len(ids)
    return out
