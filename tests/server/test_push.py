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
        while len(out) < 3:
            path, headers, payload = receiver.next()
            # The chat-push subscriptions also get StateChanges for the other types that
            # changed (Chat: lastMessageAt, unreadCount); only their ChatMessagePush counts.
            if path != "/carol-state" and payload["@type"] != "ChatMessagePush":
                continue
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


async def test_only_loopback_push_urls_are_contacted(
    alice: Api, bob: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dev-server safety: http(s) URLs off loopback are stored but never contacted (so never
    verified); http:// is accepted because the push receivers here are loopback test
    servers without TLS. Other schemes are refused."""
    import httpx

    from jmapchat.server._types.misc import is_loopback_url

    for url in (
        "http://127.0.0.1:9/x",
        "https://127.5.0.1/x",
        "http://[::1]:9/",
        "http://localhost/",
    ):
        assert is_loopback_url(url), url
    for url in (
        "https://push.example.com/x",
        "http://10.0.0.1/",
        "http://127.1/",
        "ftp://127.0.0.1/",
    ):
        assert not is_loopback_url(url), url

    contacted: list[str] = []
    real_post = httpx.Client.post

    def spy(self: httpx.Client, url: Any, *args: Any, **kw: Any) -> httpx.Response:
        contacted.append(str(url))
        return real_post(self, url, *args, **kw)

    monkeypatch.setattr(httpx.Client, "post", spy)
    remote = {"chatPush": {bob.acc: {}}}
    res = await bob.ok(
        "PushSubscription/set",
        {
            "create": {
                "https": {"deviceClientId": "r1", "url": "https://push.example.com/r1", **remote},
                "http": {"deviceClientId": "r2", "url": "http://192.0.2.1/r2", **remote},
                "ftp": {"deviceClientId": "r3", "url": "ftp://127.0.0.1/r3"},
            }
        },
        PUSH_USING,
    )
    assert set(res["created"]) == {"https", "http"}
    err = res["notCreated"]["ftp"]
    assert err["type"] == "invalidProperties" and err["properties"] == ["url"]
    # One sender thread posts in order: once the loopback verification and the message
    # push have arrived, anything queued before them has been attempted.
    await subscribe(bob, receiver, "/bob", chatPush={bob.acc: {}})
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    await alice.send(chat["id"], "hello")
    path, _headers, payload = receiver.next()
    while payload["@type"] == "StateChange":  # the new chat's own state changes come first
        path, _headers, payload = receiver.next()
    assert path == "/bob" and payload["@type"] == "ChatMessagePush"
    assert contacted and all(u.startswith(receiver.base) for u in contacted), contacted
    subs = (await bob.ok("PushSubscription/get", {"ids": None}, PUSH_USING))["list"]
    unverified = [s for s in subs if s["id"] in {v["id"] for v in res["created"].values()}]
    assert len(unverified) == 2 and all(s["verificationCode"] is None for s in unverified)
