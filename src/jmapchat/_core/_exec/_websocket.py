"""JMAP over WebSocket (RFC 8887 + draft-atwood-jmap-chat-wss), decided here, sans-IO.

`WebSocketChannel` is the state of the client's one socket: ``Request`` frames with their
``id``, what each frame received means (`classify`), which push and chat-stream
subscriptions are on (so a reconnect can turn them back on, resuming from the last
``pushState``), and the frame-size limit. `ws_execute_flow` is the executor flow over
the socket: the same `Splitter` as HTTP, but up to ``maxConcurrentRequests`` envelopes in
flight at once (matched by ``requestId``, answered in any order), and the same
retry-only-when-safe rules (`_policy`) when the socket drops under a request.

The drivers perform two instructions besides the usual ones:

=================  ==============================  ===================================
instruction        driver does                     sent back into the flow
=================  ==============================  ===================================
`WSSend`           sends one text frame            None (or a `TransportError` thrown
                   (connecting first if needed)    in, ``sent=False``: it never left)
`WSReceive`        waits until one of              ``(request_id, reply)``: the decoded
                   ``request_ids`` is answered     Response document, or a `JMAPError`
                                                   (a `RequestError` frame, or the
                                                   socket lost under it: ``sent=True``)
=================  ==============================  ===================================
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from pydantic import BaseModel, ValidationError

from .._error_mapping import request_rejected_from_problem
from .._errors import (
    AuthenticationError,
    HTTPStatusError,
    JMAPError,
    LimitExceeded,
    LocalProtocolError,
    RemoteProtocolError,
    TransportError,
)
from .._json import dumps, loads
from .._request import BaseRequest
from .._response import Response
from .._session import Session, _usable_url
from ._flows import fail_request
from ._instructions import Flow, FreshSession, ObservedSessionState, Sleep, WSReceive, WSSend
from ._plan import Splitter
from ._policy import RetryPolicy

__all__ = [
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_POLICY_VIOLATION",
    "CLOSE_PROTOCOL_ERROR",
    "Broken",
    "Listener",
    "Pushed",
    "Received",
    "Reply",
    "Skipped",
    "WSReceive",
    "WSSend",
    "WebSocketChannel",
    "websocket_url",
    "ws_execute_flow",
]

# RFC 6455 §7.4.1 close codes the client uses or recognises.
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_UNSUPPORTED_DATA: Final = 1003
CLOSE_INVALID_PAYLOAD: Final = 1007
CLOSE_POLICY_VIOLATION: Final = 1008  # the wss draft: credentials no longer valid
CLOSE_MESSAGE_TOO_BIG: Final = 1009

DEFAULT_MAX_FRAME: Final = 64 * 1024 * 1024
EPHEMERAL: Final = ("typing", "presence")


# --- what a received frame is ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to request ``request_id``: a Response document or a typed error."""

    request_id: str
    value: Mapping[str, Any] | JMAPError


@dataclass(frozen=True, slots=True)
class Pushed:
    """An event for ``events()``: a StateChange, typing or presence model."""

    event: BaseModel


