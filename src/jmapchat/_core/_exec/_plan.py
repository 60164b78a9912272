"""The split planner: one `Request` → as many envelopes as the server's limits need.

Pure and sans-IO. `Splitter` is a small state machine driven by the executor flow in
`_flows`: ``next_envelope()`` packs the next envelope, ``absorb(envelope, body)`` (the
reply side, `_absorb`) takes the server's reply to it, and ``response()`` gives the final
`Response`. Rules (DESIGN §3):

- **Order**: pieces leave in the order the calls were added; nothing is reordered. A split
  only ever happens *between* calls (or between chunks of one call).
- **maxCallsInRequest**: an envelope holds at most that many invocations.
- **maxObjectsInSet / maxObjectsInGet**: a ``/set`` (create + update + destroy) or a ``/get``
  (``ids``) over the limit is cut into chunks, sent as consecutive invocations (several
  may share an envelope), and their results are merged back into the one `Call`. A
  ``/set`` with ``ifInState`` is never chunked (that would break its atomicity): it is
  refused with `LocalProtocolError` before any I/O.
- **References**: a reference whose source is in the same envelope (and not chunked) is
  left to the server. One whose source landed in an earlier envelope (or was chunked) is
  resolved here, with the same pointer code as the server (`_resolve`), and sent as a
  value. If it cannot be resolved, the call gets the ``invalidResultReference`` error the
  server would have given, and later calls still run.
- **Creation ids**: ids created in earlier envelopes are passed in ``createdIds`` to the
  envelopes whose calls use them, so ``#m1`` resolves across a split.
- **Unknown sizes**: a ``/get`` or ``/set`` whose object list comes from a same-envelope
  reference of unbounded size ends its envelope; should the server answer
  ``requestTooLarge`` (which changes nothing), it is re-planned with the reference
  resolved client-side, and chunked.
- **maxSizeRequest**: envelopes are packed by their exact byte size; a chunk too big on its
  own is halved; a single unchunkable call too big on its own raises `LocalProtocolError`.

Merging chunk results: ``/get`` → ``list`` and ``notFound`` concatenated, ``state`` of the
*first* chunk (the oldest, so ``/changes`` from it misses nothing). ``/set`` → maps and
lists merged, ``oldState`` of the first chunk, ``newState`` of the last. If a chunk fails
with a method error, no further chunks of that call are sent; ``call.result`` raises the
error and ``call.extra_responses[0]`` holds the merged result of the chunks that did run.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Collection, Mapping
from typing import Any, Final

from .._call import Call
from .._capabilities import CORE
from .._errors import CapabilityNotSupported, LocalProtocolError
from .._gc import GC_PAUSE_MIN_ITEMS, gc_paused
from .._json import dumps
from .._refs import Ref
from .._request import BaseRequest
from .._resolve import ReferenceResolutionError, resolve_reference
from .._session import CoreCapability
from .._types import CreationRef
from .._wire import iter_nested
from ._absorb import Absorber
from ._envelope import CallState, Envelope, Piece
from ._policy import is_read_only

__all__ = ["Splitter"]

Invocation = tuple[str, dict[str, Any], str]


# --- counting and chunking (pure) ------------------------------------------------------


def _objects(method: str, args: Mapping[str, Any]) -> int | None:
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


def _limit_for(method: str, limits: CoreCapability) -> int | None:
    if method.endswith("/get"):
        return limits.max_objects_in_get
    if method.endswith("/set"):
        return limits.max_objects_in_set
    return None


_COUNTED_ARGS: Final = {"/get": ("ids",), "/set": ("create", "update", "destroy")}


def _counted(method: str) -> tuple[str, ...]:
    for suffix, names in _COUNTED_ARGS.items():
        if method.endswith(suffix):
            return names
    return ()


def _bounded(source: Call[Any], path: str, limit: int) -> bool:
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


def _chunk_args(method: str, args: dict[str, Any], size: int) -> list[tuple[dict[str, Any], int]]:
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


def _invocation(head: bytes, encoded_args: bytes, wire_id: str) -> bytes:
    """``dumps([method, args, wire_id])`` from ``head`` (``[method,``) and encoded args."""
    return head + encoded_args + b"," + dumps(wire_id) + b"]"


@functools.lru_cache(maxsize=64)
def _using_json(using: tuple[str, ...]) -> bytes:
    """``dumps(list(using))``: a handful of distinct lists, encoded once each."""
    return dumps(list(using))


class _Cut:
    """Marker: the call cannot join the envelope being built; start a new one."""


_CUT: Final = _Cut()
_CLIENT_SIDE: Final = "<resolved client-side>"


class Splitter(Absorber):
    """Plans and tracks the envelopes of one request. See the module docstring.

    ``supported`` (the session's capabilities) is checked before anything is sent: a
    call needing a capability the server lacks raises `CapabilityNotSupported`; extra
    ``using`` entries the server lacks are dropped. ``dry_run`` plans without replies
    (for `explain`): references to earlier envelopes are shown as resolved client-side.
    """

    def __init__(
        self,
        request: BaseRequest,
        limits: CoreCapability,
        *,
        supported: Collection[str] | None = None,
        dry_run: bool = False,
    ) -> None:
        if not request.calls:
            raise LocalProtocolError("the request has no method calls")
        request.revalidate()
        self.request = request
        self.limits = limits
        self.dry_run = dry_run
        self._supported = None if supported is None else frozenset(supported)
        extra = set(request._extra_using) - {CORE}
        if self._supported is not None:
            extra &= self._supported
        self._extra_using = extra
        self._states: list[CallState] = []
        self._by_id: dict[str, CallState] = {}
        for call in request.calls:
            self._precheck(call)
            keys = frozenset(
                obj.key for _, obj in iter_nested(call.args) if isinstance(obj, CreationRef)
            )
            count = _objects(call.method, call.args)
            st = CallState(
                call, keys, big=count is not None and count >= GC_PAUSE_MIN_ITEMS, objects=count
            )
            self._states.append(st)
            self._by_id[call.id] = st
        self._queue: deque[CallState] = deque(self._states)
        self._done: list[Invocation] = []
        self._given_created: dict[str, str] = dict(request.created_ids or {})
        self.created: dict[str, str] = dict(self._given_created)
        self.method_responses: list[Invocation] = []
        self.session_state: str | None = None
        self.envelopes: list[Envelope] = []
        self._wire_ids: set[str] = set(self._by_id)
        self._overhead_bytes: int | None = None
        self._overhead_max: int | None = None
        # Pipelining (WebSocket): envelopes packed but not yet absorbed.
        self.in_flight: list[Envelope] = []

    # --- checks ------------------------------------------------------------------------

    def _precheck(self, call: Call[Any]) -> None:
        if self._supported is not None:
            for cap in sorted(call.using - self._supported):
                raise CapabilityNotSupported(
                    f"call {call.id} ({call.method}) needs {cap}, which the server does not "
                    "support",
                    capability=cap,
                )
        limit = _limit_for(call.method, self.limits)
        count = _objects(call.method, call.args)
        if (
            limit is not None
            and count is not None
            and count > limit
            and call.method.endswith("/set")
            and "ifInState" in call.args
        ):
            raise LocalProtocolError(
                f"call {call.id} ({call.method}) has {count} objects, over the server's "
                f"maxObjectsInSet ({limit}), and ifInState: chunking would break its "
                "atomicity; split it into several /set calls yourself or drop ifInState"
            )

    @property
    def finished(self) -> bool:
        return not self._queue

    def ready(self) -> bool:
        """Can the next envelope be packed now, with the ones in flight unanswered?

        Always when nothing is in flight. Otherwise only when the order the server runs
        them in cannot matter and nothing unanswered is needed: further chunks of the one
        call in flight, or read-only calls while only read-only calls are in flight; never
        with a reference to, or a creation id from, a call not yet answered, nor while an
        envelope may come back to be re-planned (``requestTooLarge``). So the results are
        those of sending the envelopes one by one, whatever order the server answers in.
        """
        if not self._queue:
            return False
        if not self.in_flight:
            return True
        if any(p.cut_after for env in self.in_flight for p in env.pieces):
            return False
        return self._independent(self._queue[0])

    def _independent(self, st: CallState) -> bool:
        if any(key not in self.created for key in st.creation_keys):
            return False
        flying = [p for env in self.in_flight for p in env.pieces]
        if st.pending and st.sent:  # the rest of a chunked call already under way
            return all(p.state is st for p in flying)
        if not is_read_only(st.call.method) or not all(is_read_only(p.method) for p in flying):
            return False
        for _, obj in iter_nested(st.call.args):
            if isinstance(obj, Ref):
                src = self._by_id.get(obj.source.id)
                if src is not None and src is not st and not src.done:
                    return False
        return True

    # --- packing -----------------------------------------------------------------------

    def _wire_id(self, call: Call[Any], chunk: int) -> str:
        wid = f"{call.id}.{chunk + 1}"
        while wid in self._wire_ids:
            wid += "_"
        self._wire_ids.add(wid)
        return wid

    def _materialize(self, st: CallState, in_env: Mapping[str, CallState]) -> Any:
        """Pieces for ``st``'s call given the envelope so far: list, _CUT, or an error."""
        call = st.call
        method, args, _ = self.request.encode_call(call)
        counted = _counted(method)
        server_refs = False
        unknown_size = False
        resolved: list[str] = []
        if any(k.startswith("#") for k in args):
            out: dict[str, Any] = {}
            for key, value in args.items():
                if not key.startswith("#") or not isinstance(value, dict):
                    out[key] = value
                    continue
                src = self._by_id.get(str(value.get("resultOf")))
                if src is None or src is st:
                    out[key] = value  # not one of ours: the server judges it
                    server_refs = True
                elif src.done:
                    if self.dry_run:
                        out[key[1:]] = _CLIENT_SIDE
                    else:
                        try:
                            out[key[1:]] = resolve_reference(value, self._done)
                        except ReferenceResolutionError as exc:
                            etype = (
                                "invalidArguments"
                                if exc.invalid_arguments
                                else "invalidResultReference"
                            )
                            return ("error", {"type": etype, "description": f"{exc}"})
                    resolved.append(f"#{key[1:]} <- {src.call.id}")
                elif src.call.id in in_env and src.chunks_total == 1:
                    out[key] = value
                    server_refs = True
                    limit = _limit_for(method, self.limits)
                    if key[1:] in counted and (
                        limit is None or not _bounded(src.call, str(value.get("path")), limit)
                    ):
                        unknown_size = True
                else:
                    return _CUT
            args = out
        st.resolved = resolved
        pieces = self._pieces(st, method, args)
        if isinstance(pieces, tuple):
            return pieces
        if unknown_size and not st.retried_too_large:
            pieces[-1].cut_after = True
        if not server_refs:
            st.pending = deque(pieces)
            st.chunks_total = len(pieces)
            if all(p.objects is not None for p in pieces):  # after references resolved
                st.objects = sum(p.objects or 0 for p in pieces)
        return pieces

    def _pieces(self, st: CallState, method: str, args: dict[str, Any]) -> Any:
        call = st.call
        limit = _limit_for(method, self.limits)
        count = _objects(method, args)
        if limit is None or count is None or count <= limit:
            encoded = dumps([method, args, call.id])
            # The cheap bound settles a small call; the exact overhead only a large one.
            max_size = self.limits.max_size_request
            if len(encoded) + self._overhead_bound() <= max_size or len(encoded) <= (
                max_size - self._overhead()
            ):
                return [Piece(st, call.id, args, 0, 1, count, encoded)]
            if count is None or count <= 1 or "ifInState" in args:
                raise LocalProtocolError(
                    f"call {call.id} ({method}) is {len(encoded)} bytes on its own, over the "
                    f"server's maxSizeRequest ({self.limits.max_size_request})"
                )
            limit = count
        if "ifInState" in args:
            # Only reachable when the object list came from a resolved reference.
            return (
                "error",
                {
                    "type": "requestTooLarge",
                    "description": f"{count} objects over the limit ({limit}) with ifInState; "
                    "refused client-side (chunking would break atomicity)",
                },
            )
        room = self.limits.max_size_request - self._overhead()
        size = limit
        # Each chunk's arguments are encoded once; the invocation around them is spliced
        # on (``dumps([m, a, i])`` is exactly ``[`` + m + ``,`` + a + ``,`` + i + ``]``).
        head = b"[" + dumps(method) + b","
        while True:
            chunks = _chunk_args(method, args, size)
            encoded_args = [dumps(chunk) for chunk, _ in chunks]
            if all(
                len(head) + len(a) + len(dumps(f"{call.id}.{i + 1}____")) + 2 <= room
                for i, a in enumerate(encoded_args)
            ):
                break
            if size == 1:
                raise LocalProtocolError(
                    f"call {call.id} ({method}): one object alone is over the server's "
                    f"maxSizeRequest ({self.limits.max_size_request})"
                )
            size = max(1, size // 2)
        if len(chunks) == 1:
            encoded = _invocation(head, encoded_args[0], call.id)
            return [Piece(st, call.id, chunks[0][0], 0, 1, chunks[0][1], encoded)]
        pieces = []
        for i, ((chunk, n), encoded_chunk) in enumerate(zip(chunks, encoded_args, strict=True)):
            wid = self._wire_id(call, i)
            encoded = _invocation(head, encoded_chunk, wid)
            pieces.append(Piece(st, wid, chunk, i, len(chunks), n, encoded))
        return pieces

    def _overhead(self) -> int:
        # {"using":[...],"methodCalls":[],"createdIds":{...}} with every capability and
        # every given creation id: a bound on the non-call bytes of an envelope.
        if self._overhead_bytes is None:
            using = [CORE, *sorted(self._all_using())]
            doc = {"using": using, "methodCalls": [], "createdIds": self._given_created}
            self._overhead_bytes = len(dumps(doc)) + 64
        return self._overhead_bytes

    def _overhead_bound(self) -> int:
        """An upper bound on `_overhead` without encoding anything: every character of a
        string can take at most 6 bytes (``\\u00XX``), plus quotes and separators."""
        if self._overhead_max is None:
            strings = [CORE, *self._all_using()]
            for key, value in self._given_created.items():
                strings += (key, value)
            self._overhead_max = 128 + sum(6 * len(x) + 3 for x in strings)
        return self._overhead_max

    def _all_using(self) -> set[str]:
        caps = set(self._extra_using)
        for st in self._states:
            caps |= st.call.using
        caps.discard(CORE)
        return caps

    def _envelope_created(self, pieces: list[Piece]) -> dict[str, str] | None:
        keys: set[str] = set()
        for p in pieces:
            keys |= p.state.creation_keys
        needed = {k: self.created[k] for k in sorted(keys) if k in self.created}
        if not needed and not self._given_created:
            return None
        out = dict(self._given_created)
        out.update(needed)
        return out

    def _body(self, pieces: list[Piece], using: list[str], created: dict[str, str] | None) -> bytes:
        body = b'{"using":' + _using_json(tuple(using)) + b',"methodCalls":['
        body += b",".join(p.encoded for p in pieces) + b"]"
        if created is not None:
            body += b',"createdIds":' + dumps(created)
        return body + b"}"

    def _using(self, pieces: list[Piece]) -> list[str]:
        caps = set(self._extra_using)
        for p in pieces:
            caps |= p.call.using
        caps.discard(CORE)
        return [CORE, *sorted(caps)]

    def _size(self, pieces: list[Piece]) -> int:
        created = self._envelope_created(pieces)
        return (
            len(_using_json(tuple(self._using(pieces))))
            + sum(len(p.encoded) + 1 for p in pieces)
            + (len(dumps(created)) if created is not None else 0)
            + 40
        )

    def next_envelope(self) -> Envelope | None:
        """Pack the next envelope, or None when every call has been sent."""
        pieces: list[Piece] = []
        in_env: dict[str, CallState] = {}
        limits = self.limits
        while self._queue:
            st = self._queue[0]
            if pieces and self.in_flight and not self._independent(st):
                break
            if st.pending:
                pend = st.pending
            else:
                with gc_paused(st.big):  # the wire data built all stays alive
                    got = self._materialize(st, in_env)
                if got is _CUT:
                    assert pieces, "a reference cut an empty envelope"
                    break
                if isinstance(got, tuple):
                    self._queue.popleft()
                    self._finish(st, [got])
                    continue
                pend = st.pending if st.pending is not None else deque(got)
            piece = pend[0]
            if len(pieces) >= max(1, limits.max_calls_in_request):
                break
            if pieces and self._size([*pieces, piece]) > limits.max_size_request:
                break
            pieces.append(piece)
            pend.popleft()
            st.sent += 1
            in_env[st.call.id] = st
            if not pend:
                self._queue.popleft()
                st.pending = None
            if piece.cut_after:
                break
        if not pieces:
            return None
        using = self._using(pieces)
        created = self._envelope_created(pieces)
        env = Envelope(
            len(self.envelopes), pieces, using, created, self._body(pieces, using, created)
        )
        self.envelopes.append(env)
        self.in_flight.append(env)
        return env
