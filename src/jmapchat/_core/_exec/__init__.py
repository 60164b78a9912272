"""The executor: plans envelopes, exchanges them through sans-IO flows, absorbs replies.

=================  ================================================================
module             what lives there
=================  ================================================================
`_instructions`    the values flows yield to drivers (`HTTPRequest`, `Sleep`, …)
`_policy`          retry policy and replay safety (the only place either is decided)
`_envelope`        `Envelope`, `Piece`: what the planner hands the flow
`_plan`            `Splitter`: packs the next envelope (inherits `_absorb`)
`_absorb`          the one reply entry point, `Splitter.absorb`
`_explain`         `plan` / `explain_plan` (no I/O; installed into `Request.explain`)
`_flows`           the executor flow, session and paging flows
`_blobs`           upload / download flows
`_websocket`       RFC 8887: `WebSocketChannel` (frames, subscriptions) and the
                   pipelined executor flow over the socket
=================  ================================================================

Imports only the layers below it (values, request/response); nothing below imports it.
"""

from .._request import set_planner
from ._blobs import (
    DownloadVerifier,
    StreamDigest,
    check_download_response,
    download_request_flow,
    upload_flow,
)
from ._envelope import Envelope, Piece
from ._explain import explain_plan, plan
from ._flows import (
    changes_pages_flow,
    execute_flow,
    query_iter_flow,
    session_flow,
    session_url_for,
)
from ._instructions import (
    Emit,
    Flow,
    FreshSession,
    HTTPRequest,
    HTTPResponse,
    Instruction,
    ObservedSessionState,
    Sleep,
)
from ._plan import Splitter
from ._policy import READ_ONLY_SUFFIXES, RetryPolicy, is_read_only, parse_retry_after
from ._websocket import (
    Broken,
    Listener,
    Pushed,
    Reply,
    Skipped,
    WebSocketChannel,
    WSReceive,
    WSSend,
    websocket_url,
    ws_execute_flow,
)

set_planner(explain_plan)

__all__ = [
    "READ_ONLY_SUFFIXES",
    "Broken",
    "DownloadVerifier",
    "Emit",
    "Envelope",
    "Flow",
    "FreshSession",
    "HTTPRequest",
    "HTTPResponse",
    "Instruction",
    "Listener",
    "ObservedSessionState",
    "Piece",
    "Pushed",
    "Reply",
    "RetryPolicy",
    "Skipped",
    "Sleep",
    "Splitter",
    "StreamDigest",
    "WSReceive",
    "WSSend",
    "WebSocketChannel",
    "changes_pages_flow",
    "check_download_response",
    "download_request_flow",
    "execute_flow",
    "explain_plan",
    "is_read_only",
    "parse_retry_after",
    "plan",
    "query_iter_flow",
    "session_flow",
    "session_url_for",
    "upload_flow",
    "websocket_url",
    "ws_execute_flow",
]