@dataclass(frozen=True, slots=True)
class Skipped:
    """Nothing to act on (unknown ``@type``, an answer nobody waits for, …)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Broken:
    """The server broke the protocol: close the socket with ``code``; fail what waits."""

    error: RemoteProtocolError
    code: int


Received: TypeAlias = Reply | Pushed | Skipped | Broken


def websocket_url(session: Session) -> str:
    """The socket URL the session advertises, as the ``http(s)://`` URL httpx dials.

    Raises `CapabilityNotSupported` if the server has no ``urn:ietf:params:jmap:websocket``.
    """
    from .._capabilities import WEBSOCKET

    session.require(WEBSOCKET)
    url = session.capabilities[WEBSOCKET].get("url")
    if not isinstance(url, str) or not url:
        raise RemoteProtocolError(f"the session's {WEBSOCKET} capability has no url")
    # A relative url was resolved against the session URL when the session was parsed;
    # one still without a scheme had no session URL to resolve against.
    url = _usable_url(
        f"{WEBSOCKET} url", url, None, absolute=True, schemes=_WS_SCHEMES, kind="ws(s)"
    )
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if url.lower().startswith(ws):
            return http + url[len(ws) :]
    return url


_WS_SCHEMES = ("ws", "wss", "http", "https")


@dataclass(slots=True, eq=False)
class Listener:
    """One ``events()`` on the socket: the data types (None: all) and chat-wss categories
    it asked for. ``finished``: ``close_after_state`` and its StateChange was taken."""

    types: frozenset[str] | None
    stream: tuple[str, ...]
    close_after_state: bool = False
    finished: bool = False


_STREAM_OF: Final = {"ChatTypingEvent": "typing", "ChatPresenceEvent": "presence"}


class WebSocketChannel:
    """The client's side of one JMAP WebSocket, whatever connection currently carries it.

    ``models`` maps the server frame ``@type``\\ s ``StateChange``, ``ChatTypingEvent`` and
    ``ChatPresenceEvent`` to the model each is validated with (the layer above passes
    `jmapchat.models`'). Frames over ``max_frame`` characters are refused.
    """

    def __init__(
        self, models: Mapping[str, type[BaseModel]], *, max_frame: int = DEFAULT_MAX_FRAME
    ) -> None:
        self._models = dict(models)
        self.max_frame = max_frame
        self._ids = itertools.count(1)
        # The events() listeners; the socket's subscriptions are the union of theirs.
        self.listeners: list[Listener] = []
        # The last pushState received (sent back on a re-enable, so nothing is missed).
        self.push_state: str | None = None

    @property
    def push_on(self) -> bool:
        """Is ``WebSocketPushEnable`` on (some listener is open)?"""
        return bool(self.listeners)

    @property
    def push_types(self) -> list[str] | None:
        """The ``dataTypes`` the socket asks for: every listener's (None: all)."""
        if any(lst.types is None for lst in self.listeners):
            return None
        return sorted({t for lst in self.listeners for t in lst.types or ()})

    @property
    def stream(self) -> tuple[str, ...]:
        """The chat-wss categories on (empty: ``ChatStreamEnable`` is off)."""
        return tuple(t for t in EPHEMERAL if any(t in lst.stream for lst in self.listeners))

    # --- requests -----------------------------------------------------------------------

    def request_frame(self, body: bytes) -> tuple[str, str]:
        """``(id, frame)``: an RFC 8620 Request body as an RFC 8887 ``Request`` frame."""
        rid = f"r{next(self._ids)}"
        if not body.startswith(b"{"):
            raise LocalProtocolError("a request body must be a JSON object")
        head = '{"@type":"Request","id":"' + rid + '"'
        rest = body[1:].decode()
        return rid, head + ("," + rest if rest.strip() != "}" else "}")

    # --- subscriptions ------------------------------------------------------------------

    def listen(
        self,
        types: Sequence[str] | None,
        *,
        typing: bool,
        presence: bool,
        close_after_state: bool = False,
    ) -> tuple[Listener, list[str]]:
        """A new events() listener, and the frames that widen the socket's subscriptions
        to include it (none when they already do). Several listeners share the socket;
        each is handed only what it asked for (`deliveries`)."""
        if isinstance(types, str):
            raise LocalProtocolError('types must be a list of type names, e.g. ["Message"]')
        if types is not None and (not types or not all(isinstance(t, str) and t for t in types)):
            raise LocalProtocolError("types must be a non-empty list of type names, or None")
        stream = tuple(t for t, on in zip(EPHEMERAL, (typing, presence), strict=True) if on)
        listener = Listener(None if types is None else frozenset(types), stream, close_after_state)
        return listener, self._change(lambda: self.listeners.append(listener))

    def unlisten(self, listener: Listener) -> list[str]:
        """Drop ``listener``; the frames that narrow (or turn off) the subscriptions."""
        return self._change(
            lambda: self.listeners.remove(listener) if listener in self.listeners else None
        )

    def _change(self, edit: Callable[[], object]) -> list[str]:
        before = (self.push_on, self.push_types, self.stream)
        edit()
        out: list[str] = []
        if self.push_on and not before[0]:
            # A first listener hears of changes from now on, not since an earlier one left.
            # (Widening while no StateChange has come yet has no pushState to resume from:
            # the server starts from its current states, as for a first listener.)
            self.push_state = None
        if self.push_on and before[:2] != (True, self.push_types):
            out.append(self._push_frame())
        elif before[0] and not self.push_on:
            out.append('{"@type":"WebSocketPushDisable"}')
        if self.stream and self.stream != before[2]:
            out.append(self._stream_frame())
        elif before[2] and not self.stream:
            out.append('{"@type":"ChatStreamDisable"}')
        return out

    def _push_frame(self) -> str:
        push: dict[str, Any] = {"@type": "WebSocketPushEnable", "dataTypes": self.push_types}
        if self.push_state is not None:
            # report what changed meanwhile (after a reconnect, or when the types change)
            push["pushState"] = self.push_state
        return dumps(push).decode()

    def _stream_frame(self) -> str:
        stream = {
            "@type": "ChatStreamEnable",
            "dataTypes": list(self.stream),
            "chatIds": None,
            "contactIds": None,
        }
        return dumps(stream).decode()

    def subscription_frames(self) -> list[str]:
        """What to send on a (new) connection for the subscriptions that are on."""
        out: list[str] = []
        if self.push_on:
            out.append(self._push_frame())
        if self.stream:
            out.append(self._stream_frame())
        return out

    def deliveries(self, event: BaseModel) -> list[tuple[Listener, BaseModel]]:
        """Who gets a pushed ``event``, and as what: a StateChange narrowed to each
        listener's types (none left: not for that listener), typing / presence to the
        listeners that asked for them."""
        out: list[tuple[Listener, BaseModel]] = []
        kind = getattr(event, "type_", None)
        for lst in list(self.listeners):  # (the blocking client's listeners are threads)
            if kind == "StateChange":
                if lst.types is None:
                    out.append((lst, event))
                    continue
                changed: dict[str, dict[str, str]] = getattr(event, "changed", {})
                mine = {
                    acc: kept
                    for acc, states in changed.items()
                    if (kept := {t: s for t, s in states.items() if t in lst.types})
                }
                if mine:
                    out.append((lst, event.model_copy(update={"changed": mine})))
            elif kind in _STREAM_OF and _STREAM_OF[kind] in lst.stream:
                out.append((lst, event))
        return out

    # --- receiving ----------------------------------------------------------------------

    def classify(self, data: str | bytes) -> Received:
        """What one frame from the server means. Never raises."""
        if isinstance(data, bytes):
            return Broken(
                RemoteProtocolError("the server sent a binary frame (RFC 8887 allows only text)"),
                CLOSE_UNSUPPORTED_DATA,
            )
        if len(data) > self.max_frame:
            return Broken(
                RemoteProtocolError(
                    f"the server sent a {len(data)}-character frame, over the client's "
                    f"limit of {self.max_frame}"
                ),
                CLOSE_MESSAGE_TOO_BIG,
            )
        try:
            frame = loads(data)
        except RemoteProtocolError:
            return Broken(
                RemoteProtocolError("the server sent a frame that is not JSON"),
                CLOSE_INVALID_PAYLOAD,
            )
        if not isinstance(frame, dict) or not isinstance(frame.get("@type"), str):
            return Broken(
                RemoteProtocolError("the server sent a frame that is not an object with @type"),
                CLOSE_PROTOCOL_ERROR,
            )
        kind = frame["@type"]
        if kind == "Response":
            rid = frame.get("requestId")
            if not isinstance(rid, str):
                return Skipped("a Response without a requestId")
            return Reply(rid, frame)
        if kind == "RequestError":
            return self._request_error(frame)
        if kind == "StateChange":
            return self._state_change(frame)
        if kind in _STREAM_OF:
            wanted = _STREAM_OF[kind]
            if wanted not in self.stream:
                return Skipped(f"{kind} with {wanted} events off")
            return self._event(kind, frame)
        return Skipped(f"unknown @type {kind!r}")

    def _request_error(self, frame: dict[str, Any]) -> Received:
        rid = frame.get("requestId")
        body = {k: v for k, v in frame.items() if k not in ("@type", "requestId")}
        problem: JMAPError = request_rejected_from_problem(body)
        status = body.get("status")
        if body.get("type") in (None, "about:blank") and isinstance(status, int):
            # As over HTTP: "about:blank" problem details add nothing beyond the status.
            problem = HTTPStatusError(
                f"WebSocket request: status {status}"
                + (f": {body['detail']}" if isinstance(body.get("detail"), str) else ""),
                status_code=status,
            )
        if not isinstance(rid, str):
            # An enable frame refused (they carry no id), or a request the server could
            # not read at all: nothing waits on it by id.
            return Skipped(f"RequestError without requestId: {problem}")
        return Reply(rid, problem)

    def _state_change(self, frame: dict[str, Any]) -> Received:
        if not self.push_on:
            return Skipped("StateChange with push off")
        got = self._event("StateChange", frame)
        if isinstance(got, Pushed):
            push_state = frame.get("pushState")
            if isinstance(push_state, str):
                self.push_state = push_state
        return got

    def _event(self, kind: str, frame: dict[str, Any]) -> Received:
        model = self._models.get(kind)
        if model is None:
            return Skipped(f"no model for {kind}")
        try:
            return Pushed(model.model_validate(frame))
        except ValidationError:
            return Skipped(f"malformed {kind} frame")

    @staticmethod
    def closed_error(code: int | None, reason: str = "") -> TransportError | AuthenticationError:
        """The error for requests lost when the socket closed with ``code``."""
        if code == CLOSE_POLICY_VIOLATION:
            return AuthenticationError(
                "the server closed the WebSocket: credentials no longer valid (1008)",
                status_code=401,
            )
        what = f" (code {code})" if code is not None else ""
        return TransportError(f"the WebSocket closed before the reply arrived{what}", sent=True)


# --- the executor over the socket ---------------------------------------------------------


def ws_execute_flow(
    request: BaseRequest,
    *,
    account_id: str | None,
    policy: RetryPolicy,
    channel: WebSocketChannel,
) -> Flow[Response]:
    """`execute_flow` over the WebSocket: same splitting, same binding, same retry rules,
    but up to ``maxConcurrentRequests`` envelopes in flight at once.

    Envelopes overlap only where the server's order cannot matter (`Splitter.ready`:
    further chunks of one call, or reads among reads; never past a reference to, or a
    creation id from, a call not yet answered), so results are those of sending them
    one by one. A chunk that fails stops the chunks not yet sent; ones already in flight
    may still apply (the error's description says how many did).
    """
    holder: list[Splitter] = []
    try:
        return (yield from _ws_execute(request, account_id, policy, channel, holder))
    except BaseException as exc:
        splitter = holder[0] if holder else None
        fail_request(request, exc, splitter, splitter.in_flight if splitter else [])
        raise


def _ws_execute(
    request: BaseRequest,
    account_id: str | None,
    policy: RetryPolicy,
    channel: WebSocketChannel,
    holder: list[Splitter],
) -> Flow[Response]:
    session: Session = yield FreshSession()
    if request.account_id is None:
        request.account_id = account_id
    splitter = Splitter(request, session.core, supported=session.capabilities)
    holder.append(splitter)
    window = max(1, session.core.max_concurrent_requests)
    in_flight: dict[str, tuple[Any, int]] = {}  # request id -> (envelope, attempt)

    while True:
        while len(in_flight) < window and splitter.ready():
            env = splitter.next_envelope()
            if env is None:
                break
            rid, frame = channel.request_frame(env.body)
            yield from _send(frame, rid, policy)
            in_flight[rid] = (env, 0)
        if not in_flight:
            return splitter.response()
        rid, reply = yield WSReceive(tuple(in_flight))
        env, attempt = in_flight.pop(rid)
        delay = _resend_delay(reply, env, attempt, policy)
        if delay is None and not isinstance(reply, JMAPError):
            last = env is splitter.envelopes[-1]
            if splitter.absorb(env, reply, resend_ok=last and attempt < policy.retries):
                if splitter.session_state is not None:
                    yield ObservedSessionState(splitter.session_state)
                continue
            delay = policy.backoff(attempt + 1)  # serverUnavailable, nothing changed
        if delay is None:
            assert isinstance(reply, JMAPError)
            if isinstance(reply, TransportError) and reply.sent and not env.replay_safe:
                reply.add_note(
                    "not retried: the request may have reached the server and it is not "
                    "safe to send twice"
                )
            raise reply
        yield Sleep(delay)
        rid, frame = channel.request_frame(env.body)
        yield from _send(frame, rid, policy)
        in_flight[rid] = (env, attempt + 1)


def _send(frame: str, rid: str, policy: RetryPolicy) -> Flow[None]:
    """Send one Request frame; a connection that cannot be made is retried (never sent)."""
    attempt = 0
    while True:
        try:
            yield WSSend(frame, rid)
            return
        except TransportError as exc:
            if exc.sent or attempt >= policy.retries:
                raise
            attempt += 1
            yield Sleep(policy.backoff(attempt))


def _resend_delay(reply: Any, env: Any, attempt: int, policy: RetryPolicy) -> float | None:
    """Seconds to wait before resending ``env`` after ``reply``, or None (`_policy` rules)."""
    if attempt >= policy.retries or not isinstance(reply, JMAPError):
        return None
    if isinstance(reply, TransportError):
        return policy.backoff(attempt + 1) if (not reply.sent or env.replay_safe) else None
    if isinstance(reply, LimitExceeded) and reply.limit == "maxConcurrentRequests":
        return policy.backoff(attempt + 1)  # refused before it ran
    return None
