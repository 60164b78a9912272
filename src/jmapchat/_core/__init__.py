"""The sans-IO core: building requests and reading responses, no I/O anywhere.

Imports only the standard library and pydantic (a test enforces it), so the protocol
can be driven with any HTTP library. See ``examples/sansio_any_http.py``.

This ``__init__`` is the core's public surface for the rest of the package: sibling
packages (``_client``, ``_namespaces``, ``models``, ``server``, ``cli``) import names
from ``jmapchat._core`` only, never from its private modules (``tests/test_layers.py``).
Layers inside, bottom to top: values (``_types``, ``_model``, ``_errors``, ``_json`` …),
request/response (``_call``, ``_request``, ``_response``, ``_standard`` …), the executor
(``_exec``). See docs/design.md, "Where things live".
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
from ._capabilities import BLOB, BLOB2, CHAT, CHAT_PUSH, CHAT_WEBSOCKET, CORE, QUOTA, WEBSOCKET
from ._errors import *  # noqa: F403
from ._errors import __all__ as _error_names
from ._events import Backoff, EventSourceState, RetryableStream
from ._exec import (
    DownloadVerifier,
    Emit,
    Envelope,
    Flow,
    FreshSession,
    HTTPRequest,
    HTTPResponse,
    Instruction,
    ObservedSessionState,
    RetryPolicy,
    Sleep,
    Splitter,
    StreamDigest,
    changes_pages_flow,
    check_download_response,
    download_request_flow,
    execute_flow,
    plan,
    query_iter_flow,
    session_flow,
    session_url_for,
    upload_flow,
)
from ._json import dumps, loads
from ._model import JMAPInput, JMAPModel
from ._pointer import PointerError, escape_token, unescape_token
from ._pointer import parse as parse_pointer
from ._refs import Ref
from ._request import BaseRequest, CoreMethods
from ._resolve import ReferenceResolutionError, resolve_result_references
from ._response import Response, parse_problem
from ._responses import (
    AddedItem,
    ChangesResponse,
    Comparator,
    EchoResponse,
    FilterOperator,
    GetList,
    GetResponse,
    QueryChangesResponse,
    QueryResponse,
    SetError,
    SetOutcome,
    SetResponse,
)
from ._session import Account, ChatAccountCapability, CoreCapability, Session, expand_template
from ._standard import (
    ChangesMethods,
    CreateDestroySetMethods,
    GetMethods,
    IdsArg,
    Namespace,
    QueryChangesMethods,
    QueryMethods,
    SetMethods,
    SortArg,
    UpdateOnlySetMethods,
    check_ids,
)
from ._types import NOT_GIVEN, CreationRef, Id, NotGiven, UTCDate

__all__ = [
    "BLOB",
    "BLOB2",
    "CHAT",
    "CHAT_PUSH",
    "CHAT_WEBSOCKET",
    "CORE",
    "NOT_GIVEN",
    "QUOTA",
    "WEBSOCKET",
    "Account",
    "AddedItem",
    "Backoff",
    "BaseRequest",
    "Call",
    "ChangesCall",
    "ChangesMethods",
    "ChangesResponse",
    "ChatAccountCapability",
    "Comparator",
    "CoreCapability",
    "CoreMethods",
    "CreateDestroySetMethods",
    "CreationRef",
    "DownloadVerifier",
    "EchoResponse",
    "Emit",
    "Envelope",
    "EventSourceState",
    "FilterOperator",
    "Flow",
    "FreshSession",
    "GetCall",
    "GetList",
    "GetMethods",
    "GetResponse",
    "HTTPRequest",
    "HTTPResponse",
    "Id",
    "IdsArg",
    "Instruction",
    "JMAPInput",
    "JMAPModel",
    "MissingResponse",
    "Namespace",
    "NotGiven",
    "ObservedSessionState",
    "PointerError",
    "QueryCall",
    "QueryChangesCall",
    "QueryChangesMethods",
    "QueryChangesResponse",
    "QueryMethods",
    "QueryResponse",
    "Ref",
    "ReferenceResolutionError",
    "Response",
    "RetryPolicy",
    "RetryableStream",
    "Session",
    "SetCall",
    "SetError",
    "SetMethods",
    "SetOutcome",
    "SetResponse",
    "Sleep",
    "SortArg",
    "Splitter",
    "StreamDigest",
    "UTCDate",
    "UpdateOnlySetMethods",
    "changes_pages_flow",
    "check_download_response",
    "check_ids",
    "download_request_flow",
    "dumps",
    "escape_token",
    "execute_flow",
    "expand_template",
    "loads",
    "parse_pointer",
    "parse_problem",
    "plan",
    "query_iter_flow",
    "resolve_result_references",
    "session_flow",
    "session_url_for",
    "unescape_token",
    "upload_flow",
    *_error_names,
]
