"""Generic RFC 8620 /query and /queryChanges: filters (FilterOperator trees over a data
type's conditions), comparators and collations, positions, anchors and totals."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ._config import COLLATIONS
from ._generic import account_arg, changes_floor, parse_state, state_of
from ._util import MethodErr, check_args

if TYPE_CHECKING:
    from ._context import Ctx
    from ._generic import DataType

__all__ = [
    "QUERY_CHANGES_ARGS",
    "SqlPlan",
    "python_reference",
    "run_query",
    "std_query",
    "std_query_changes",
]


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


_use_plans = True


@contextmanager
def python_reference() -> Iterator[None]:
    """Inside: every /query and /queryChanges in this process takes the Python reference
    path, not SQL plans (tests and benchmarks compare the two)."""
    global _use_plans
    before, _use_plans = _use_plans, False
    try:
        yield
    finally:
        _use_plans = before


def _plan(
    dt: DataType, ctx: Ctx, flt: dict[str, Any] | None, spec: list[tuple[str, bool, str]]
) -> SqlPlan | None:
    return dt.query_plan(ctx, flt, spec) if _use_plans else None


def run_query(dt: DataType, ctx: Ctx, flt: dict[str, Any] | None, sort: Any) -> list[str]:
    """Every matching id in order (for /queryChanges): from SQLite when the type has a
    plan for this query, else loaded, filtered and sorted in Python."""
    if flt is not None:
        _check_filter(dt, ctx, flt)
    spec = _sort_spec(dt, ctx, sort, flt)
    plan = _plan(dt, ctx, flt, spec)
    if plan is not None:
        return _plan_scan(ctx, dt, plan, None)
    return _python_query(dt, ctx, flt, spec)


def _python_query(
    dt: DataType, ctx: Ctx, flt: dict[str, Any] | None, spec: list[tuple[str, bool, str]]
) -> list[str]:
    """The reference path: every candidate loaded, filtered and sorted in Python."""
    objs = dt.query_candidates(ctx, flt)
    if flt is not None:
        objs = [o for o in objs if _matches(dt, ctx, o, flt)]
    return [o["id"] for o in _sorted(dt, ctx, objs, spec)]


# --- SQL plans --------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlPlan:
    """A /query SQLite can answer (`DataType.query_plan`), with results identical to the
    Python path's.

    ``where`` is an SQL condition over the ``objects`` columns (scope and type are added)
    that no row outside the results passes; ``residual`` holds the filter conditions it
    only narrows down, checked in Python on the row's ``fields`` (JSON properties; ``id``
    always). The order is ``key`` (an indexed numeric column) then ``id``, both in one
    direction, or ``id`` alone when ``key`` is None. ``counter``: the k1 whose kept count
    (`Store.count_sorted`) is the total, when ``where`` is exactly ``k1 = ?``.
    """

    where: str
    params: tuple[Any, ...]
    key: str | None
    ascending: bool
    residual: tuple[dict[str, Any], ...] = ()
    fields: tuple[str, ...] = ()
    counter: str | None = None


def _plan_sql(
    ctx: Ctx, dt: DataType, plan: SqlPlan, what: str, *, ordered: bool = True
) -> tuple[str, list[Any]]:
    """``SELECT what`` over the plan's rows; ``ordered``: name the order key's partial
    index (a type with a plan stores that key on every object, so it drops no row)."""
    sql = f"SELECT {what} FROM objects WHERE scope=? AND type=? AND ({plan.where})"
    if ordered and plan.key is not None:
        sql += f" AND {plan.key} IS NOT NULL"
    return sql, [ctx.account_id, dt.name, *plan.params]


def _order(plan: SqlPlan, ascending: bool) -> str:
    d = "ASC" if ascending else "DESC"
    return f" ORDER BY id {d}" if plan.key is None else f" ORDER BY {plan.key} {d}, id {d}"


def _plan_count(ctx: Ctx, dt: DataType, plan: SqlPlan) -> int:
    if plan.counter is not None:
        return ctx.store.count_sorted(ctx.account_id, dt.name, plan.counter)
    sql, params = _plan_sql(ctx, dt, plan, "COUNT(*)", ordered=False)
    return int(ctx.store.execute(sql, params).fetchone()[0])


def _plan_window(
    ctx: Ctx, dt: DataType, plan: SqlPlan, start: int, end: int, total: int | None
) -> list[str]:
    """Ids ``start``..``end`` of a plan without residual, from the index: walked from the
    nearer end when the total is known, so the OFFSET SQLite skips stays small."""
    sql, params = _plan_sql(ctx, dt, plan, "id")
    if total is not None and start > total - end:
        rows = ctx.store.execute(
            sql + _order(plan, not plan.ascending) + " LIMIT ? OFFSET ?",
            (*params, end - start, total - end),
        ).fetchall()
        return [str(r[0]) for r in reversed(rows)]
    rows = ctx.store.execute(
        sql + _order(plan, plan.ascending) + " LIMIT ? OFFSET ?", (*params, end - start, start)
    ).fetchall()
    return [str(r[0]) for r in rows]


def _plan_rank(ctx: Ctx, dt: DataType, plan: SqlPlan, anchor: str) -> tuple[int, Any] | None:
    """The anchor's index in a plan without residual and its order key (None: not in
    the results). The index is a COUNT of the rows before it (from the order index)."""
    sql, params = _plan_sql(ctx, dt, plan, plan.key or "id")
    row = ctx.store.execute(sql + " AND id=?", (*params, anchor)).fetchone()
    if row is None:
        return None
    sql, params = _plan_sql(ctx, dt, plan, "COUNT(*)")
    cond, cond_params = _beside(plan, row[0], anchor, before=True)
    count = ctx.store.execute(sql + cond, (*params, *cond_params)).fetchone()[0]
    return int(count), row[0]


def _beside(plan: SqlPlan, key: Any, anchor: str, *, before: bool) -> tuple[str, list[Any]]:
    """The SQL condition "sorts before the anchor" (or "is the anchor or after it")."""
    op = ("<" if plan.ascending else ">") if before else (">=" if plan.ascending else "<=")
    if plan.key is None:
        return f" AND id {op} ?", [anchor]
    return f" AND ({plan.key}, id) {op} (?, ?)", [key, anchor]


def _anchored_window(
    ctx: Ctx, dt: DataType, plan: SqlPlan, anchor: tuple[str, Any, int], start: int, end: int
) -> list[str]:
    """Ids ``start``..``end`` around an anchor at index ``idx``, read from the anchor's
    place in the index outwards (no OFFSET over the rows before it)."""
    aid, key, idx = anchor
    sql, params = _plan_sql(ctx, dt, plan, "id")
    out: list[str] = []
    if start < idx:
        cond, extra = _beside(plan, key, aid, before=True)
        stop = min(idx, end)
        rows = ctx.store.execute(
            sql + cond + _order(plan, not plan.ascending) + " LIMIT ? OFFSET ?",
            (*params, *extra, stop - start, idx - stop),
        ).fetchall()
        out = [str(r[0]) for r in reversed(rows)]
    if end > idx:
        cond, extra = _beside(plan, key, aid, before=False)
        skip = max(0, start - idx)
        rows = ctx.store.execute(
            sql + cond + _order(plan, plan.ascending) + " LIMIT ? OFFSET ?",
            (*params, *extra, end - max(start, idx), skip),
        ).fetchall()
        out += [str(r[0]) for r in rows]
    return out


def _plan_scan(ctx: Ctx, dt: DataType, plan: SqlPlan, stop_after: int | None) -> list[str]:
    """Every result id of a plan in order (only the first ``stop_after`` when given), the
    residual conditions checked in Python on the rows SQL lets through."""
    if stop_after is not None and stop_after <= 0:
        return []
    if not plan.residual:
        sql, params = _plan_sql(ctx, dt, plan, "id")
        sql += _order(plan, plan.ascending)
        if stop_after is not None:
            sql += " LIMIT ?"
            params.append(stop_after)
        return [str(r[0]) for r in ctx.store.execute(sql, params).fetchall()]
    fields = tuple(dict.fromkeys(("id", "chatId", *plan.fields)))
    paths = ", ".join(f"'$.{f}'" for f in fields)  # 2+ paths: one JSON array per row
    sql, params = _plan_sql(ctx, dt, plan, f"id, json_extract(data, {paths})")
    sql += _order(plan, plan.ascending)
    out: list[str] = []
    with ctx.store.lock:
        cur = ctx.store.execute(sql, params)
        while rows := cur.fetchmany(512):
            for oid, raw in rows:
                values = orjson.loads(raw)
                # a stored null reads as absent: the Python path's .get() sees None either way
                obj = {f: v for f, v in zip(fields, values, strict=True) if v is not None}
                if all(_matches(dt, ctx, obj, c) for c in plan.residual):
                    out.append(str(oid))
                    if stop_after is not None and len(out) >= stop_after:
                        return out
    return out


def _start(total: int | None, position: int) -> int:
    """Where a ``position`` starts (a negative one counts from the end: needs the total)."""
    return position if position >= 0 else max(0, (total or 0) + position)


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


def _page(
    dt: DataType, ctx: Ctx, flt: dict[str, Any] | None, args: dict[str, Any]
) -> tuple[list[str], int, int | None]:
    """(ids of the window, its start, the total or None when neither asked nor needed)."""
    spec = _sort_spec(dt, ctx, args.get("sort"), flt)
    want_total = bool(args.get("calculateTotal"))
    limit = args.get("limit")
    position = args.get("position", 0)
    anchor = args.get("anchor")
    if anchor is not None:
        anchor = ctx.ref(anchor)
    plan = _plan(dt, ctx, flt, spec)
    if plan is not None and not plan.residual:
        total = None
        if want_total or limit is None or (anchor is None and position < 0):
            total = _plan_count(ctx, dt, plan)
        ranked = None
        if anchor is not None:
            ranked = _plan_rank(ctx, dt, plan, anchor)
            if ranked is None:
                raise MethodErr("anchorNotFound", "anchor is not in the results")
            start = max(0, ranked[0] + args.get("anchorOffset", 0))
        else:
            start = _start(total, position)
        end = (total or 0) if limit is None else start + limit
        if total is not None:
            end = min(end, total)
        if end <= start:
            return [], start, total
        if anchor is not None and ranked is not None:
            idx, key = ranked
            return _anchored_window(ctx, dt, plan, (anchor, key, idx), start, end), start, total
        return _plan_window(ctx, dt, plan, start, end, total), start, total
    if plan is not None:
        early = anchor is None and position >= 0 and limit is not None and not want_total
        ids = _plan_scan(ctx, dt, plan, position + limit if early else None)
        if early:
            return ids[position:], position, None
    else:
        ids = _python_query(dt, ctx, flt, spec)
    total = len(ids)
    if anchor is not None:
        try:
            idx = ids.index(anchor)
        except ValueError:
            raise MethodErr("anchorNotFound", "anchor is not in the results") from None
        start = max(0, idx + args.get("anchorOffset", 0))
    else:
        start = _start(total, position)
    window = ids[start:] if limit is None else ids[start : start + limit]
    return window, start, total


def std_query(dt: DataType, ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(args, _QUERY_ARGS)
    account_arg(ctx, args)
    flt = args.get("filter")
    if flt is not None:
        _check_filter(dt, ctx, flt)
    window, start, total = _page(dt, ctx, flt, args)
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
