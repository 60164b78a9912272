"""Generic RFC 8620 standard methods (/get, /changes, /set; /query and /queryChanges are
`_query`).

Each data type is a `DataType` subclass with small hooks (visibility, presentation,
create/update/destroy, filter conditions, sort values); the functions here implement
the protocol once for all of them on top of the store's change log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ._bounds import check_object
from ._core_caps import CHAT
from ._store import CREATED, DESTROYED, GLOBAL
from ._util import CHECKS, MethodErr, SetErr, check_args

if TYPE_CHECKING:
    from ._context import Ctx
    from ._query import SqlPlan

__all__ = [
    "DataType",
    "account_arg",
    "changes_floor",
    "parse_state",
    "state_of",
    "std_changes",
    "std_get",
    "std_set",
]


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

    def index_keys(self, obj: dict[str, Any]) -> tuple[float | None, float | None, str | None]:
        """Keys stored in the indexed ``k3``, ``k4`` (numeric sort keys) and ``k5`` (a
        filter key) columns under ``k1``; None: not indexed."""
        return None, None, None

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

    def query_plan(
        self, ctx: Ctx, flt: dict[str, Any] | None, spec: list[tuple[str, bool, str]]
    ) -> SqlPlan | None:
        """How SQLite can answer this /query (`_query.SqlPlan`), or None to load and sort
        every candidate in Python instead. ``flt`` and ``spec`` are already validated."""
        return None

    def effective_default_sort(
        self, ctx: Ctx, flt: dict[str, Any] | None
    ) -> list[tuple[str, bool]]:
        return self.default_sort


# --- helpers ----------------------------------------------------------------------------


def account_arg(ctx: Ctx, args: dict[str, Any]) -> None:
    acc = args.get("accountId", ctx.account_id)
    if not isinstance(acc, str):
        raise MethodErr("invalidArguments", "accountId must be a string")
    if acc != ctx.account_id:
        raise MethodErr("accountNotFound", "no such account")


def state_of(ctx: Ctx, dt: DataType) -> str:
    return str(ctx.store.modseq(ctx.account_id, dt.name))


def changes_floor(ctx: Ctx, dt: DataType) -> int:
    """States older than this were forgotten (`ChatServer.forget_changes`)."""
    return ctx.store.changes_floor(ctx.account_id, dt.name)


def std_get(dt: DataType, ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(args, {"accountId": "str", "ids": "strs?", "properties": "strs?"})
    account_arg(ctx, args)
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
    account_arg(ctx, args)
    since = parse_state(args["sinceState"])
    current = ctx.store.modseq(ctx.account_id, dt.name)
    if since is None or since > current or since < changes_floor(ctx, dt):
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
    account_arg(ctx, args)
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
