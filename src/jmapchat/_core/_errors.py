"""Every exception jmapchat raises, in one tree (as httpx does).

```
JMAPError
├── TransportError                  network failure talking to the server
│   ├── ConnectError                could not connect (request never sent: safe to retry)
│   ├── WriteError                  failed while sending the request
│   ├── ReadError                   failed while reading the reply (request may have run)
│   └── Timeout                     connect/read/write/pool timeout
├── AuthenticationError             HTTP 401/403
├── HTTPStatusError                 non-2xx without RFC 7807 problem details
├── RequestRejected                 RFC 8620 §3.6.1 request-level problem details
│   ├── UnknownCapability           urn:ietf:params:jmap:error:unknownCapability
│   ├── NotJSON                     urn:ietf:params:jmap:error:notJSON
│   ├── NotRequest                  urn:ietf:params:jmap:error:notRequest
│   └── LimitExceeded (.limit)      urn:ietf:params:jmap:error:limit
├── MethodError (.type, .description, .call)   an ["error", {...}, callId] response
│   ├── ServerFail                  serverFail, and any unknown error type
│   ├── ServerUnavailable           serverUnavailable (retry with backoff)
│   ├── ServerPartialFail           serverPartialFail (resync)
│   ├── UnknownMethod, InvalidArguments, InvalidResultReference, Forbidden,
│   │   AccountNotSupportedByMethod, AccountReadOnly, RequestTooLarge,
│   │   CannotCalculateChanges, StateMismatch, AnchorNotFound, UnsupportedSort,
│   │   UnsupportedFilter, TooManyChanges, FromAccountNotFound,
│   │   FromAccountNotSupportedByMethod, NotFound, NotPermitted
│   └── AccountNotFound             (also a SessionError)
├── RateLimited (.retry_after)      HTTP 429 Retry-After, or SetError serverRetryAfter
├── ProtocolError                   abstract: the conversation went wrong
│   ├── LocalProtocolError          we built the request wrong (caught before any I/O)
│   │   ├── BadReference            ``page.idz``: no such reference (also an AttributeError)
│   │   └── InvalidInput            a value the session's limits or formats already refuse
│   └── RemoteProtocolError         the server sent something malformed
├── SetErrors (.errors, .response)  per-object /set failures, raised by one-object helpers
│   └── SetRateLimited              every failure a rate limit (also a RateLimited)
└── SessionError                    session resource problems
    ├── CapabilityNotSupported      a call needs a capability the server lacks
    └── AccountNotFound             no such account / no primary account for a capability
```

Per-object `/set` failures of a generic ``/set`` are *data* (`SetError` in
`not_created` …), not exceptions; `SetResponse.raise_for_errors()` turns them into
`SetErrors`, a `MethodError`-free `JMAPError` carrying every failure. Helpers that act on
named objects (``message.send``, ``edit``, ``react`` …) mark their call
``expects_success``: reading its ``.result`` raises `SetErrors` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ._capabilities import (
    ERROR_LIMIT,
    ERROR_NOT_JSON,
    ERROR_NOT_REQUEST,
    ERROR_UNKNOWN_CAPABILITY,
)

if TYPE_CHECKING:
    from ._call import Call

__all__ = [
    "RATE_LIMIT_TYPES",
    "AccountNotFound",
    "AccountNotSupportedByMethod",
    "AccountReadOnly",
    "AnchorNotFound",
    "AuthenticationError",
    "BadReference",
    "CannotCalculateChanges",
    "CapabilityNotSupported",
    "ConnectError",
    "Forbidden",
    "FromAccountNotFound",
    "FromAccountNotSupportedByMethod",
    "HTTPStatusError",
    "InvalidArguments",
    "InvalidInput",
    "InvalidResultReference",
    "JMAPError",
    "LimitExceeded",
    "LocalProtocolError",
    "MethodError",
    "NotFound",
    "NotJSON",
    "NotPermitted",
    "NotRequest",
    "ProtocolError",
    "RateLimited",
    "ReadError",
    "RemoteProtocolError",
    "RequestRejected",
    "RequestTooLarge",
    "ResponseTooLarge",
    "ServerFail",
    "ServerPartialFail",
    "ServerUnavailable",
    "SessionError",
    "SetErrors",
    "SetRateLimited",
    "StateMismatch",
    "Timeout",
    "TooManyChanges",
    "TransportError",
    "UnknownCapability",
    "UnknownMethod",
    "UnsupportedFilter",
    "UnsupportedSort",
    "WriteError",
    "describe_set_failures",
    "method_error_from_response",
    "request_rejected_from_problem",
    "set_errors",
]


class JMAPError(Exception):
    """Base of every error jmapchat raises."""


# --- transport -----------------------------------------------------------------------


class TransportError(JMAPError):
    """The HTTP exchange failed below JMAP. ``sent`` says whether the request may have run."""

    sent: bool = True

    def __init__(self, message: str, *, sent: bool | None = None) -> None:
        super().__init__(message)
        if sent is not None:
            self.sent = sent


class ConnectError(TransportError):
    """Could not connect; the request was never sent."""

    sent = False


class WriteError(TransportError):
    """Failed while writing the request; it may be partially sent."""


class ReadError(TransportError):
    """Failed while reading the reply; the server may have executed the request."""


class Timeout(TransportError):
    """A connect, read, write or pool timeout."""


# --- HTTP level ----------------------------------------------------------------------


class HTTPStatusError(JMAPError):
    """A non-2xx reply that carries no RFC 7807 problem details."""

    def __init__(self, message: str, *, status_code: int, body: bytes = b"") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class AuthenticationError(HTTPStatusError):
    """HTTP 401 or 403: missing, wrong or expired credentials."""


class RateLimited(JMAPError):
    """The server asked us to slow down; ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestRejected(JMAPError):
    """A request-level error with RFC 7807 problem details (RFC 8620 §3.6.1)."""

    urn: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        type: str,
        status: int | None = None,
        detail: str | None = None,
        limit: str | None = None,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.type = type
        self.status = status
        self.detail = detail
        self.limit = limit
        self.problem: dict[str, Any] = dict(problem or {})


