"""The request builder: an ordered list of calls, validated as it grows, built to bytes.

Nothing here does I/O (the h11 discipline): ``build()`` returns the RFC 8620 envelope
as bytes and `Response.parse` takes bytes back. Every mistake that can be seen without
the server is raised here as `LocalProtocolError`, naming the call and the argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import BaseModel
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from ._call import Call, _adapter
from ._capabilities import CORE
from ._errors import LocalProtocolError
from ._json import dumps
from ._refs import Ref
from ._responses import EchoResponse, InvokeResponse
from ._types import NOT_GIVEN, CreationRef
from ._wire import ACCOUNT_ID, encode_value, iter_nested

__all__ = ["BaseRequest", "CoreMethods", "set_planner"]

if TYPE_CHECKING:
    from ._session import ChatAccountCapability, CoreCapability

R = TypeVar("R")
C = TypeVar("C", bound=Call[Any])


class CoreMethods:
    """``req.core``: methods of ``urn:ietf:params:jmap:core``."""

    def __init__(self, request: BaseRequest) -> None:
        self._request = request

    def echo(
        self, arguments: Mapping[str, Any] | None = None, *, call_id: str | None = None
    ) -> Call[EchoResponse]:
        """``Core/echo``: the server returns ``arguments`` unchanged."""
        return self._request.invoke(
            "Core/echo", dict(arguments or {}), response=EchoResponse, call_id=call_id
        )


class BaseRequest:
    """An ordered batch of method calls for one JMAP request envelope.

    ``account_id`` fills every call's ``accountId`` that was not given explicitly; a client
    sets it from the session when it is left ``None``.
    """

    def __init__(
        self,
        account_id: str | None = None,
        *,
        using: Iterable[str] = (),
        created_ids: Mapping[str, str] | None = None,
    ) -> None:
        self.account_id = account_id
        self.calls: list[Call[Any]] = []
        self.created_ids: dict[str, str] | None = dict(created_ids) if created_ids else None
        self._extra_using = frozenset(using)
        self.limits: CoreCapability | None = None
        """The server's core limits, when known (a client sets them): ``explain()`` then
        shows the split plan."""
        self.chat_limits: ChatAccountCapability | None = None
        """The account's JMAP Chat capability, when known (a client sets it): namespaces
        then refuse what it already rules out (e.g. a body over ``maxBodyBytes``)."""
        self.event_factory: Callable[[], Any] | None = None
        """Makes the event an ``await call`` waits on (set by the async client; the core
        itself never imports an async library)."""
        self._call_ids: dict[str, Call[Any]] = {}
        self._creations: dict[str, Call[Any]] = {}
        self._checked: list[Call[Any]] = []  # calls in the order they were validated
        self._auto_id = 0

    # --- namespaces ------------------------------------------------------------------

    @cached_property
    def core(self) -> CoreMethods:
        return CoreMethods(self)

    # --- adding calls ----------------------------------------------------------------

    @overload
    def invoke(
        self,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        using: Iterable[str] = (),
        call_id: str | None = None,
    ) -> Call[InvokeResponse]: ...

    @overload
    def invoke(
        self,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        response: type[R],
        using: Iterable[str] = (),
        call_id: str | None = None,
    ) -> Call[R]: ...

    def invoke(
        self,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        response: Any = InvokeResponse,
        using: Iterable[str] = (),
        call_id: str | None = None,
    ) -> Call[Any]:
        """Add any method call, including vendor ones.

        ``response`` types the result: a pydantic model, or anything pydantic can validate
        (``dict``, ``dict[str, Any]``, a TypedDict …). Left out, the result is an
        `InvokeResponse` that keeps every field (``result.model_extra``, or attributes
        by wire name).
        """
        _check_response_type(method, response)
        return self.add_call(
            Call, method=method, args=args or {}, response=response, using=using, call_id=call_id
        )

    def add_call(
        self,
        call_class: type[C],
        *,
        method: str,
        args: Mapping[str, Any],
        response: type[Any],
        using: Iterable[str] = (),
        call_id: str | None = None,
    ) -> C:
        """Validate and append a call of ``call_class``; used by every namespace."""
        if not isinstance(method, str) or "/" not in method:
            raise LocalProtocolError(f"method name must look like 'Type/method', not {method!r}")
        if call_id is None:
            while f"c{self._auto_id}" in self._call_ids:
                self._auto_id += 1
            call_id = f"c{self._auto_id}"
            self._auto_id += 1
        elif not isinstance(call_id, str) or not call_id:
            raise LocalProtocolError(f"call id must be a non-empty string, not {call_id!r}")
        if call_id in self._call_ids:
            raise LocalProtocolError(f"duplicate call id {call_id!r} ({method})")
        clean = {k: v for k, v in args.items() if v is not NOT_GIVEN}
        call = call_class(
            self,
            method=method,
            args=clean,
            call_id=call_id,
            index=len(self.calls),
            response_type=response,
            using=frozenset(using) | {CORE},
        )
        self._check_arguments(call)
        self._register_creations(call, self._creations)
        try:
            self._check_references(call, self._call_ids, self._creations)
        except LocalProtocolError:
            for key in _create_keys(call):
                if self._creations.get(key) is call:
                    del self._creations[key]
            raise
        self.calls.append(call)
        self._checked.append(call)
        self._call_ids[call_id] = call
        return call

    def validate(self) -> None:
        """Re-check the whole request (``build()`` does this); raises LocalProtocolError.

        Catches what can only be seen as a whole: e.g. ``calls`` reordered by hand so a
        reference or creation id now points forward.
        """
        call_ids: dict[str, Call[Any]] = {}
        creations: dict[str, Call[Any]] = {}
        for pos, call in enumerate(self.calls):
            if call.id in call_ids:
                raise LocalProtocolError(f"duplicate call id {call.id!r} ({call.method})")
            call.index = pos
            call_ids[call.id] = call
            self._check_arguments(call)
            self._register_creations(call, creations)
        for call in self.calls:
            self._check_references(call, call_ids, creations)
        self._call_ids, self._creations = call_ids, creations
        self._checked = list(self.calls)

    def revalidate(self) -> None:
        """`validate` if ``calls`` was edited by hand since the calls were added (each
        call was checked as it was added; this catches a reordered or spliced list)."""
        if self.calls != self._checked:  # identity compare
            self.validate()

    def _check_arguments(self, call: Call[Any]) -> None:
        for key in call.args:
            if not isinstance(key, str):
                raise LocalProtocolError(f"{_where(call)}: argument names must be strings")
            if key.startswith("#") and key[1:] in call.args:
                raise LocalProtocolError(
                    f"{_where(call)}: both {key[1:]!r} and {key!r} given; pass one"
                )
            if isinstance(call.args[key], Ref) and "#" + key in call.args:
                raise LocalProtocolError(f"{_where(call)}: both {key!r} and '#{key}' given")

    @staticmethod
    def _register_creations(call: Call[Any], creations: dict[str, Call[Any]]) -> None:
        keys = _create_keys(call)
        for key in keys:
            if not isinstance(key, str) or not key:
                raise LocalProtocolError(f"{_where(call)}: creation ids must be non-empty strings")
            if key in creations:
                other = creations[key]
                raise LocalProtocolError(
                    f"{_where(call)}: duplicate creation id {key!r} "
                    f"(already created by call {other.id}, {other.method})"
                )
        for key in keys:
            creations[key] = call

    def _check_references(
        self,
        call: Call[Any],
        call_ids: Mapping[str, Call[Any]],
        creations: Mapping[str, Call[Any]],
    ) -> None:
        for arg, value in call.args.items():
            if isinstance(value, Ref):
                self._check_ref(call, arg, value, call_ids)
                continue
            for where, obj in iter_nested(value, arg):
                if isinstance(obj, Ref):
                    raise LocalProtocolError(
                        f"{_where(call)}: argument {where!r} holds a result reference nested "
                        "inside a value; RFC 8620 references can only replace a whole "
                        "top-level argument"
                    )
                self._check_creation_ref(call, where, obj, creations)

    def _check_ref(
        self, call: Call[Any], arg: str, ref: Ref[Any], call_ids: Mapping[str, Call[Any]]
    ) -> None:
        source = ref.source
        if source.request is not self or call_ids.get(source.id) is not source:
            raise LocalProtocolError(
                f"{_where(call)}: argument {arg!r} references call {source.id} "
                f"({source.method}), which is not in this request"
            )
        if source.index >= call.index:
            raise LocalProtocolError(
                f"{_where(call)}: argument {arg!r} references a later call {source.id}"
            )
        tokens = ref.tokens
        props = source.args.get("properties")
        if (
            len(tokens) >= 3
            and tokens[0] == "list"
            and tokens[1] == "*"
            and isinstance(props, list | tuple)
            and tokens[2] != "id"
            and tokens[2] not in props
        ):
            raise LocalProtocolError(
                f"{_where(call)}: argument {arg!r} uses {ref.path!r} but call {source.id} "
                f"({source.method}) only requests properties {list(props)}"
            )

    @staticmethod
    def _check_creation_ref(
        call: Call[Any], where: str, ref: Any, creations: Mapping[str, Call[Any]]
    ) -> None:
        if not isinstance(ref, CreationRef):
            return
        creator = creations.get(ref.key)
        if ref.source is not None and ref.source is not creator:
            raise LocalProtocolError(
                f"{_where(call)}: {where} uses creation id {ref.key!r} of call "
                f"{ref.source.id}, which is not in this request"
            )
        if creator is None:
            raise LocalProtocolError(
                f"{_where(call)}: {where} uses unknown creation id {ref.key!r}; no /set "
                "before it creates that key"
                + (f" (known: {sorted(creations)})" if creations else "")
            )
        if creator is not call and creator.index > call.index:
            raise LocalProtocolError(
                f"{_where(call)}: {where} uses creation id {ref.key!r} before call "
                f"{creator.id} creates it"
            )

    # --- output ----------------------------------------------------------------------

    @property
    def using(self) -> list[str]:
        """Capabilities the calls need: core first, then the rest sorted (stable bytes)."""
        caps: set[str] = set(self._extra_using)
        for call in self.calls:
            caps |= call.using
        caps.discard(CORE)
        return [CORE, *sorted(caps)]

    def _account(self) -> str:
        if self.account_id is None:
            raise LocalProtocolError(
                "a call needs an accountId but the request has none: pass "
                "Request(account_id=...) or send it through a client"
            )
        return self.account_id

    def encode_call(self, call: Call[Any]) -> list[Any]:
        """One invocation ``[name, arguments, callId]`` ready for JSON."""
        out: dict[str, Any] = {}
        for key, value in call.args.items():
            if isinstance(value, Ref):
                out["#" + key] = value.to_json()
            elif value is ACCOUNT_ID:
                out[key] = self._account()
            else:
                out[key] = encode_value(value, self._account)
        return [call.method, out, call.id]

    def to_dict(self) -> dict[str, Any]:
        """The RFC 8620 Request object as plain JSON-ready data."""
        if not self.calls:
            raise LocalProtocolError("the request has no method calls")
        self.revalidate()
        envelope: dict[str, Any] = {
            "using": self.using,
            "methodCalls": [self.encode_call(c) for c in self.calls],
        }
        if self.created_ids:
            envelope["createdIds"] = dict(self.created_ids)
        return envelope

    def build(self) -> bytes:
        """The envelope as UTF-8 JSON bytes, byte-for-byte deterministic."""
        return dumps(self.to_dict())

    def explain(self, limits: CoreCapability | None = None) -> str:
        """A readable plan: calls in order, their references, and ``using``.

        With ``limits`` (a session's core capability, e.g. ``session.core``) it also
        shows how the executor will split the request into HTTP requests. Requests made
        by ``client.request()`` know their session's limits already.
        """
        if limits is None:
            limits = self.limits
        lines = [
            f"Request: {len(self.calls)} call(s), account {self.account_id or '<from session>'}"
        ]
        lines.append("using: " + ", ".join(self.using))
        for call in self.calls:
            lines.append(f"  {call.id}  {call.method}")
            for key, value in call.args.items():
                if isinstance(value, Ref):
                    lines.append(
                        f"        #{key} <- {value.source.id} ({value.source.method}) {value.path}"
                    )
            uses: dict[str, list[str]] = {}
            for where, obj in iter_nested(
                {k: v for k, v in call.args.items() if not isinstance(v, Ref)}
            ):
                if isinstance(obj, CreationRef):
                    uses.setdefault(obj.key, []).append(where)
            for key, places in uses.items():
                creator = self._creations.get(key)
                src = f"{creator.id} ({creator.method})" if creator else "?"
                more = f" and {len(places) - 1:,} more" if len(places) > 1 else ""
                lines.append(f"        #{key} <- created by {src} (at {_dotted(places[0])}{more})")
            keys = _create_keys(call)
            if keys:
                lines.append(f"        creates: {_abbreviated(keys)}")
        if limits is not None and _planner is not None:
            lines.extend(_planner(self, limits))
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.calls)

    def __repr__(self) -> str:
        return f"<Request {len(self.calls)} call(s)>"


_planner: Callable[[BaseRequest, CoreCapability], list[str]] | None = None


def set_planner(planner: Callable[[BaseRequest, CoreCapability], list[str]]) -> None:
    """Install the executor's split-plan explainer for `BaseRequest.explain`.

    The executor (``_exec``) sits above this module and registers itself on import, so
    the request layer never imports upward.
    """
    global _planner
    _planner = planner


def _check_response_type(method: str, response: Any) -> None:
    """Refuse at ``invoke`` a ``response=`` that could never validate a result."""
    if isinstance(response, type) and issubclass(response, BaseModel):
        return
    try:
        _adapter(response)
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        raise LocalProtocolError(
            f"{method}: response={response!r} is not a type pydantic can validate "
            f"(pass a pydantic model, dict, or leave it out): {str(exc).splitlines()[0]}"
        ) from None


def _create_keys(call: Call[Any]) -> list[str]:
    if not call.method.endswith("/set"):
        return []
    create = call.args.get("create")
    return list(create) if isinstance(create, Mapping) else []


def _where(call: Call[Any]) -> str:
    return f"call {call.id} ({call.method})"


_INDEXED_KEY = re.compile(r"""\[('[^']*'|"[^"]*")\]""")


def _dotted(where: str) -> str:
    """``['create']['m0'].chat_id`` → ``create.m0.chat_id`` (paths as the docs write them)."""
    return _INDEXED_KEY.sub(lambda m: "." + m.group(1)[1:-1], where).lstrip(".")


def _abbreviated(keys: list[str], show: int = 8) -> str:
    """``m0, m1, m2`` — or, past ``show`` keys, ``m0 … m9999 (10,000 creates)``."""
    if len(keys) <= show:
        return ", ".join(keys)
    return f"{keys[0]} … {keys[-1]} ({len(keys):,} creates)"
