"""A real RFC 8887 WebSocket reader for the compliance suite (section 8, 3.4).

The server under test is served on a loopback port (hypercorn); the WebSocket URL is
discovered from that server's Session like every other URL, and a real WebSocket client
(the ``websockets`` library, not jmapchat) subscribes with ``WebSocketPushEnable`` and
``ChatStreamEnable``. Frames are turned into the same ``{"event", "data", "id"}`` items as
`EventStream` (``state`` / ``typing`` / ``presence``), so one test body checks both
transports.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ._harness import JMAP_WS, EventStream

_EVENTS = {"StateChange": "state", "ChatTypingEvent": "typing", "ChatPresenceEvent": "presence"}


class WsStream(EventStream):
    """`EventStream` (``wait_for``, ``events``) over a real WebSocket."""

    def __init__(self, base_url: str, token: str) -> None:
        self._base = base_url
        self._token = token
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._ws: ClientConnection | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> WsStream:
        headers = {"Authorization": f"Bearer {self._token}"}
        session = httpx.get(f"{self._base}/.well-known/jmap", headers=headers, timeout=20).json()
        url = session["capabilities"][JMAP_WS]["url"]
        assert url.startswith(("ws://", "wss://")), url
        self._cm = connect(
            url,
            additional_headers=headers,
            subprotocols=["jmap"],  # type: ignore[list-item]
            open_timeout=20,
        )
        self._ws = self._cm.__enter__()
        assert self._ws.subprotocol == "jmap"
        for frame in (
            {"@type": "WebSocketPushEnable", "dataTypes": None},
            {"@type": "ChatStreamEnable", "dataTypes": ["typing", "presence"]},
        ):
            self._ws.send(json.dumps(frame))
        # A request answered after both enables proves they were processed.
        self._ws.send(
            json.dumps(
                {
                    "@type": "Request",
                    "id": "ready",
                    "using": ["urn:ietf:params:jmap:core"],
                    "methodCalls": [["Core/echo", {}, "0"]],
                }
            )
        )
        while True:
            frame = json.loads(self._ws.recv(timeout=20))
            assert frame["@type"] != "RequestError", frame
            if frame.get("requestId") == "ready":
                break
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._cm.__exit__(None, None, None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _pump(self) -> None:
        assert self._ws is not None
        try:
            for raw in self._ws:
                frame = json.loads(raw)
                name = _EVENTS.get(frame.get("@type"))
                if name is not None:
                    self._queue.put({"event": name, "data": frame, "id": None})
        except ConnectionClosed:
            pass
        finally:
            self._queue.put({"event": "__closed__", "data": None, "id": None})
