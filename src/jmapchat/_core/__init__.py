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
    InvokeResponse,
    ListOrNull,
    MapOrNull,
    QueryChangesResponse,
    QueryResponse,
    SetError,
    SetResponse,
)
from ._session import Account, ChatAccountCapability, CoreCapability, Session, expand_template
from ._types import NOT_GIVEN, CreationRef, Id, NotGiven, UTCDate, parse_utc_date

__all__ = [
    "NOT_GIVEN",
    "Account",
    "AddedItem",
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
    "FilterOperator",
    "GetCall",
    "GetResponse",
    "Id",
    "InvokeResponse",
    "JMAPInput",
    "JMAPModel",
    "ListOrNull",
    "MapOrNull",
    "MissingResponse",
    "NotGiven",
    "QueryCall",
    "QueryChangesCall",
    "QueryChangesResponse",
    "QueryResponse",
    "Ref",
    "Response",
    "Session",
    "SetCall",
    "SetError",
    "SetResponse",
    "UTCDate",
    "expand_template",
    "parse_problem",
    "parse_utc_date",
    *_error_names,
]