class UnknownCapability(RequestRejected):
    """The request's ``using`` names a capability the server does not know (RFC 8620 §3.6.1)."""

    urn = ERROR_UNKNOWN_CAPABILITY


class NotJSON(RequestRejected):
    """The server could not parse the request as JSON (``urn:ietf:params:jmap:error:notJSON``)."""

    urn = ERROR_NOT_JSON


class NotRequest(RequestRejected):
    """The JSON was not a valid JMAP Request object (``urn:ietf:params:jmap:error:notRequest``)."""

    urn = ERROR_NOT_REQUEST


class LimitExceeded(RequestRejected):
    """A server limit was exceeded; ``limit`` names it (e.g. ``maxCallsInRequest``)."""

    urn = ERROR_LIMIT


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


# --- method level --------------------------------------------------------------------


class MethodError(JMAPError):
    """A method call answered with ``["error", {"type": …}, callId]``.

    Raised lazily when that call's result is read; sibling calls are unaffected.
    """

    error_type: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        type: str,
        description: str | None = None,
        call: Call[Any] | None = None,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.type = type
        self.description = description
        self.call = call
        self.arguments: dict[str, Any] = dict(arguments or {})


class ServerFail(MethodError):
    """The server hit an unexpected error running the method; ``description`` may say more."""

    error_type = "serverFail"


class ServerUnavailable(MethodError):
    """A resource the method needs is temporarily unavailable: retry later."""

    error_type = "serverUnavailable"


class ServerPartialFail(MethodError):
    """Some, not all, changes of a ``/set`` were applied: refetch to see which."""

    error_type = "serverPartialFail"


class UnknownMethod(MethodError):
    """The server does not know the method name (a vendor method, or a typo)."""

    error_type = "unknownMethod"


class InvalidArguments(MethodError):
    """An argument was of the wrong type or otherwise invalid; ``description`` says which."""

    error_type = "invalidArguments"


class InvalidResultReference(MethodError):
    """A back-reference (``#arg``) could not be resolved by the server."""

    error_type = "invalidResultReference"


class Forbidden(MethodError):
    """The method or its arguments are not allowed for this account (ACL)."""

    error_type = "forbidden"


class AccountNotSupportedByMethod(MethodError):
    """The account does not support this method (a missing capability)."""

    error_type = "accountNotSupportedByMethod"


class AccountReadOnly(MethodError):
    """The method would modify state, but the account is read-only."""

    error_type = "accountReadOnly"


class RequestTooLarge(MethodError):
    """Too many ids or objects in one call (``maxObjectsInGet``/``Set``); jmapchat splits calls
    by the session's limits, so this means the server under-advertised them.
    """

    error_type = "requestTooLarge"


class CannotCalculateChanges(MethodError):
    """The server cannot compute changes since that state: resync from scratch."""

    error_type = "cannotCalculateChanges"


