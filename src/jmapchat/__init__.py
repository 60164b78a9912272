"""jmapchat: the typed, batching Python client for JMAP Chat.

Compose many method calls, with references between them, into one request; send one
envelope; get a typed result per call.
"""

from contextlib import suppress as _suppress
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._core import (
    NOT_GIVEN,
    AccountNotFound,
    AccountNotSupportedByMethod,
    AccountReadOnly,
    AnchorNotFound,
    AuthenticationError,
    Backoff,
    BadReference,
    Call,
    CannotCalculateChanges,
    CapabilityNotSupported,
    ChangesCall,
    ConnectError,
    CreationRef,
    Forbidden,
    FromAccountNotFound,
    FromAccountNotSupportedByMethod,
    GetCall,
    HTTPStatusError,
    InvalidArguments,
    InvalidInput,
    InvalidResultReference,
    JMAPError,
    LimitExceeded,
    LocalProtocolError,
    MethodError,
    MissingResponse,
    NotFound,
    NotGiven,
    NotJSON,
    NotPermitted,
    NotRequest,
    Progress,
    ProtocolError,
    QueryCall,
    QueryChangesCall,
    RateLimited,
    ReadError,
    Ref,
    RemoteProtocolError,
    RequestRejected,
    RequestTooLarge,
    Response,
    ResponseTooLarge,
    ServerFail,
    ServerPartialFail,
    ServerUnavailable,
    Session,
    SessionError,
    SetCall,
    SetErrors,
    SetRateLimited,
    StateMismatch,
    Timeout,
    TooManyChanges,
    TransportError,
    UnknownCapability,
    UnknownMethod,
    UnsupportedFilter,
    UnsupportedSort,
    WriteError,
)
from ._namespaces import Request
from ._version import __version__

if _TYPE_CHECKING:
    from ._client import AsyncClient, Client, RetryPolicy

# The clients import httpx and anyio; load them on first use so that importing the
# sans-IO core (``jmapchat._core``) or the models never pulls in an HTTP stack.
_LAZY = {"AsyncClient", "Client", "RetryPolicy"}

__all__ = [
    "NOT_GIVEN",
    "AccountNotFound",
    "AccountNotSupportedByMethod",
    "AccountReadOnly",
    "AnchorNotFound",
    "AsyncClient",
    "AuthenticationError",
    "Backoff",
    "BadReference",
    "Call",
    "CannotCalculateChanges",
    "CapabilityNotSupported",
    "ChangesCall",
    "Client",
    "ConnectError",
    "CreationRef",
    "Forbidden",
    "FromAccountNotFound",
    "FromAccountNotSupportedByMethod",
    "GetCall",
    "HTTPStatusError",
    "InvalidArguments",
    "InvalidInput",
    "InvalidResultReference",
    "JMAPError",
    "LimitExceeded",
    "LocalProtocolError",
    "MethodError",
    "MissingResponse",
    "NotFound",
    "NotGiven",
    "NotJSON",
    "NotPermitted",
    "NotRequest",
    "Progress",
    "ProtocolError",
    "QueryCall",
    "QueryChangesCall",
    "RateLimited",
    "ReadError",
    "Ref",
    "RemoteProtocolError",
    "Request",
    "RequestRejected",
    "RequestTooLarge",
    "Response",
    "ResponseTooLarge",
    "RetryPolicy",
    "ServerFail",
    "ServerPartialFail",
    "ServerUnavailable",
    "Session",
    "SessionError",
    "SetCall",
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
    "__version__",
]

# Public objects report the public module (as httpx does), not the private one.
for _name in __all__:
    if _name in _LAZY:
        continue
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("jmapchat._"):
        with _suppress(AttributeError, TypeError):
            _obj.__module__ = "jmapchat"
del _name, _obj


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        from . import _client

        value = getattr(_client, name)
        value.__module__ = "jmapchat"
        globals()[name] = value
        return value
    raise AttributeError(f"module 'jmapchat' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
