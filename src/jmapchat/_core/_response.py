"""Demultiplexing a JMAP response envelope into the calls of its request.

``Response.parse(request, body)`` checks the envelope's shape, groups method responses
by call id and binds them to the request's `Call` handles. Each call's typed result is
validated lazily, on first access, so one malformed or failed call never hides its
siblings. Anything malformed becomes `RemoteProtocolError`, never a bare KeyError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import from_json

from ._call import Call
from ._error_mapping import request_rejected_from_problem
from ._errors import (
    JMAPError,
    LocalProtocolError,
    MethodError,
    RemoteProtocolError,
    RequestRejected,
)
from ._json import gc_paused_for, loads
from ._request import BaseRequest

__all__ = ["Response", "parse_problem", "read_document"]

R = TypeVar("R")

Invocation = tuple[str, dict[str, Any], str]


def parse_problem(body: bytes | str, *, status: int | None = None) -> RequestRejected | None:
    """If ``body`` is RFC 7807 problem details, the matching `RequestRejected`, else None."""
    try:
        doc = from_json(body)
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("type"), str) and "methodResponses" not in doc:
        return request_rejected_from_problem(doc, status=status)
    return None


_FAST_PATH_MAX_CALLS = 64
_ENVELOPES: dict[tuple[tuple[str, type[Any]], ...], type[BaseModel]] = {}


def _expected_envelope(calls: Sequence[Call[Any]]) -> type[BaseModel] | None:
    """A pydantic model of the reply we expect when every call simply succeeds.

    Validating the whole body against it in one pass (JSON straight into typed results,
    in pydantic-core) is much cheaper than ``json.loads`` followed by per-call validation.
    Anything unexpected (an error, extra responses, a malformed result) fails validation
    and the general path takes over, so behaviour is identical — only faster.
    """
    if not calls or len(calls) > _FAST_PATH_MAX_CALLS:
        return None
    key = tuple((c.method, c.response_type) for c in calls)
    model = _ENVELOPES.get(key)
    if model is None:
        items = tuple(tuple[Literal[m], r, str] for m, r in key)  # type: ignore[valid-type]
        model = create_model(
            "ExpectedEnvelope",
            __config__=ConfigDict(extra="ignore"),
            method_responses=(tuple[items], Field(alias="methodResponses")),  # type: ignore[valid-type]
            session_state=(str | None, Field(None, alias="sessionState")),
            created_ids=(dict[str, str] | None, Field(None, alias="createdIds")),
        )
        if len(_ENVELOPES) > 512:
            _ENVELOPES.clear()
        _ENVELOPES[key] = model
    return model


def read_document(doc: Any) -> tuple[list[Invocation], str | None, dict[str, str] | None]:
    """Check a decoded Response object's shape once: ``(invocations, sessionState, createdIds)``.

    Anything malformed raises `RemoteProtocolError`, never a bare KeyError.
    """
    if not isinstance(doc, dict):
        raise RemoteProtocolError(f"response is a JSON {type(doc).__name__}, not an object")
    raw = doc.get("methodResponses")
    if not isinstance(raw, list):
        raise RemoteProtocolError("response has no 'methodResponses' array")
    out: list[Invocation] = []
    for i, inv in enumerate(raw):
        if (
            not isinstance(inv, list)
            or len(inv) != 3
            or not isinstance(inv[0], str)
            or not isinstance(inv[1], dict)
            or not isinstance(inv[2], str)
        ):
            raise RemoteProtocolError(
                f"methodResponses[{i}] is not a [name, arguments, callId] invocation"
            )
        out.append((inv[0], inv[1], inv[2]))
    state = doc.get("sessionState")
    if state is not None and not isinstance(state, str):
        raise RemoteProtocolError("'sessionState' must be a string")
    created = doc.get("createdIds")
    if created is not None and (
        not isinstance(created, dict) or not all(isinstance(v, str) for v in created.values())
    ):
        raise RemoteProtocolError("'createdIds' must map creation ids to id strings")
    return out, state, created


class Response:
    """A parsed response envelope, bound to the calls of the request it answers."""

    def __init__(
        self,
        calls: Sequence[Call[Any]],
        method_responses: list[Invocation] | None,
        *,
        session_state: str | None,
        created_ids: dict[str, str] | None,
    ) -> None:
        self.calls = list(calls)
        self._method_responses = method_responses
        self.session_state = session_state
        self.created_ids = created_ids or {}
        known = {c.id for c in self.calls}
        self.unmatched: list[Invocation] = [
            r for r in (method_responses or ()) if r[2] not in known
        ]
        """Responses whose call id matches no call of the request (kept, not dropped)."""

    @property
    def method_responses(self) -> list[Invocation]:
        """Every ``(name, arguments, callId)`` in the order the server sent them."""
        if self._method_responses is None:
            self._method_responses = [
                (name, args, call.id) for call in self.calls for name, args in call.responses
            ]
        return self._method_responses

    @classmethod
    def parse(cls, request: BaseRequest, body: bytes | str) -> Response:
        """Parse ``body`` (the HTTP response body) as the answer to ``request``.

        Raises `RequestRejected` if the body is RFC 7807 problem details, and
        `RemoteProtocolError` if it is not a valid JMAP Response object.
        """
        return cls.parse_for(request.calls, body)

    @classmethod
    def parse_for(cls, calls: Iterable[Call[Any]], body: bytes | str) -> Response:
        """Like `parse`, for an explicit list of calls (one envelope of a split request)."""
        calls = list(calls)
        fast = cls._parse_expected(calls, body)
        if fast is not None:
            return fast
        doc = loads(body)
        if (
            isinstance(doc, dict)
            and "methodResponses" not in doc
            and isinstance(doc.get("type"), str)
        ):
            raise request_rejected_from_problem(doc)
        return cls.from_document(calls, doc)

    @classmethod
    def _parse_expected(cls, calls: list[Call[Any]], body: bytes | str) -> Response | None:
        """Bind ``calls`` in one typed pass if the reply is exactly the expected success."""
        envelope = _expected_envelope(calls)
        if envelope is None:
            return None
        try:
            with gc_paused_for(len(body)):
                parsed: Any = envelope.model_validate_json(body, strict=True)
        except (ValidationError, ValueError):
            return None
        invocations = parsed.method_responses
        if any(inv[2] != call.id for inv, call in zip(invocations, calls, strict=True)):
            return None
        for inv, call in zip(invocations, calls, strict=True):
            call._bind_result(inv[1])
        return cls(
            calls,
            None,
            session_state=parsed.session_state,
            created_ids=parsed.created_ids,
        )

    @classmethod
    def from_document(cls, calls: Iterable[Call[Any]], doc: Mapping[str, Any]) -> Response:
        """Bind an already-decoded Response object to ``calls``."""
        invocations, state, created = read_document(doc)
        calls = list(calls)
        grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {c.id: [] for c in calls}
        for name, args, cid in invocations:
            bucket = grouped.get(cid)
            if bucket is not None:
                bucket.append((name, args))
        for call in calls:
            call._bind(grouped[call.id])
        return cls(calls, invocations, session_state=state, created_ids=created)

    def __getitem__(self, call: Call[R]) -> R:
        """``response[call]`` is ``call.result``: typed, or raises that call's error."""
        self._check(call)
        return call.result

    def get(self, call: Call[R]) -> R | JMAPError:
        """The typed result, or the call's error as a value (never raises a MethodError)."""
        self._check(call)
        try:
            return call.result
        except JMAPError as exc:
            return exc

    def _check(self, call: Call[Any]) -> None:
        if not any(c is call for c in self.calls):
            raise LocalProtocolError(f"{call!r} is not part of this response's request")

    @property
    def errors(self) -> dict[str, MethodError]:
        """Every call that failed with a method error, by call id."""
        out: dict[str, MethodError] = {}
        for call in self.calls:
            err = call.error
            if isinstance(err, MethodError):
                out[call.id] = err
        return out

    def __repr__(self) -> str:
        return f"<Response {len(self.method_responses)} method response(s)>"