class StateMismatch(MethodError):
    """``ifInState`` did not match the current state: the ``/set`` was not applied."""

    error_type = "stateMismatch"


class AnchorNotFound(MethodError):
    """The ``/query`` anchor id is not in the results."""

    error_type = "anchorNotFound"


class UnsupportedSort(MethodError):
    """The server cannot sort on that property or with that collation."""

    error_type = "unsupportedSort"


class UnsupportedFilter(MethodError):
    """The server cannot process that filter (e.g. an unscoped ``Message/query``)."""

    error_type = "unsupportedFilter"


class TooManyChanges(MethodError):
    """More changes than ``maxChanges`` for ``/queryChanges``: query again instead."""

    error_type = "tooManyChanges"


class FromAccountNotFound(MethodError):
    """``/copy``: the ``fromAccountId`` is not an account of this user."""

    error_type = "fromAccountNotFound"


class FromAccountNotSupportedByMethod(MethodError):
    """``/copy``: the from-account does not support this data type."""

    error_type = "fromAccountNotSupportedByMethod"


class NotFound(MethodError):
    """JMAP Chat: e.g. ``Chat/typing`` for an unknown chat."""

    error_type = "notFound"


class NotPermitted(MethodError):
    """JMAP Chat: ``Space/join`` of a space that is not public (non-standard name)."""

    error_type = "notPermitted"


# --- protocol ------------------------------------------------------------------------


class ProtocolError(JMAPError):
    """Abstract: the JMAP conversation went wrong. Raise a subclass."""

    def __new__(cls, *args: Any, **kwargs: Any) -> ProtocolError:
        if cls is ProtocolError:
            raise TypeError("ProtocolError is abstract; raise Local- or RemoteProtocolError")
        return super().__new__(cls, *args, **kwargs)


class LocalProtocolError(ProtocolError):
    """The request was built wrong. Always raised before any I/O."""


class BadReference(LocalProtocolError, AttributeError):
    """A reference that the source call's response cannot have (``page.idz``).

    Also an ``AttributeError``, so ``hasattr``/``getattr(obj, name, default)`` keep working.
    """


class InvalidInput(LocalProtocolError, ValueError):
    """A value that cannot work, known from the session or the spec (a body over
    ``maxBodyBytes``, a date that is not a ``UTCDate``, a URL with no scheme), refused
    before any I/O. Also a ``ValueError``."""


class RemoteProtocolError(ProtocolError):
    """The server sent something that is not valid JMAP (bad JSON, wrong shapes, …)."""


class ResponseTooLarge(RemoteProtocolError):
    """A reply body was over the client's cap (``max_session_bytes`` /
    ``max_response_bytes``): reading stopped there, so a broken or hostile server cannot
    exhaust memory. ``limit`` is the cap in bytes."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


# --- session -------------------------------------------------------------------------


class SessionError(JMAPError):
    """The session resource is missing something we need."""


class CapabilityNotSupported(SessionError):
    """A call needs a capability that the server (or the account) does not advertise."""

    def __init__(self, message: str, *, capability: str) -> None:
        super().__init__(message)
        self.capability = capability


class AccountNotFound(MethodError, SessionError):
    """``accountNotFound`` from a method, or no usable account in the session."""

    error_type = "accountNotFound"

    def __init__(
        self,
        message: str,
        *,
        type: str = "accountNotFound",
        description: str | None = None,
        call: Call[Any] | None = None,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        MethodError.__init__(
            self, message, type=type, description=description, call=call, arguments=arguments
        )


class SetErrors(JMAPError):
    """Per-object failures of one /set: ``errors`` maps creation id / object id to its
    `SetError`; ``response`` is the whole /set response (what did succeed) when known.

    Raised by ``SetResponse.raise_for_errors()`` and by ``.result`` of a helper's call
    (``message.send`` …) that expected every object to succeed.
    """

    def __init__(
        self,
        message: str,
        *,
        errors: Mapping[str, Any],
        response: Any = None,
        call: Call[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.errors: dict[str, Any] = dict(errors)
        self.response = response
        self.call = call

    @property
    def rate_limited(self) -> RateLimited | None:
        """The `RateLimited` of the failed objects, if any failed for a rate limit."""
        return getattr(self.response, "rate_limited", None)


class SetRateLimited(SetErrors, RateLimited):
    """Every failed object of the /set was rate limited (``rateLimit``/``rateLimited``):
    catch it as `RateLimited` and wait ``retry_after`` seconds, or as `SetErrors`."""


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
