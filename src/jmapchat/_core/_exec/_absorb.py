"""The reply side of the split planner: one entry point, `Absorber.absorb`.

The flow reads: next envelope → exchange → absorb. `absorb` takes the reply body as it
came off the wire and does everything with it once: the typed one-pass parse when the
envelope carries the whole request, otherwise one decode and one shape check; then the
resend decision (`_policy.resend_after`), binding (chunk results merged), created ids
and the session state. `Splitter` (`_plan`) inherits it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from .._call import Call, Progress
from .._errors import JMAPError
from .._json import loads
from .._request import BaseRequest
from .._response import Response, read_document
from .._responses import SetOutcome
from ._envelope import CallState, Envelope
from ._policy import resend_after

__all__ = ["Absorber"]

Invocation = tuple[str, dict[str, Any], str]


def _merge(method: str, results: list[dict[str, Any]]) -> dict[str, Any]:
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


def _set_created(name: str, args: Mapping[str, Any], sink: dict[str, str]) -> None:
    if not name.endswith(("/set", "/copy")):
        return
    created = args.get("created")
    if isinstance(created, Mapping):
        for key, obj in created.items():
            if isinstance(obj, Mapping) and isinstance(obj.get("id"), str):
                sink[key] = obj["id"]


def _typed_created(call: Call[Any], sink: dict[str, str]) -> None:
    """`_set_created` for a call bound by the typed one-pass parse, read from the typed
    result: the same ids, without dumping a large result back to wire form for them."""
    outcome = call._outcome if call._responses is None else None
    if isinstance(outcome, SetOutcome):
        for key, obj in (outcome.created or {}).items():
            if isinstance(obj, BaseModel):  # as ``to_wire`` would: only an id that was set
                oid = getattr(obj, "id", None) if "id" in obj.model_fields_set else None
            else:
                oid = obj.get("id") if isinstance(obj, Mapping) else None
            if isinstance(oid, str):
                sink[key] = oid
        return
    for name, args in call.responses:
        _set_created(name, args, sink)


class Absorber:
    """Binds the replies to a `Splitter`'s envelopes (its state is set by `Splitter`)."""

    request: BaseRequest
    created: dict[str, str]
    method_responses: list[Invocation]
    session_state: str | None
    envelopes: list[Envelope]
    _states: list[CallState]
    _by_id: dict[str, CallState]
    _queue: deque[CallState]
    _done: list[Invocation]
    _given_created: dict[str, str]
    in_flight: list[Envelope]
    _whole: bool = False  # the typed one-pass parse bound every call

    def absorb(
        self,
        envelope: Envelope,
        reply: bytes | str | Mapping[str, Any],
        *,
        resend_ok: bool = False,
    ) -> bool:
        """Take the server's reply to ``envelope`` (the body, or a decoded document).

        Returns True once the reply is bound. Returns False, binding nothing, if
        ``resend_ok`` and the reply is a ``serverUnavailable`` that is safe to resend
        (see `_policy`): the caller waits and sends ``envelope`` again. A malformed reply
        raises `RemoteProtocolError`.
        """
        if not isinstance(reply, Mapping):
            whole = self._whole_calls(envelope)
            if whole is not None:
                # Every call answered as expected: typed results in one pass from the
                # bytes. Anything else (an error, a malformed reply) falls through.
                fast = Response._parse_expected(whole, reply)
                if fast is not None:
                    self._landed(envelope)
                    self._absorb_whole(whole, fast)
                    return True
            reply = loads(reply)
        invocations, state, created_ids = read_document(reply)
        if resend_ok and resend_after(envelope.pieces, invocations):
            return False
        self._landed(envelope)
        if state is not None:
            self.session_state = state
        grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for name, args, cid in invocations:
            grouped.setdefault(cid, []).append((name, args))
            _set_created(name, args, self.created)
        for key, value in (created_ids or {}).items():
            if key not in self._given_created or self._given_created[key] != value:
                self.created[key] = value
        touched: list[CallState] = []
        for piece in envelope.pieces:
            st = piece.state
            resps = grouped.get(piece.wire_id, [])
            if piece.chunks == 1:
                if (
                    piece.cut_after
                    and resps
                    and resps[0][0] == "error"
                    and resps[0][1].get("type") == "requestTooLarge"
                    and not st.retried_too_large
                ):
                    st.retried_too_large = True
                    st.pending = None
                    st.sent = 0
                    self._queue.appendleft(st)
                    continue
                self._finish(st, resps)
            else:
                st.results.append((piece.chunk, resps))
                head = resps[0][0] if resps else None
                if head == st.call.method:
                    st.answered += piece.objects or 0
                elif head != "error":
                    st.unclear += piece.objects or 0
                if st not in touched:
                    touched.append(st)
        for st in touched:
            self._settle_chunks(st)
        known = set(self._by_id) | {p.wire_id for p in envelope.pieces}
        self.method_responses.extend(r for r in invocations if r[2] not in known)
        return True

    def _landed(self, envelope: Envelope) -> None:
        if envelope in self.in_flight:
            self.in_flight.remove(envelope)

    def _whole_calls(self, envelope: Envelope) -> list[Call[Any]] | None:
        """The request's calls if ``envelope`` carries all of them, whole and in order."""
        calls = self.request.calls
        if envelope.index != 0 or self._queue or len(envelope.pieces) != len(calls):
            return None
        for piece, call in zip(envelope.pieces, calls, strict=True):
            if piece.state.call is not call or piece.chunks != 1 or piece.wire_id != call.id:
                return None
        return calls

    def _absorb_whole(self, calls: list[Call[Any]], parsed: Response) -> None:
        """Bookkeeping after the typed one-pass parse bound every call."""
        self._whole = True
        for st in self._states:
            st.done = True
        for call in calls:
            if call.method.endswith(("/set", "/copy")):
                _typed_created(call, self.created)
        self.created.update(parsed.created_ids)
        if parsed.session_state is not None:
            self.session_state = parsed.session_state

    def absorb_dry(self, envelope: Envelope) -> None:
        """Pretend ``envelope`` was answered (planning only): nothing is bound."""
        self._landed(envelope)
        for piece in envelope.pieces:
            if piece.chunk + 1 == piece.chunks:
                piece.state.done = True

    def _settle_chunks(self, st: CallState) -> None:
        method = st.call.method
        ok: list[dict[str, Any]] = []
        failure: tuple[int, dict[str, Any]] | None = None
        for chunk, resps in sorted(st.results, key=lambda r: r[0]):
            if resps and resps[0][0] == method:
                ok.append(resps[0][1])
            elif failure is None:
                if resps and resps[0][0] == "error":
                    failure = (chunk, dict(resps[0][1]))
                else:
                    what = repr(resps[0][0]) if resps else "nothing"
                    failure = (
                        chunk,
                        {"type": "serverFail", "description": f"chunk answered with {what}"},
                    )
        if failure is None and len(st.results) < st.chunks_total:
            return  # more chunks still to come
        if failure is None:
            self._finish(st, [(method, _merge(method, ok))])
            return
        if st.pending:  # send no further chunk of this call
            st.pending = None
            if self._queue and self._queue[0] is st:
                self._queue.popleft()
        if len(st.results) < st.sent:
            return  # chunks already in flight (pipelined): settle once they answer
        chunk, err = failure
        progress = self._progress(st, unknown=st.unclear)
        note = f"chunk {chunk + 1} of {st.chunks_total} failed"
        if progress is not None:
            note += f": {progress}"
        if ok:
            note += f"; the {len(ok)} chunk(s) that ran are merged in call.partial"
        desc = err.get("description")
        err["description"] = f"{desc} ({note})" if isinstance(desc, str) else note
        bound: list[tuple[str, dict[str, Any]]] = [("error", err)]
        partial = _merge(method, ok) if ok else None
        if partial is not None:
            bound.append((method, partial))  # also call.extra_responses[0], as before
        self._finish(st, bound)
        st.call._set_partial(partial, progress)

    @staticmethod
    def _progress(st: CallState, *, unknown: int) -> Progress | None:
        if st.objects is None:
            return None
        unknown = min(unknown, st.objects - st.answered)
        return Progress(st.objects, st.answered, unknown, st.objects - st.answered - unknown)

    def fail(
        self,
        error: JMAPError,
        in_flight: Envelope | Sequence[Envelope] | None,
        *,
        maybe_applied: bool,
    ) -> list[str]:
        """The request failed with ``error`` (``in_flight``: the envelopes being exchanged).

        Every call not yet answered gets ``error`` as its outcome; a chunked call keeps
        the merged result of its answered chunks (``call.partial``) and its counts
        (``call.progress``): the pieces in flight are of unknown outcome if
        ``maybe_applied``, else not applied. Returns one line per call that got
        somewhere (for the error's notes).
        """
        flying: dict[int, int] = {}
        out = [in_flight] if isinstance(in_flight, Envelope) else list(in_flight or ())
        if maybe_applied:
            for piece in (p for env in out for p in env.pieces):
                key = id(piece.state)
                flying[key] = flying.get(key, 0) + (piece.objects or 0)
        lines: list[str] = []
        for st in self._states:
            call = st.call
            if st.done or call.done:
                continue
            ok = [
                resps[0][1]
                for _, resps in sorted(st.results, key=lambda r: r[0])
                if resps and resps[0][0] == call.method
            ]
            progress = self._progress(st, unknown=st.unclear + flying.get(id(st), 0))
            partial = _merge(call.method, ok) if ok else None
            st.done = True
            call._fail(error)
            call._set_partial(partial, progress)
            if progress is not None and (progress.confirmed or progress.unknown):
                lines.append(
                    f"call {call.id} ({call.method}): {progress}"
                    + ("; the confirmed results are in call.partial" if partial else "")
                )
        return lines

    def _finish(self, st: CallState, resps: list[tuple[str, dict[str, Any]]]) -> None:
        st.done = True
        st.call._bind(list(resps))
        for name, args in resps:
            inv = (name, args, st.call.id)
            self._done.append(inv)
            self.method_responses.append(inv)

    def response(self) -> Response:
        """The `Response` for the whole request (every call bound)."""
        return Response(
            self.request.calls,
            None if self._whole else list(self.method_responses),
            session_state=self.session_state,
            created_ids=dict(self.created),
        )

    def progress(self) -> str:
        done = [st.call.id for st in self._states if st.done]
        return (
            f"{len(done)} of {len(self._states)} call(s) completed"
            + (f" ({', '.join(done[:8])}{'…' if len(done) > 8 else ''})" if done else "")
            + f" after {len(self.envelopes)} envelope(s)"
        )
