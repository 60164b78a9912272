"""A scripted JMAP WebSocket server for the failure paths the reference server never takes.

It serves a minimal session (core limits, the websocket capability pointing at itself)
and a ``/ws`` endpoint that hands each frame to a test-supplied ``script``; the script
answers by calling the helpers on `Conn` (reply, send raw text, close). Runs on a real
loopback socket (hypercorn in a thread, via ``serve_in_thread``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

CORE = "urn:ietf:params:jmap:core"
WEBSOCKET = "urn:ietf:params:jmap:websocket"


@dataclass
class Conn:
    ws: WebSocket
    index: int  # 0 for the first connection, 1 for the next, …

    async def reply(self, frame: dict[str, Any], **extra: Any) -> None:
        """A Response echoing every call's arguments (right for Core/echo)."""
        responses = [[name, args, cid] for name, args, cid in frame["methodCalls"]]
        out = {"@type": "Response", "methodResponses": responses, "sessionState": "s1"}
        out["requestId"] = frame.get("id")
        out.update(extra)
        await self.ws.send_text(json.dumps(out))

    async def raw(self, text: str) -> None:
        await self.ws.send_text(text)

    async def close(self, code: int = 1011) -> None:
        await self.ws.close(code)


Script = Callable[[Conn, dict[str, Any]], Awaitable[None]]


@dataclass
class FakeServer:
    script: Script
    token: str = "secret-token-xyz"
    advertise_websocket: bool = True
    connections: int = 0
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/jmap", self._session),
                WebSocketRoute("/ws", self._ws),
            ]
        )

    async def _session(self, request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        caps: dict[str, Any] = {
            CORE: {
                "maxSizeUpload": 1000,
                "maxConcurrentUpload": 1,
                "maxSizeRequest": 1_000_000,
                "maxConcurrentRequests": 4,
                "maxCallsInRequest": 2,
                "maxObjectsInGet": 100,
                "maxObjectsInSet": 100,
                "collationAlgorithms": [],
            }
        }
        if self.advertise_websocket:
            caps[WEBSOCKET] = {"url": base.replace("http", "ws", 1) + "/ws", "supportsPush": True}
        doc = {
            "capabilities": caps,
            "accounts": {"A": {"name": "a", "isPersonal": True, "accountCapabilities": {}}},
            "primaryAccounts": {CORE: "A"},
            "username": "a",
            "apiUrl": base + "/api",
            "state": "s1",
        }
        return JSONResponse(doc)

    async def _ws(self, ws: WebSocket) -> None:
        if ws.headers.get("authorization") != f"Bearer {self.token}":
            await ws.close(1008)
            return
        await ws.accept(subprotocol="jmap")
        conn = Conn(ws, self.connections)
        self.connections += 1
        try:
            while True:
                text = await ws.receive_text()
                frame = json.loads(text)
                self.frames.append(frame)
                await self.script(conn, frame)
        except (WebSocketDisconnect, RuntimeError):
            pass
