"""From the server's words to the typed errors of `_errors`: RFC 7807 problem details to
`RequestRejected`, ``error`` responses to `MethodError`, /set failures to `SetErrors` (and
the one-line description of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._errors import (
    AccountNotFound,
    AccountNotSupportedByMethod,
    AccountReadOnly,
    AnchorNotFound,
    CannotCalculateChanges,
    Forbidden,
    FromAccountNotFound,
    FromAccountNotSupportedByMethod,
    InvalidArguments,
    InvalidResultReference,
    LimitExceeded,
    MethodError,
    NotFound,
    NotJSON,
    NotPermitted,
    NotRequest,
    RequestRejected,
    RequestTooLarge,
    ServerFail,
    ServerPartialFail,
    ServerUnavailable,
    SetErrors,
    SetRateLimited,
    StateMismatch,
    TooManyChanges,
    UnknownCapability,
    UnknownMethod,
    UnsupportedFilter,
    UnsupportedSort,
)

if TYPE_CHECKING:
    from ._call import Call

__all__ = [
    "RATE_LIMIT_TYPES",
    "describe_set_failures",
    "method_error_from_response",
    "request_rejected_from_problem",
    "set_errors",
]


_REJECTED_BY_URN: dict[str, type[RequestRejected]] = {
    cls.urn: cls for cls in (UnknownCapability, NotJSON, NotRequest, LimitExceeded) if cls.urn
}


def request_rejected_from_problem(
    problem: Mapping[str, Any], *, status: int | None = None
) -> RequestRejected:
    """Map RFC 7807 problem details to the matching `RequestRejected` subclass."""
    ptype = problem.get("type")
    ptype = ptype if isinstance(ptype, str) else "about:blank"
    detail = problem.get("detail")
    detail = detail if isinstance(detail, str) else None
    limit = problem.get("limit")
    limit = limit if isinstance(limit, str) else None
    pstatus = problem.get("status")
    if isinstance(pstatus, int) and not isinstance(pstatus, bool):
        status = pstatus
    cls = _REJECTED_BY_URN.get(ptype, RequestRejected)
    msg = f"request rejected: {ptype}"
    if limit:
        msg += f" (limit {limit})"
    if detail:
        msg += f": {detail}"
    return cls(msg, type=ptype, status=status, detail=detail, limit=limit, problem=problem)


RATE_LIMIT_TYPES = frozenset({"rateLimit", "rateLimited"})
"""RFC 8620 spells it ``rateLimit``; the chat draft's slow mode says ``rateLimited``."""


def set_errors(
    message: str, *, errors: Mapping[str, Any], response: Any = None, call: Call[Any] | None = None
) -> SetErrors:
    """`SetErrors`, or `SetRateLimited` when every failure is a rate limit."""
    if errors and all(getattr(e, "type", None) in RATE_LIMIT_TYPES for e in errors.values()):
        exc = SetRateLimited(message, errors=errors, response=response, call=call)
        exc.retry_after = getattr(getattr(response, "rate_limited", None), "retry_after", None)
        return exc
    return SetErrors(message, errors=errors, response=response, call=call)


_SHOW_FAILURES = 5


_SHOW_PROPERTIES = 4


def describe_set_failures(
    errors: Mapping[str, Any], *, where: str = "", operations: Mapping[str, str] | None = None
) -> str:
    """``Message/set (call c0): 1 object failed: create 'k1': invalidProperties (chatId):
    no such chat`` — each failure's operation, key, type, properties and description, the
    first few of each, then a count."""
    parts = []
    for key, err in list(errors.items())[:_SHOW_FAILURES]:
        op = (operations or {}).get(key)
        text = f"{op} {key!r}" if op else repr(key)
        text += f": {getattr(err, 'type', None) or '?'}"
        props = getattr(err, "properties", None) or []
        if props:
            shown = ", ".join(str(p) for p in props[:_SHOW_PROPERTIES])
            extra = len(props) - _SHOW_PROPERTIES
            text += f" ({shown}{f' +{extra} more' if extra > 0 else ''})"
        desc = getattr(err, "description", None)
        if desc:
            text += f": {desc}"
        parts.append(text)
    more = len(errors) - _SHOW_FAILURES
    head = f"{where}: " if where else ""
    noun = "object" if len(errors) == 1 else "objects"
    tail = f"; +{more} more" if more > 0 else ""
    return f"{head}{len(errors)} {noun} failed: " + "; ".join(parts) + tail


_METHOD_ERRORS: dict[str, type[MethodError]] = {
    cls.error_type: cls
    for cls in (
        ServerFail,
        ServerUnavailable,
        ServerPartialFail,
        UnknownMethod,
        InvalidArguments,
        InvalidResultReference,
        Forbidden,
        AccountNotFound,
        AccountNotSupportedByMethod,
        AccountReadOnly,
        RequestTooLarge,
        CannotCalculateChanges,
        StateMismatch,
        AnchorNotFound,
        UnsupportedSort,
        UnsupportedFilter,
        TooManyChanges,
        FromAccountNotFound,
        FromAccountNotSupportedByMethod,
        NotFound,
        NotPermitted,
    )
}


def method_error_from_response(
    arguments: Mapping[str, Any], *, call: Call[Any] | None = None
) -> MethodError:
    """Build the typed error for an ``error`` response; unknown types behave as ServerFail."""
    etype = arguments.get("type")
    etype = etype if isinstance(etype, str) else "serverFail"
    desc = arguments.get("description")
    desc = desc if isinstance(desc, str) else None
    cls = _METHOD_ERRORS.get(etype, ServerFail)
    where = f"{call.method} (call {call.id})" if call is not None else "method call"
    msg = f"{where} failed: {etype}"
    if desc:
        msg += f": {desc}"
    return cls(msg, type=etype, description=desc, call=call, arguments=arguments)
