"""Generic RFC 8620 standard methods (/get, /changes, /set, /query, /queryChanges).

Each data type is a `DataType` subclass with small hooks (visibility, presentation,
create/update/destroy, filter conditions, sort values); the functions here implement
the protocol once for all of them on top of the store's change log.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from .._core._capabilities import CHAT
from ._bounds import check_object
from ._store import CREATED, DESTROYED, GLOBAL
from ._util import CHECKS, MethodErr, SetErr, check_args

if TYPE_CHECKING:
    from ._engine import Ctx

__all__ = [
    "COLLATIONS",
    "QUERY_CHANGES_ARGS",
    "DataType",
    "parse_state",
    "register_standard",
    "run_query",
    "state_of",
    "std_get",
    "std_query",
    "std_set",
]

COLLATIONS = ("i;unicode-casemap", "i;ascii-casemap", "i;octet", "i;ascii-numeric")


def parse_state(state: object) -> int | None:
    """A state string's modseq, or None (ASCII digits only: ``"²".isdigit()`` is True)."""
    if not isinstance(state, str) or not state.isascii() or not state.isdigit() or len(state) > 18:
        return None
    return int(state)


class DataType:
    """Per-type hooks. Override what differs; the defaults fit simple per-account types."""

    name: ClassVar[str] = ""
    capability: ClassVar[str] = CHAT
    scope_global: ClassVar[bool] = False
    properties: ClassVar[tuple[str, ...]] = ("id",)
    filter_spec: ClassVar[dict[str, str]] = {}
    sort_props: ClassVar[frozenset[str]] = frozenset()
    default_sort: ClassVar[list[tuple[str, bool]]] = []
    methods: ClassVar[tuple[str, ...]] = ("get", "changes", "set", "query", "queryChanges")
    create_forbidden: ClassVar[bool] = False
    update_forbidden: ClassVar[bool] = False
    destroy_forbidden: ClassVar[bool] = False

    # --- storage keys -----------------------------------------------------------------

    def keys(self, obj: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
        return None, None, None

    def sort_key(self, obj: dict[str, Any]) -> float | None:
        """A numeric key stored in the indexed ``k3`` column (None: not indexed)."""
        return None

    def scope(self, ctx: Ctx) -> str:
        return GLOBAL if self.scope_global else ctx.account_id

    # --- reading ------------------------------------------------------------------------

    def load(self, ctx: Ctx, ids: list[str]) -> dict[str, dict[str, Any]]:
        found = ctx.store.get_many(self.scope(ctx), self.name, ids)
        return {i: o for i, o in found.items() if self.visible(ctx, o)}

    def load_one(self, ctx: Ctx, id: str) -> dict[str, Any] | None:
        return self.load(ctx, [id]).get(id)

    def all_visible(self, ctx: Ctx) -> list[dict[str, Any]]:
        return [o for o in ctx.store.all(self.scope(ctx), self.name) if self.visible(ctx, o)]

    def count_visible(self, ctx: Ctx) -> int:
        if not self.scope_global:
            return ctx.store.count(ctx.account_id, self.name)
        return len(self.all_visible(ctx))

    def visible(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        return True

    def present(self, ctx: Ctx, obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    # --- writing ------------------------------------------------------------------------

    def create(self, ctx: Ctx, cid: str, data: dict[str, Any]) -> dict[str, Any]:
        raise SetErr("forbidden", f"{self.name} objects cannot be created")

    def update(self, ctx: Ctx, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        raise SetErr("forbidden", f"{self.name} objects cannot be updated")

    def destroy(self, ctx: Ctx, obj: dict[str, Any]) -> None:
        raise SetErr("forbidden", f"{self.name} objects cannot be destroyed")

    def finish_set(self, ctx: Ctx) -> None:
        """Called once after all creates/updates/destroys of one /set (coalesced work)."""

    # --- query --------------------------------------------------------------------------

    def query_candidates(self, ctx: Ctx, flt: dict[str, Any] | None) -> list[dict[str, Any]]:
        return self.all_visible(ctx)

    def check_condition(self, ctx: Ctx, cond: dict[str, Any]) -> None:
        for key, value in cond.items():
            kind = self.filter_spec.get(key)
            if kind is None:
                raise MethodErr("unsupportedFilter", f"unsupported filter property {key!r}")
            if not CHECKS[kind](value):
                raise MethodErr("invalidArguments", f"filter property {key!r} has the wrong type")

    def match(self, ctx: Ctx, obj: dict[str, Any], cond: dict[str, Any]) -> bool:
        return all(obj.get(key) == value for key, value in cond.items())

    def sort_value(self, ctx: Ctx, obj: dict[str, Any], prop: str) -> Any:
        return obj.get(prop)

    def query_page(
        self,
        ctx: Ctx,
        flt: dict[str, Any] | None,
        spec: list[tuple[str, bool, str]],
        position: int,
        limit: int | None,
    ) -> tuple[list[str], int, int] | None:
        """An index-backed /query page: (ids, start, total), or None to load and sort
        every candidate instead. ``flt`` and ``spec`` are already validated."""
        return None

    def effective_default_sort(
        self, ctx: Ctx, flt: dict[str, Any] | None
    ) -> list[tuple[str, bool]]:
        return self.default_sort


# --- helpers ----------------------------------------------------------------------------


def _account(ctx: Ctx, args: dict[str, Any]) -> None:
    acc = args.get("accountId", ctx.account_id)
    if not isinstance(acc, str):
        raise MethodErr("invalidArguments", "accountId must be a string")
    if acc != ctx.account_id:
        raise MethodErr("accountNotFound", "no such account")


def state_of(ctx: Ctx, dt: DataType) -> str:
    return str(ctx.store.modseq(ctx.account_id, dt.name))


def _floor(ctx: Ctx, dt: DataType) -> int:
    """States older than this were forgotten (`ChatServer.forget_changes`)."""
    return ctx.store.changes_floor(ctx.account_id, dt.name)


def std_get(dt: DataType, ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(args, {"accountId": "str", "ids": "strs?", "properties": "strs?"})
    _account(ctx, args)
    ids = args.get("ids")
    props = args.get("properties")
    if props is not None:
        unknown = [p for p in props if p not in dt.properties]
        if unknown:
            raise MethodErr("invalidArguments", f"unknown properties: {', '.join(unknown)}")
    limit = ctx.limits.max_objects_in_get
    if ids is None:
        objs = dt.all_visible(ctx)
        if len(objs) > limit:
            raise MethodErr("requestTooLarge", f"more than maxObjectsInGet ({limit}) objects")
        found = {o["id"]: o for o in objs}
        order = [o["id"] for o in objs]
    else:
        if len(ids) > limit:
            raise MethodErr("requestTooLarge", f"more than maxObjectsInGet ({limit}) ids")
        order = [ctx.ref(i) for i in ids]
        found = dt.load(ctx, order)
    lst: list[dict[str, Any]] = []
    not_found: list[str] = []
    seen: set[str] = set()
    for oid in order:
        if oid in seen:
            continue
        seen.add(oid)
        obj = found.get(oid)
        if obj is None:
            not_found.append(oid)
            continue
        out = dt.present(ctx, obj)
        if props is not None:
            out = {k: v for k, v in out.items() if k == "id" or k in props}
        lst.append(out)
    return {
        "accountId": ctx.account_id,
        "state": state_of(ctx, dt),
        "list": lst,
        "notFound": not_found,
    }


def std_changes(dt: DataType, ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(
        args, {"accountId": "str", "sinceState": "str", "maxChanges": "uint?"}, ("sinceState",)
    )
    _account(ctx, args)
    since = parse_state(args["sinceState"])
    current = ctx.store.modseq(ctx.account_id, dt.name)
    if since is None or since > current or since < _floor(ctx, dt):
        raise MethodErr("cannotCalculateChanges", "unknown sinceState")
    max_changes = args.get("maxChanges")
    if max_changes == 0:
        raise MethodErr("invalidArguments", "maxChanges must be positive")
    rows = ctx.store.changes_since(ctx.account_id, dt.name, since)
    kinds: dict[str, list[int]] = {}
    new_state = since
    more = False
    for modseq, oid, kind in rows:
        if oid not in kinds and max_changes is not None and len(kinds) >= max_changes:
            more = True
            break
        kinds.setdefault(oid, []).append(kind)
        new_state = modseq
    if not more:
        new_state = current
    created: list[str] = []
    updated: list[str] = []
    destroyed: list[str] = []
    for oid, ks in kinds.items():
        first, last = ks[0], ks[-1]
        if last == DESTROYED:
            if first != CREATED:
                destroyed.append(oid)
        elif first == CREATED:
            created.append(oid)
        else:
            updated.append(oid)
    return {
        "accountId": ctx.account_id,
        "oldState": str(since),
        "newState": str(new_state),
        "hasMoreChanges": more,
        "created": created,
        "updated": updated,
        "destroyed": destroyed,
    }


def std_set(dt: DataType, ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(
        args,
        {
            "accountId": "str",
            "ifInState": "str?",
            "create": "obj?",
            "update": "obj?",
            "destroy": "strs?",
        },
    )
    _account(ctx, args)
    create = args.get("create") or {}
    update = args.get("update") or {}
    destroy = args.get("destroy") or []
    total = len(create) + len(update) + len(destroy)
    if total > ctx.limits.max_objects_in_set:
        raise MethodErr(
            "requestTooLarge",
            f"more than maxObjectsInSet ({ctx.limits.max_objects_in_set}) objects",
        )
    old_state = state_of(ctx, dt)
    if_in = args.get("ifInState")
    if if_in is not None and if_in != old_state:
        raise MethodErr("stateMismatch", "ifInState does not match the current state")
    created: dict[str, Any] = {}
    not_created: dict[str, Any] = {}
    updated: dict[str, Any] = {}
    not_updated: dict[str, Any] = {}
    destroyed: list[str] = []
    not_destroyed: dict[str, Any] = {}

    for cid, data in create.items():
        try:
            if not isinstance(data, dict):
                raise SetErr("invalidProperties", "a create must be an object")
            if dt.create_forbidden:
                raise SetErr("forbidden", f"{dt.name} objects cannot be created")
            check_object(data)
            with ctx.store.savepoint():
                obj = dt.create(ctx, cid, data)
            if obj.get("_existing"):
                # draft: an existing direct chat is returned in `updated`
                ctx.created_ids[cid] = obj["id"]
                updated[obj["id"]] = None
                continue
            created[cid] = dt.present(ctx, obj)
            ctx.created_ids[cid] = obj["id"]
        except SetErr as exc:
            ctx.cache.clear()
            not_created[cid] = exc.to_json()

    for key, patch in update.items():
        oid = ctx.ref(key)
        try:
            if not isinstance(patch, dict):
                raise SetErr("invalidPatch", "a patch must be an object")
            if dt.update_forbidden:
                raise SetErr("forbidden", f"{dt.name} objects cannot be updated")
            check_object(patch)
            target = dt.load_one(ctx, oid)
            if target is None:
                raise SetErr("notFound", f"no {dt.name} {oid!r}")
            with ctx.store.savepoint():
                updated[oid] = dt.update(ctx, target, patch)
        except SetErr as exc:
            ctx.cache.clear()
            not_updated[oid] = exc.to_json()

    for key in destroy:
        oid = ctx.ref(key)
        try:
            if dt.destroy_forbidden:
                raise SetErr("forbidden", f"{dt.name} objects cannot be destroyed")
            victim = dt.load_one(ctx, oid)
            if victim is None:
                raise SetErr("notFound", f"no {dt.name} {oid!r}")
            with ctx.store.savepoint():
                dt.destroy(ctx, victim)
            destroyed.append(oid)
        except SetErr as exc:
            ctx.cache.clear()
            not_destroyed[oid] = exc.to_json()

    dt.finish_set(ctx)
    return {
        "accountId": ctx.account_id,
        "oldState": old_state,
        "newState": state_of(ctx, dt),
        "created": created or None,
        "updated": updated or None,
        "destroyed": destroyed or None,
        "notCreated": not_created or None,
        "notUpdated": not_updated or None,
        "notDestroyed": not_destroyed or None,
    }


# --- query --------------------------------------------------------------------------------


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
    _account(ctx, args)
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
    _account(ctx, args)
    since = parse_state(args["sinceQueryState"])
    current = ctx.store.modseq(ctx.account_id, dt.name)
    if since is None or since > current or since < _floor(ctx, dt):
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


Handler = Callable[["Ctx", dict[str, Any]], Any]


def register_standard(registry: dict[str, tuple[str, Handler]], dt: DataType) -> None:
    funcs = {
        "get": std_get,
        "changes": std_changes,
        "set": std_set,
        "query": std_query,
        "queryChanges": std_query_changes,
    }
    for m in dt.methods:
        fn = funcs[m]
        registry[f"{dt.name}/{m}"] = (dt.capability, functools.partial(fn, dt))
