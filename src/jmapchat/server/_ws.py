"""JMAP over WebSocket (RFC 8887) with the chat extension (draft-atwood-jmap-chat-wss).

One `_Connection` per socket, authenticated at the handshake exactly like an HTTP request
(Bearer token; ``jmap`` subprotocol required). The reader handles frames in order (push
and chat-stream subscriptions; refusals), starting each ``Request`` as a task of its own —
up to ``maxConcurrentRequests`` at once, each answered (``Response`` / ``RequestError``)
as soon as it is done, on a worker thread through the same engine as ``POST /jmap/api/``,
which runs one write at a time. The pump turns the account's hub notifications into
``StateChange`` frames and the ephemeral ``ChatTypingEvent`` / ``ChatPresenceEvent``
frames, each checked against the delivery rules at the moment it is sent. A bad frame is
answered with a ``RequestError`` and the connection goes on; nothing a client sends can
end it except a close.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import orjson
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from .._core import CHAT_WEBSOCKET, ERROR_NOT_JSON, ERROR_NOT_REQUEST, WEBSOCKET
from ._engine import Problem, limit_problem
from ._events import (
    PresenceLimiter,
    TypingLimiter,
    encode_states,
    parse_states,
    presence_allowed,
    states,
    typing_allowed,
)
from ._push import Subscriber
from ._types.misc import PUSH_TYPES

if TYPE_CHECKING:
    from ._server import ChatServer

__all__ = ["WS_PATH", "session_capabilities", "websocket_endpoint"]

log = logging.getLogger("jmapchat.server")

WS_PATH = "/jmap/ws/"
SUBPROTOCOL = "jmap"
INVALID_ARGUMENTS = "urn:ietf:params:jmap:error:invalidArguments"
EPHEMERAL_TYPES = ("typing", "presence")
# Close codes (RFC 6455 §7.4.1): credentials no longer valid (wss draft §Authentication),
# server going away.
POLICY_VIOLATION = 1008
GOING_AWAY = 1001

_GONE = (WebSocketDisconnect, RuntimeError, anyio.ClosedResourceError, OSError)


def session_capabilities(base_url: str) -> dict[str, Any]:
    """The session ``capabilities`` entries for the WebSocket transport."""
    scheme, _, rest = base_url.partition("://")
    ws_scheme = "wss" if scheme == "https" else "ws"
    return {
        WEBSOCKET: {"url": f"{ws_scheme}://{rest}{WS_PATH}", "supportsPush": True},
        CHAT_WEBSOCKET: {},
    }


def _problem_frame(p: Problem, request_id: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "RequestError", **p.to_json()}
    if request_id is not None:
        out["requestId"] = request_id
    return out


def _bad(urn: str, detail: str) -> Problem:
    return Problem(urn, detail)


class _Connection:
    def __init__(self, server: ChatServer, ws: WebSocket, user: str, token: str) -> None:
        self.server = server
        self.core = server.core
        self.ws = ws
        self.user = user
        self.token = token
        self.account = server.core.accounts[user]
        self._send_lock = anyio.Lock()
        self._push_lock = anyio.Lock()
        self.inflight = 0
        # WebSocketPushEnable: the types (None = off) and the states last reported.
        self.push_types: list[str] | None = None
        self.pushed: dict[str, str] = {}
        # ChatStreamEnable: categories, chat / contact filters (None = all).
        self.ephemeral: set[str] = set()
        self.chat_ids: set[str] | None = None
        self.contact_ids: set[str] | None = None
        self.typing_limiter = TypingLimiter()
        self.presence_limiter = PresenceLimiter(server.core.presence_interval)
        # Last statusText / statusEmoji sent per contact: unchanged values are omitted.
        self.presence_sent: dict[str, dict[str, Any]] = {}

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_text(orjson.dumps(frame).decode())

    async def send_text(self, data: str) -> None:
        async with self._send_lock:
            await self.ws.send_text(data)

    # --- reading ------------------------------------------------------------------------

    async def read_loop(self, tg: anyio.abc.TaskGroup) -> None:
        limit = self.server.limits.max_size_request
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if self.server._user_for_token(self.token) != self.user:
                # The credentials were revoked or rotated while the socket was open.
                await self.ws.close(POLICY_VIOLATION, "credentials no longer valid")
                return
            text = message.get("text")
            if text is None:
                await self.send(
                    _problem_frame(_bad(ERROR_NOT_JSON, "binary frames are not JMAP (RFC 8887)"))
                )
                continue
            # (UTF-8 is at most 4 bytes a character: most frames need no encoding to tell)
            if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
                p = limit_problem(
                    "maxSizeRequest", f"the frame is larger than maxSizeRequest ({limit} bytes)"
                )
                await self.send(_problem_frame(p))
                continue
            try:
                frame = orjson.loads(text)
            except orjson.JSONDecodeError:
                await self.send(_problem_frame(_bad(ERROR_NOT_JSON, "the frame is not valid JSON")))
                continue
            await self.dispatch(frame, tg)

    async def dispatch(self, frame: Any, tg: anyio.abc.TaskGroup) -> None:
        if not isinstance(frame, dict) or not isinstance(frame.get("@type"), str):
            p = _bad(ERROR_NOT_REQUEST, "a frame must be a JSON object with a string @type")
            await self.send(_problem_frame(p))
            return
        kind = frame["@type"]
        if kind == "Request":
            rid = frame.get("id")
            if rid is not None and not isinstance(rid, str):
                await self.send(_problem_frame(_bad(ERROR_NOT_REQUEST, "id must be a string")))
                return
            if self.inflight >= self.server.limits.max_concurrent_requests:
                p = limit_problem(
                    "maxConcurrentRequests",
                    "more than maxConcurrentRequests "
                    f"({self.server.limits.max_concurrent_requests}) at once",
                )
                await self.send(_problem_frame(p, rid))
                return
            self.inflight += 1
            tg.start_soon(self.guarded_request, rid, frame)
        elif kind == "WebSocketPushEnable":
            await self.push_enable(frame)
        elif kind == "WebSocketPushDisable":
            self.push_types = None
        elif kind == "ChatStreamEnable":
            await self.stream_enable(frame)
        elif kind == "ChatStreamDisable":
            self.ephemeral = set()
        # Any other @type is ignored (wss draft §Handling Unknown Message Types).

    async def request(self, rid: str | None, frame: dict[str, Any]) -> None:
        """Answer one Request frame. Several run at once (up to maxConcurrentRequests);
        each is answered as soon as it is done, in whatever order (RFC 8887 §4.3.1); the
        engine serializes their writes itself."""
        body = {k: v for k, v in frame.items() if k not in ("@type", "id")}
        try:
            # Off the event loop, like POST /jmap/api/: other sockets and requests go on.
            data = await anyio.to_thread.run_sync(self.answer, rid, body)
        except Problem as p:
            data = orjson.dumps(_problem_frame(p, rid)).decode()
        except Exception:
            log.exception("WebSocket request failed")
            fail = Problem("about:blank", "internal server error", status=500)
            data = orjson.dumps(_problem_frame(fail, rid)).decode()
        finally:
            # Free the slot before answering: the client may send its next request as
            # soon as it has read this response.
            self.inflight -= 1
        await self.send_text(data)

    def answer(self, rid: str | None, body: dict[str, Any]) -> str:
        """The Response frame for a decoded request (worker thread): the frame's own
        fields go to the engine as they are, and the answer is encoded once, here."""
        engine = self.server.engine
        out: dict[str, Any] = {"@type": "Response"}
        out.update(engine.handle_request(self.user, engine.check(body)))
        if rid is not None:
            out["requestId"] = rid
        return engine.encode(out).decode()

    async def guarded_request(self, rid: str | None, frame: dict[str, Any]) -> None:
        """`request`, where a socket that went away meanwhile just ends the task."""
        with contextlib.suppress(*_GONE):
            await self.request(rid, frame)

    async def push_enable(self, frame: dict[str, Any]) -> None:
        types = frame.get("dataTypes")
        push_state = frame.get("pushState")
        if (types is not None and not _str_list(types)) or (
            push_state is not None and not isinstance(push_state, str)
        ):
            p = _bad(INVALID_ARGUMENTS, "dataTypes must be a list of strings or null")
            await self.send(_problem_frame(p))
            return
        async with self._push_lock:
            self.push_types = (
                list(PUSH_TYPES) if types is None else [t for t in types if t in PUSH_TYPES]
            )
            if push_state is None:
                self.pushed = await self.states()
                return
            # Resuming: report whatever changed since the client's pushState (RFC 8887
            # §4.3.5).
            self.pushed = parse_states(push_state)
        await self.push_states()

    async def states(self) -> dict[str, str]:
        """The account's states, read on a worker thread: the store's lock may be held
        by a writer, and the event loop must never wait for it."""
        return await anyio.to_thread.run_sync(states, self.core, self.account)

    async def push_states(self) -> None:
        # One at a time (the pump, and a resuming WebSocketPushEnable): states are
        # compared with, and recorded as, what was last reported.
        async with self._push_lock:
            if self.push_types is None:
                return
            now = await self.states()
            changed = {t: now[t] for t in self.push_types if self.pushed.get(t) != now[t]}
            self.pushed = now
            if changed:
                await self.send(
                    {
                        "@type": "StateChange",
                        "changed": {self.account: changed},
                        "pushState": encode_states(now),
                    }
                )

    async def stream_enable(self, frame: dict[str, Any]) -> None:
        types = frame.get("dataTypes")
        chat_ids = frame.get("chatIds")
        contact_ids = frame.get("contactIds")
        wanted = {t for t in types or () if t in EPHEMERAL_TYPES} if _str_list(types) else set()
        if (
            not wanted
            or (chat_ids is not None and not _str_list(chat_ids))
            or (contact_ids is not None and not _str_list(contact_ids))
        ):
            p = _bad(
                INVALID_ARGUMENTS,
                'dataTypes must include "typing" or "presence"; chatIds and contactIds '
                "must be lists of ids or null",
            )
            await self.send(_problem_frame(p))
            return
        self.ephemeral = wanted
        self.chat_ids = None if chat_ids is None else set(chat_ids)
        self.contact_ids = None if contact_ids is None else set(contact_ids)

    # --- pushing ------------------------------------------------------------------------

    async def pump(self, sub: Subscriber) -> None:
        while True:
            held = self.presence_limiter.next_due()
            await sub.wait(30.0 if held is None else min(30.0, held))
            if sub.closed:
                await self.ws.close(GOING_AWAY, "server shutting down")
                return
            if sub.dirty:
                sub.dirty = False
                await self.push_states()
            while sub.queue:
                await self.deliver(*sub.queue.popleft())
            # After the queue: a newer event there supersedes one held since.
            for data in self.presence_limiter.due():
                await self.deliver("presence", data, limited=False)

    async def deliver(self, event: str, data: dict[str, Any], *, limited: bool = True) -> None:
        """Send the frame for a hub event, if the delivery rules let it through now."""
        try:
            frame = self.ephemeral_frame(event, data, limited=limited)
        except Exception:  # one bad event must not end the connection
            log.exception("dropping a %s event", event)
            return
        if frame is not None:
            await self.send(frame)

    def ephemeral_frame(
        self, event: str, data: dict[str, Any], *, limited: bool = True
    ) -> dict[str, Any] | None:
        """The frame for a hub event, or None when a delivery rule drops it (or, with
        ``limited``, the presence rate limit holds it for later)."""
        if event == "typing" and "typing" in self.ephemeral:
            if self.chat_ids is not None and data.get("chatId") not in self.chat_ids:
                return None
            if not typing_allowed(self.core, self.account, data):
                return None
            if not self.typing_limiter.allow(data):
                return None
            return {
                "@type": "ChatTypingEvent",
                "chatId": data["chatId"],
                "senderId": data["senderId"],
                "typing": bool(data.get("typing")),
            }
        if event == "presence" and "presence" in self.ephemeral:
            contact = data.get("contactId")
            if not isinstance(contact, str):
                return None
            if self.contact_ids is not None and contact not in self.contact_ids:
                return None
            if not presence_allowed(self.core, self.account, data):
                return None
            if limited and not self.presence_limiter.offer(data):
                return None  # held: delivered by pump() when the contact's window ends
            frame: dict[str, Any] = {
                "@type": "ChatPresenceEvent",
                "contactId": contact,
                "presence": data.get("presence") or "online",
            }
            if data.get("lastActiveAt"):
                frame["lastActiveAt"] = data["lastActiveAt"]
            # statusText / statusEmoji: absent means "unchanged" (wss draft), so each is
            # sent the first time and then only when it differs from what was sent.
            sent = self.presence_sent.setdefault(contact, {})
            for key in ("statusText", "statusEmoji"):
                value = data.get(key)
                if key not in sent or sent[key] != value:
                    frame[key] = value
                    sent[key] = value
            return frame
        return None


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def websocket_endpoint(
    server: ChatServer, authenticate: Callable[[WebSocket], tuple[str, str] | None]
) -> Callable[[WebSocket], Any]:
    """The starlette WebSocket endpoint; ``authenticate`` gives (user, token) or None."""

    async def endpoint(ws: WebSocket) -> None:
        who = authenticate(ws)
        if who is None:
            await _deny(ws, 401, "missing or invalid bearer token")
            return
        if SUBPROTOCOL not in ws.scope.get("subprotocols", []):
            await _deny(ws, 400, 'the "jmap" WebSocket subprotocol is required (RFC 8887)')
            return
        user, token = who
        conn = _Connection(server, ws, user, token)
        sub = server.core.hub.subscribe(conn.account)
        try:
            await ws.accept(subprotocol=SUBPROTOCOL)
            async with anyio.create_task_group() as tg:

                async def pump() -> None:
                    with contextlib.suppress(*_GONE):
                        await conn.pump(sub)
                    tg.cancel_scope.cancel()

                tg.start_soon(pump)
                with contextlib.suppress(*_GONE):
                    await conn.read_loop(tg)
                tg.cancel_scope.cancel()
        finally:
            server.core.hub.unsubscribe(sub)

    async def _deny(ws: WebSocket, status: int, detail: str) -> None:
        body = orjson.dumps({"type": "about:blank", "status": status, "detail": detail})
        headers = {"WWW-Authenticate": 'Bearer realm="jmapchat"'} if status == 401 else None
        response = Response(
            body, status_code=status, media_type="application/problem+json", headers=headers
        )
        try:
            await ws.send_denial_response(response)
        except RuntimeError:  # no denial-response extension: a plain refusal (HTTP 403)
            await ws.close(POLICY_VIOLATION)

    return endpoint
