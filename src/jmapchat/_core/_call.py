"""Call handles: one per method call in a request, typed by the call's response.

``call.result`` is the typed response once the request has been answered, or raises
that call's `MethodError`; sibling calls are unaffected. Typed subclasses expose the
references that make sense for their method (``QueryCall.ids``, ``GetCall.list`` …).
"""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from ._error_mapping import describe_set_failures, method_error_from_response, set_errors
from ._errors import (
    BadReference,
    JMAPError,
    LocalProtocolError,
    RemoteProtocolError,
)
from ._gc import GC_PAUSE_MIN_ITEMS, gc_paused, items_hint
from ._model import JMAPModel
from ._refs import Ref
from ._responses import (
    ChangesResponse,
    GetResponse,
    QueryChangesResponse,
    QueryResponse,
    SetResponse,
)
from ._types import CreationRef

if TYPE_CHECKING:
    from ._request import BaseRequest

__all__ = [
    "Call",
    "ChangesCall",
    "GetCall",
    "MissingResponse",
    "Progress",
    "QueryCall",
    "QueryChangesCall",
    "SetCall",
]

R = TypeVar("R")
T = TypeVar("T", bound=JMAPModel)

_UNSET: Any = object()


class MissingResponse(RemoteProtocolError):
    """The server answered the request but not this call."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a ``/set`` or ``/get`` got when its request failed (see ``Call.progress``).

    Objects are the ids of a ``/get`` or the creates, updates and destroys of a ``/set``.
    ``confirmed`` ones were answered (their results, successes and per-object errors
    alike, are in ``call.partial``); ``unknown`` ones were in an envelope whose reply
    was lost, so the server may or may not have applied them; ``not_applied`` ones
    were never sent, or were in a piece the server refused as a whole.
    """

    objects: int
    confirmed: int
    unknown: int
    not_applied: int

    def __str__(self) -> str:
        return (
            f"{self.confirmed:,} of {self.objects:,} object(s) confirmed, "
            f"{self.unknown:,} of unknown outcome, {self.not_applied:,} not applied"
        )


