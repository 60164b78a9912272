"""The mirror's protocol logic, sans-IO: generator flows that yield `Request`\\ s to send.

A flow builds a request, yields it, and reads the call handles once the driver has sent
it (``client.send(req)`` binds them); it returns when the mirror is current. `AsyncMirror`
and `Mirror` are two short drivers of the same flows, so the async and blocking mirrors
cannot drift apart.

A sync step is one request: per type ``T/changes(sinceState, maxChanges)`` then
``T/get(#created)`` and ``T/get(#updated)`` by back-reference, and per ordered view a
``Message/queryChanges``. ``maxChanges`` never exceeds ``maxObjectsInGet``, so the two
``/get`` calls are bounded and the executor keeps the step in one envelope (as long as
``maxCallsInRequest`` allows).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jmapchat import Request
from jmapchat._core import (
    NOT_GIVEN,
    CannotCalculateChanges,
    ChangesCall,
    GetCall,
    JMAPModel,
    QueryCall,
    QueryChangesCall,
    RemoteProtocolError,
    TooManyChanges,
)
from jmapchat.models import Message, MessageFilter

from ._store import MirrorStore, TypeWrite, ViewWrite
from ._types import Diff, DiffBuilder, MirrorError, TypeSpec

__all__ = ["Flow", "MirrorCore", "OrderedView"]

Flow = Generator[Request, None, Any]


class OrderedView:
    """The messages of one chat in the server's order (``Message/query``), kept current
    by ``Message/queryChanges``: ``removed`` ids are taken out, ``added`` spliced in at
    their index. Iterating gives the `Message` objects from the mirror."""

    def __init__(self, chat_id: str, store: MirrorStore) -> None:
        self.chat_id = chat_id
        self.query_state: str | None = None
        self._ids: list[str] = []
        self._store = store

    def __repr__(self) -> str:
        return f"<OrderedView chat={self.chat_id!r} {len(self._ids)} message(s)>"

    @property
    def ids(self) -> list[str]:
        """The message ids, oldest first (a copy)."""
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[Message]:
        for oid in self._ids:
            obj = self._store.get("Message", oid)
            if isinstance(obj, Message):
                yield obj

    def __getitem__(self, index: int) -> Message:
        obj = self._store.get("Message", self._ids[index])
        if not isinstance(obj, Message):
            raise MirrorError(f"message {self._ids[index]!r} is not in the mirror yet")
        return obj

    def _set(self, write: ViewWrite) -> None:
        self._ids = list(write.ids)
        self.query_state = write.state

    def _spliced(self, removed: Sequence[str], added: Sequence[Any], state: str) -> ViewWrite:
        """The view after a ``/queryChanges``: ``removed`` out, ``added`` in at their index."""
        gone = set(removed)
        ids = [i for i in self._ids if i not in gone]
        for item in sorted(added, key=lambda a: a.index):
            ids.insert(item.index, item.id)
        return ViewWrite(self.chat_id, state, ids)


@dataclass
class _Page:
    """The first page of a type (or of one chat's messages) during a full load."""

    type: str
    filter: Any
    query: QueryCall
    get: GetCall[Any]


class _Step:
    """The calls of one step, to read back once it has been sent."""

    def __init__(self) -> None:
        self.types: dict[str, tuple[ChangesCall, GetCall[Any], GetCall[Any]]] = {}
        self.view_changes: dict[str, QueryChangesCall] = {}
        self.view_queries: dict[str, QueryCall] = {}


class MirrorCore:
    """Everything a mirror knows, minus I/O: types, store, views, limits."""

    def __init__(
        self,
        *,
        specs: Sequence[TypeSpec],
        store: MirrorStore,
        new_request: Callable[[], Request],
        properties: Mapping[str, Sequence[str]],
        max_objects_in_get: int,
        max_changes: int | None,
        view_max_changes: int,
    ) -> None:
        self.specs = {s.name: s for s in specs}
        self.store = store
        self.new_request = new_request
        self.properties = properties
        self.max_get = max_objects_in_get
        self.max_changes = min(max_changes or max_objects_in_get, max_objects_in_get)
        self.view_max_changes = view_max_changes
        self.views: dict[str, OrderedView] = {}

    # --- helpers -----------------------------------------------------------------------

    def _props(self, type: str) -> Any:
        props = self.properties.get(type)
        if props is None:
            return NOT_GIVEN
        return ["id", *(p for p in props if p != "id")]

    def _ns(self, req: Request, type: str) -> Any:
        return getattr(req, self.specs[type].namespace)

    def unloaded(self) -> list[str]:
        return [t for t in self.specs if self.store.state(t) is None]

    # --- flows -------------------------------------------------------------------------

    def sync_flow(self, request: Request | None = None) -> Generator[Request, None, Diff]:
        """Catch up: steps until no type has more changes (``request`` rides the first)."""
        b = DiffBuilder()
        missing = self.unloaded()
        if missing:
            yield from self.load_flow(missing, b)
        pending = [t for t in self.specs if t not in missing]
        first = True
        while first or pending:
            req = request if first and request is not None else self.new_request()
            step = self._add_step(req, pending, views=first)
            if not req.calls:
                break  # just loaded, nothing to catch up
            yield req
            more, reload, requery = self._absorb_step(step, b)
            first = False
            if reload:
                yield from self.load_flow(reload, b, reloading=True)
                if "Message" in reload:
                    requery = list(self.views)
            if requery:
                yield from self._requery_flow(requery, b)
            pending = [t for t in more if t not in reload]
        return b.build()

    def load_flow(
        self, types: Sequence[str], b: DiffBuilder, *, reloading: bool = False
    ) -> Generator[Request, None, None]:
        """Fetch every object of ``types`` in as few requests as the limits allow.

        Each type's state is read *before* its objects (a ``/get`` of no ids first in
        the request), so whatever changes meanwhile is reported by the next ``/changes``.
        A queryable type comes as ``/query`` (the first ``maxObjectsInGet`` ids, with the
        total) + ``/get`` by reference, which the executor keeps in one envelope; one
        with more objects is queried in full and the rest fetched by id. Messages are
        found through the chats: the same pair per chat, in the second request.
        """
        req = self.new_request()
        probes: dict[str, GetCall[Any]] = {}
        gets: dict[str, GetCall[Any]] = {}
        pages: list[_Page] = []
        chat_query: QueryCall | None = None
        for t in types:  # every state first: before any object is read
            if self.specs[t].queryable:
                probes[t] = self._ns(req, t).get(ids=[], properties=["id"])
        for t in types:
            if not self.specs[t].queryable:
                gets[t] = self._ns(req, t).get(ids=None, properties=self._props(t))
            elif t != "Message":
                pages.append(self._page(req, t, NOT_GIVEN))
        if "Message" in types and "Chat" not in types:
            chat_query = req.chat.query()
        yield req

        states = {t: (probes[t] if t in probes else gets[t]).result.state for t in types}
        found: dict[str, dict[str, JMAPModel]] = {t: {} for t in types}
        for t, g in gets.items():
            found[t].update((o.id, o) for o in g.result.list)
        big = self._absorb_pages(pages, found)
        if "Message" in types:
            chat_ids = chat_query.result.ids if chat_query is not None else list(found["Chat"])
            if chat_ids:
                req = self.new_request()
                pages = [self._page(req, "Message", MessageFilter(chat_id=c)) for c in chat_ids]
                yield req
                big += self._absorb_pages(pages, found)
        if big:
            req = self.new_request()
            full = [(t, self._ns(req, t).query(filter=flt)) for t, flt in big]
            yield req
            rest: dict[str, list[str]] = {}
            for t, q in full:
                rest.setdefault(t, []).extend(i for i in q.result.ids if i not in found[t])
            rest = {t: ids for t, ids in rest.items() if ids}
            if rest:
                req = self.new_request()
                more = {
                    t: self._ns(req, t).get(ids=ids, properties=self._props(t))
                    for t, ids in rest.items()
                }
                yield req
                for t, g in more.items():
                    found[t].update((o.id, o) for o in g.result.list)
        writes = [TypeWrite(t, state=states[t], put=found[t], replace=True) for t in types]
        for w in writes:
            old = self.store.get_many(w.type, self.store.ids(w.type))
            for oid in {*old, *w.put}:
                b.touch(w.type, oid, old.get(oid), w.put.get(oid))
        self.store.write(writes)
        if reloading:
            b.reloaded.update(types)

    def _page(self, req: Request, t: str, flt: Any) -> _Page:
        ns = self._ns(req, t)
        q = ns.query(filter=flt, limit=self.max_get, calculate_total=True)
        return _Page(t, flt, q, ns.get(ids=q.ids, properties=self._props(t)))

    @staticmethod
    def _absorb_pages(
        pages: Sequence[_Page], found: dict[str, dict[str, JMAPModel]]
    ) -> list[tuple[str, Any]]:
        """Keep the objects of first pages; return the (type, filter)s that have more."""
        big: list[tuple[str, Any]] = []
        for p in pages:
            found[p.type].update((o.id, o) for o in p.get.result.list)
            result = p.query.result
            if result.total is None or result.total > len(result.ids):
                big.append((p.type, p.filter))
        return big

    def _add_step(self, req: Request, types: Sequence[str], *, views: bool) -> _Step:
        step = _Step()
        for t in types:
            state = self.store.state(t)
            assert state is not None
            ns = self._ns(req, t)
            ch = ns.changes(since_state=state, max_changes=self.max_changes)
            props = self._props(t)
            step.types[t] = (
                ch,
                ns.get(ids=ch.created, properties=props),
                ns.get(ids=ch.updated, properties=props),
            )
        if views:
            for cid, view in self.views.items():
                flt = MessageFilter(chat_id=cid)
                if view.query_state is None:
                    step.view_queries[cid] = req.message.query(filter=flt)
                else:
                    step.view_changes[cid] = req.message.query_changes(
                        since_query_state=view.query_state,
                        filter=flt,
                        max_changes=self.view_max_changes,
                    )
        return step

    def _absorb_step(self, step: _Step, b: DiffBuilder) -> tuple[list[str], list[str], list[str]]:
        """Write what a step brought; returns (types with more, to reload, views to redo)."""
        more: list[str] = []
        reload: list[str] = []
        writes: list[TypeWrite] = []
        for t, (ch, got_created, got_updated) in step.types.items():
            error = ch.error
            if isinstance(error, CannotCalculateChanges):
                reload.append(t)
                continue
            if error is not None:
                raise error
            changes = ch.result
            fetched = [*got_created.result.list, *got_updated.result.list]
            put = {o.id: o for o in fetched}
            gone = [*changes.destroyed, *got_created.result.not_found]
            gone += got_updated.result.not_found
            delete = [i for i in dict.fromkeys(gone) if i not in put]
            if changes.has_more_changes:
                if changes.new_state == changes.old_state:
                    raise RemoteProtocolError(
                        f"{t}/changes: hasMoreChanges but the state did not move "
                        f"({changes.new_state!r})"
                    )
                more.append(t)
            old = self.store.get_many(t, [*put, *delete])
            for oid, obj in put.items():
                b.touch(t, oid, old.get(oid), obj)
            for oid in delete:
                b.touch(t, oid, old.get(oid), None)
            writes.append(TypeWrite(t, state=changes.new_state, put=put, delete=delete))
        views: list[ViewWrite] = []
        requery: list[str] = []
        for cid, qc in step.view_changes.items():
            error = qc.error
            if isinstance(error, TooManyChanges | CannotCalculateChanges):
                requery.append(cid)
                continue
            if error is not None:
                raise error
            r = qc.result
            views.append(self.views[cid]._spliced(r.removed, r.added, r.new_query_state))
        for cid, q in step.view_queries.items():
            views.append(ViewWrite(cid, q.result.query_state, q.result.ids))
        self.store.write(writes, views)  # objects, states and views: one transaction
        for v in views:
            self.views[v.chat_id]._set(v)
        b.steps += 1
        return more, reload, requery

    def _requery_flow(self, chat_ids: Sequence[str], b: DiffBuilder) -> Flow:
        req = self.new_request()
        queries = {cid: req.message.query(filter=MessageFilter(chat_id=cid)) for cid in chat_ids}
        yield req
        views = [ViewWrite(cid, q.result.query_state, q.result.ids) for cid, q in queries.items()]
        self.store.write([], views)
        for v in views:
            self.views[v.chat_id]._set(v)
            b.requeried.add(v.chat_id)
