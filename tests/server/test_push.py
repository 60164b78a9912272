# ruff: noqa: PT018
"""Outbound Web Push: the RFC 8030 `Urgency` header from ChatPushConfig (push draft §Urgency)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .conftest import CHAT, CORE, Api

pytestmark = pytest.mark.anyio

PUSH_USING = [CORE, CHAT, "urn:ietf:params:jmap:chat:push"]
Received = tuple[str, dict[str, str], Any]


class Receiver:
    """A loopback push service: records (path, lower-cased headers, JSON body)."""

    def __init__(self) -> None:
        self.got: queue.Queue[Received] = queue.Queue()
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got.put(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw))
                )
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def next(self) -> Received:
        return self.got.get(timeout=5)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


async def subscribe(api: Api, receiver: Receiver, path: str, **sub: Any) -> None:
    res = await api.ok(
        "PushSubscription/set",
        {"create": {"s": {"deviceClientId": path, "url": receiver.base + path, **sub}}},
        PUSH_USING,
    )
    sid = res["created"]["s"]["id"]
    got_path, headers, body = receiver.next()
    assert got_path == path and body["@type"] == "PushVerification"
    assert headers["urgency"] == "normal"  # not chat push: RFC 8030's default
    await api.ok(
        "PushSubscription/set",
        {"update": {sid: {"verificationCode": body["verificationCode"]}}},
        PUSH_USING,
    )


async def test_chat_push_urgency(alice: Api, bob: Api, carol: Api, receiver: Receiver) -> None:
    # `properties` leaves out hasMention / mentionScopes: urgency still sees them.
    config = {"urgency": "low", "mentionUrgency": "high", "properties": ["messageId"]}
    await subscribe(bob, receiver, "/bob", chatPush={bob.acc: config})
    await subscribe(carol, receiver, "/carol", chatPush={carol.acc: {}})
    await subscribe(carol, receiver, "/carol-state", types=["Message"])
    g = await alice.create("Chat", {"kind": "group", "name": "G", "memberIds": ["bob", "carol"]})

    async def send(body: str, **more: Any) -> dict[str, tuple[str, Any]]:
        await alice.send(g["id"], body, **more)
        out = {}
        for _ in range(3):
            path, headers, payload = receiver.next()
            out[path] = (headers["urgency"], payload)
        return out

    plain = await send("no mentions here")
    assert plain["/bob"][0] == "low" and set(plain["/bob"][1]["messages"][0]) == {"messageId"}
    assert plain["/carol"][0] == "normal"  # no `urgency` → "normal"
    assert plain["/carol-state"] == ("normal", plain["/carol-state"][1])
    assert plain["/carol-state"][1]["@type"] == "StateChange"
    direct = await send("hey bob", mentions=[{"id": "bob", "offset": 4, "length": 3}])
    assert direct["/bob"][0] == "high"
    assert direct["/carol"][0] == "normal"  # no mentionUrgency: mentions use `urgency`
    broadcast = await send(
        "@everyone hi", broadcastMentions=[{"scope": "everyone", "offset": 0, "length": 9}]
    )
    assert broadcast["/bob"][0] == "high"  # non-empty mentionScopes
    assert broadcast["/carol"][0] == "normal"