class Call(Generic[R]):
    """A method call in a `Request`, and later its outcome."""

    __slots__ = (
        "_event",
        "_outcome",
        "_partial",
        "_progress",
        "_responses",
        "args",
        "expects_success",
        "id",
        "index",
        "method",
        "request",
        "response_type",
        "using",
    )

    def __init__(
        self,
        request: BaseRequest,
        *,
        method: str,
        args: dict[str, Any],
        call_id: str,
        index: int,
        response_type: type[R],
        using: frozenset[str],
    ) -> None:
        self.request = request
        self.method = method
        self.args = args
        self.id = call_id
        self.index = index
        self.response_type = response_type
        self.using = using
        self._responses: list[tuple[str, dict[str, Any]]] | None = None
        self._outcome: Any = _UNSET
        self._event: Any = None  # created by the first `await` that has to wait
        self._partial: Any = None  # raw dict, then the validated model
        self._progress: Progress | None = None
        self.expects_success = False
        """Set by helpers that act on named objects (``message.send`` …): ``.result``
        then raises `SetErrors` if any object of this /set failed, instead of returning
        the failures as data (a generic ``/set`` keeps returning them)."""

    def __repr__(self) -> str:
        state = "answered" if self.done else "pending"
        return f"<Call {self.id} {self.method} {state}>"

    # --- references ------------------------------------------------------------------

    def ref(self, path: str) -> Ref[Any]:
        """A reference to ``path`` (a JSON pointer) in this call's response, validated."""
        return Ref.from_path(self, path)

    def _field_ref(self, name: str) -> Ref[Any]:
        return Ref(self, (), self.response_type)._child(name)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # Only reached for names the class does not have (``page.idz``).
            if name.startswith("_"):
                raise AttributeError(name)
            refs = _reference_names(type(self))
            close = difflib.get_close_matches(name, refs, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listed = ", ".join(refs) if refs else "none"
            raise BadReference(
                f"{type(self).__name__} ({self.method}, call {self.id}) has no reference "
                f"{name!r}{hint}; its references: {listed}; any field of "
                f"{getattr(self.response_type, '__name__', self.response_type)} via "
                "call.ref('/path')"
            )

    # --- outcome ---------------------------------------------------------------------

    def _bind(self, responses: list[tuple[str, dict[str, Any]]]) -> None:
        """Attach the raw responses the server sent for this call id (in order)."""
        self._responses = responses
        self._outcome = _UNSET
        self._wake()

    def _bind_result(self, result: R) -> None:
        """Attach an already validated sole response (the parser's fast path)."""
        self._responses = None
        self._outcome = result
        if self.expects_success:
            failure = self._unmet(result)
            if failure is not None:
                # keep the wire form reproducible, then record the failure
                self._responses = [(self.method, _to_wire(result))]
                self._outcome = failure
        self._wake()

    def _fail(self, error: JMAPError) -> None:
        """The request carrying this call failed as a whole: this call's outcome is ``error``."""
        self._responses = []
        self._outcome = error
        self._wake()

    def _set_partial(self, partial: dict[str, Any] | None, progress: Progress | None) -> None:
        """Record what a call that failed part way did get done (the executor's side)."""
        self._partial = partial
        self._progress = progress

    @property
    def partial(self) -> R | None:
        """When a call sent in pieces failed part way: the merged result of the pieces
        that were answered (created ids, updated, destroyed, notCreated …), else None.

        Set together with the error (``call.result`` still raises it), so the ids of
        every envelope that succeeded are never lost. ``call.progress`` gives the counts.
        """
        raw = self._partial
        if raw is None or not isinstance(raw, dict):
            return raw
        try:
            with gc_paused(items_hint(raw) >= GC_PAUSE_MIN_ITEMS):
                self._partial = _validator(self.response_type)(raw)
        except ValidationError as exc:
            raise RemoteProtocolError(
                f"malformed partial {self.method} result for call {self.id}: {exc}"
            ) from None
        return self._partial  # type: ignore[no-any-return]

    @property
    def progress(self) -> Progress | None:
        """How many objects were confirmed, of unknown outcome or not applied when this
        ``/set`` or ``/get`` failed (None if it did not fail, or is not one of those)."""
        return self._progress

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()

    def __await__(self) -> Generator[Any, None, R]:
        """``await call``: wait (in another task) until the request is answered.

        Returns ``call.result`` — or raises it, as reading ``.result`` would. Needs a
        request built by (or sent through) an `AsyncClient`.
        """
        if not self.done:
            if self._event is None:
                factory = self.request.event_factory
                if factory is None:
                    raise LocalProtocolError(
                        f"call {self.id} ({self.method}) is not being sent by an async "
                        "client, so there is nothing to await; read .result after send()"
                    )
                self._event = factory()
            yield from self._event.wait().__await__()
        return self.result

    @property
    def done(self) -> bool:
        """True once the request holding this call has been answered."""
        return self._responses is not None or self._outcome is not _UNSET

    @property
    def responses(self) -> list[tuple[str, dict[str, Any]]]:
        """Every raw ``(name, arguments)`` response with this call id, in order."""
        if self._responses is None:
            if self._outcome is _UNSET:
                raise LocalProtocolError(f"call {self.id} ({self.method}) has not been sent yet")
            # Fast-path results keep no raw copy; the wire form is exactly reproducible.
            self._responses = [(self.method, _to_wire(self._outcome))]
        return self._responses

    @property
    def extra_responses(self) -> list[tuple[str, dict[str, Any]]]:
        """Responses beyond the primary one (e.g. an implicit ``/set`` after a ``/copy``)."""
        return self.responses[1:]

    @property
    def error(self) -> JMAPError | None:
        """This call's error, or None if it succeeded. Never raises a MethodError."""
        try:
            self.result  # noqa: B018
        except LocalProtocolError:
            raise
        except JMAPError as exc:
            return exc
        return None

    @property
    def result(self) -> R:
        """The typed response. Raises this call's `MethodError` (or a protocol error)."""
        outcome = self._outcome
        if outcome is _UNSET:
            outcome = self._outcome = self._compute_outcome()
        if isinstance(outcome, JMAPError):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    def _compute_outcome(self) -> R | JMAPError:
        responses = self.responses
        if not responses:
            return MissingResponse(f"server sent no response for call {self.id} ({self.method})")
        name, arguments = responses[0]
        if name == "error":
            return method_error_from_response(arguments, call=self)
        if name != self.method:
            return RemoteProtocolError(f"call {self.id} ({self.method}) was answered with {name!r}")
        try:
            # A large result (say a merged 10,000-object /set) builds thousands of models
            # that all stay alive: hold the GC off for that one pydantic-core call.
            with gc_paused(items_hint(arguments) >= GC_PAUSE_MIN_ITEMS):
                result: R = _validator(self.response_type)(arguments)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "/".join(str(p) for p in first.get("loc", ()))
            return RemoteProtocolError(
                f"malformed {name} response for call {self.id}: {exc.error_count()} "
                f"problem(s), first at {where or '<root>'!r}: {first.get('msg')}"
            )
        if self.expects_success:
            failure = self._unmet(result)
            if failure is not None:
                return failure
        return result

    def _unmet(self, result: Any) -> JMAPError | None:
        """For an ``expects_success`` call: the error that the answered ``result`` is.

        A /set-shaped result (``created``/``notCreated`` …) must have succeeded for every
        object it names: failures give `SetErrors`, objects the server left unanswered a
        `RemoteProtocolError`.
        """
        failed: dict[str, Any] = {}
        ops: dict[str, str] = {}
        for op, attr in (
            ("create", "not_created"),
            ("update", "not_updated"),
            ("destroy", "not_destroyed"),
        ):
            for key, err in (getattr(result, attr, None) or {}).items():
                failed[key] = err
                ops[key] = op
        where = f"{self.method} (call {self.id})"
        if failed:
            message = describe_set_failures(failed, where=where, operations=ops)
            return set_errors(message, errors=failed, response=result, call=self)
        unanswered = []
        for op, arg, attr in (
            ("create", "create", "created"),
            ("update", "update", "updated"),
            ("destroy", "destroy", "destroyed"),
        ):
            asked = self.args.get(arg)
            if not isinstance(asked, Mapping | builtins.list):
                continue
            done = getattr(result, attr, None) or ()
            unanswered += [
                f"{op} {k!r}"
                for k in asked
                if isinstance(k, str) and k[:1] != "#" and k not in done
            ]
        if unanswered:
            return RemoteProtocolError(
                f"{where}: the server reported neither success nor failure for "
                + ", ".join(unanswered[:5])
                + (f" (+{len(unanswered) - 5} more)" if len(unanswered) > 5 else "")
            )
        return None


def _to_wire(result: Any) -> dict[str, Any]:
    if isinstance(result, BaseModel):
        to_wire = getattr(result, "to_wire", None)
        if to_wire is not None:
            return to_wire()  # type: ignore[no-any-return]
        return result.model_dump(mode="json", by_alias=True, exclude_unset=True)
    tp: Any = type(result)
    return _adapter(tp).dump_python(result, mode="json")  # type: ignore[no-any-return]


@lru_cache(maxsize=256)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _validator(tp: Any) -> Any:
    """``model_validate`` for a pydantic model; a cached `TypeAdapter` for anything else
    (``dict``, ``list[str]``, a TypedDict …)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp.model_validate
    return _adapter(tp).validate_python


@lru_cache(maxsize=64)
def _reference_names(cls: type[Any]) -> builtins.list[str]:
    """The reference properties of a call class (``ids``, ``query_state`` …)."""
    names = []
    for name in dir(cls):
        attr = getattr(cls, name, None)
        if name.startswith("_") or not isinstance(attr, property) or attr.fget is None:
            continue
        ret = attr.fget.__annotations__.get("return", "")
        if isinstance(ret, str) and (ret.startswith("Ref[") or ret == "CreationRef"):
            names.append(name)
    return names


class GetCall(Call[GetResponse[T]], Generic[T]):
    """A ``Foo/get`` call."""

    __slots__ = ()

    @property
    def list(self) -> Ref[builtins.list[T]]:
        """``/list``; use ``.list.each.<prop>`` for ``/list/*/<prop>``."""
        return self._field_ref("list")

    @property
    def not_found(self) -> Ref[builtins.list[str]]:
        """A reference to ``/notFound``: the requested ids that do not exist."""
        return self._field_ref("notFound")

    @property
    def state(self) -> Ref[str]:
        """A reference to ``/state``: the type's state string when the call ran."""
        return self._field_ref("state")


class ChangesCall(Call[ChangesResponse]):
    """A ``Foo/changes`` call."""

    __slots__ = ()

    @property
    def created(self) -> Ref[list[str]]:
        """A reference to ``/created``: ids created since the old state."""
        return self._field_ref("created")

    @property
    def updated(self) -> Ref[list[str]]:
        """A reference to ``/updated``: ids updated since the old state."""
        return self._field_ref("updated")

    @property
    def destroyed(self) -> Ref[list[str]]:
        """A reference to ``/destroyed``: ids destroyed since the old state."""
        return self._field_ref("destroyed")

    @property
    def new_state(self) -> Ref[str]:
        """A reference to ``/newState``: pass it to the next ``/changes``."""
        return self._field_ref("newState")


class SetCall(Call[SetResponse[T]], Generic[T]):
    """A ``Foo/set`` call."""

    __slots__ = ()

    @property
    def create_keys(self) -> tuple[str, ...]:
        """The creation keys of this ``/set`` (the keys of ``create``), in order."""
        create = self.args.get("create")
        return tuple(create) if isinstance(create, Mapping) else ()

    def created_id(self, key: str) -> CreationRef:
        """``"#key"``: the id the object created under ``key`` will get, for later calls."""
        if key not in self.create_keys:
            raise LocalProtocolError(
                f"{self.method} (call {self.id}) creates no {key!r}; "
                f"it creates {list(self.create_keys)}"
            )
        return CreationRef(key, self)

    def created_ref(self, key: str) -> Ref[Any]:
        """A result reference to ``/created/<key>`` (e.g. ``.created_ref("m1").id``)."""
        if key not in self.create_keys:
            raise LocalProtocolError(f"{self.method} (call {self.id}) creates no {key!r}")
        return self._field_ref("created")[key]

    @property
    def new_state(self) -> Ref[str]:
        """A reference to ``/newState``: the type's state after the ``/set``."""
        return self._field_ref("newState")


class QueryCall(Call[QueryResponse]):
    """A ``Foo/query`` call."""

    __slots__ = ()

    @property
    def ids(self) -> Ref[list[str]]:
        """A reference to ``/ids``: feed it to a ``/get`` in the same request."""
        return self._field_ref("ids")

    @property
    def query_state(self) -> Ref[str]:
        """A reference to ``/queryState``: pass it to ``/queryChanges``."""
        return self._field_ref("queryState")


class QueryChangesCall(Call[QueryChangesResponse]):
    """A ``Foo/queryChanges`` call."""

    __slots__ = ()

    @property
    def removed(self) -> Ref[list[str]]:
        """A reference to ``/removed``: ids no longer in the results."""
        return self._field_ref("removed")

    @property
    def added_ids(self) -> Ref[list[str]]:
        """``/added/*/id``."""
        return self._field_ref("added").each.id
