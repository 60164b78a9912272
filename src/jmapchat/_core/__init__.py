"""The sans-IO core: building requests and reading responses, no I/O anywhere.

Imports only the standard library and pydantic (a test enforces it), so the protocol
can be driven with any HTTP library. See ``examples/sansio_any_http.py``.
"""

from ._call import (
    Call,
    ChangesCall,
    GetCall,
    MissingResponse,
    QueryCall,
    QueryChangesCall,
    SetCall,
)
from ._errors import *  # noqa: F403
from ._errors import __all__ as _error_names
from ._events import Backoff, EventSourceState, RetryableStream
from ._model import JMAPInput, JMAPModel
from ._refs import Ref
from ._request import BaseRequest, CoreMethods
from ._response import Response, parse_problem
from ._responses import (
    AddedItem,
    ChangesResponse,
    Comparator,
    EchoResponse,
    FilterOperator,
    GetResponse,
    QueryChangesResponse,
    QueryResponse,
    SetError,
    SetResponse,
)
from ._session import Account, ChatAccountCapability, CoreCapability, Session, expand_template
from ._types import NOT_GIVEN, CreationRef, Id, NotGiven, UTCDate

__all__ = [
    "NOT_GIVEN",
    "Account",
    "AddedItem",
    "Backoff",
    "BaseRequest",
    "Call",
    "ChangesCall",
    "ChangesResponse",
    "ChatAccountCapability",
    "Comparator",
    "CoreCapability",
    "CoreMethods",
    "CreationRef",
    "EchoResponse",
    "EventSourceState",
    "FilterOperator",
    "GetCall",
    "GetResponse",
    "Id",
    "JMAPInput",
    "JMAPModel",
    "MissingResponse",
    "NotGiven",
    "QueryCall",
    "QueryChangesCall",
    "QueryChangesResponse",
    "QueryResponse",
    "Ref",
    "Response",
    "RetryableStream",
    "Session",
    "SetCall",
    "SetError",
    "SetResponse",
    "UTCDate",
    "expand_template",
    "parse_problem",
    *_error_names,
]
