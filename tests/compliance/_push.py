"""Web Push (RFC 8620 §7.2 + draft-atwood-jmap-chat-push) capture for the compliance suite.

A tiny HTTP receiver on the loopback interface plays the push service: the test creates a
PushSubscription whose ``url`` points at it, answers the PushVerification, and then reads
the ``ChatMessagePush`` payloads (and their Web Push headers, e.g. ``Urgency``) that the
server POSTs.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._harness import CHAT, CHAT_PUSH, CORE, Harness

VERIFY_TIMEOUT = 5.0
PUSH_TIMEOUT = 5.0


class _Receiver:
    def __init__(self) -> None:
        self.inbox: dict[str, queue.Queue[tuple[dict[str, str], Any]]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw
                receiver.box(self.path).put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def box(self, path: str) -> queue.Queue[tuple[dict[str, str], Any]]:
        with self._lock:
            return self.inbox.setdefault(path, queue.Queue())

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class PushProbe:
    """Creates verified chat push subscriptions and reads what the server pushes."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.receiver = _Receiver()
        self.paths: dict[str, str] = {}
        self.sub_ids: dict[str, str] = {}
        self.last_headers: dict[str, str] = {}
        self.last_payload: dict[str, Any] = {}
        self._pending: dict[str, deque[tuple[dict[str, Any], dict[str, Any], dict[str, str]]]] = {}

    def close(self) -> None:
        self.receiver.close()

    def subscribe(self, user: str, **config: Any) -> str:
        """Create and verify a PushSubscription for ``user`` with one ChatPushConfig."""
        cfg = {k: v for k, v in config.items() if v is not None}
        path = f"/push/{user}/{len(self.paths) + 1}"
        self.paths[user] = path
        res = self.h.set(
            user,
            "PushSubscription",
            using=[CORE, CHAT, CHAT_PUSH],
            create={
                "s": {
                    "deviceClientId": f"compliance-{user}",
                    "url": self.receiver.base + path,
                    "types": None,
                    "chatPush": {self.h.acct(user): cfg},
                }
            },
        )
        assert "s" in (res.get("created") or {}), f"PushSubscription create failed: {res}"
        sub_id = str(res["created"]["s"]["id"])
        self.sub_ids[user] = sub_id
        try:
            _, body = self.receiver.box(path).get(timeout=VERIFY_TIMEOUT)
        except queue.Empty:
            raise AssertionError(
                "server sent no PushVerification to the subscription URL (RFC 8620 §7.2.2)"
            ) from None
        assert body.get("@type") == "PushVerification", body
        assert body["pushSubscriptionId"] == sub_id
        self.h.update(
            user,
            "PushSubscription",
            sub_id,
            {"verificationCode": body["verificationCode"]},
            using=[CORE, CHAT, CHAT_PUSH],
        )
        return sub_id

    def next_entry(self, user: str, timeout: float = PUSH_TIMEOUT) -> dict[str, Any]:
        """The next ChatMessageEntry pushed to ``user`` (servers MAY batch several entries
        into one ChatMessagePush; ``last_payload`` / ``last_headers`` describe its payload)."""
        pending = self._pending.setdefault(user, deque())
        if not pending:
            payload = self.next_chat_push(user, timeout)
            assert isinstance(payload.get("messages"), list), payload
            assert payload["messages"], "messages MUST be non-empty"
            for entry in payload["messages"]:
                pending.append((entry, payload, self.last_headers))
        entry, self.last_payload, self.last_headers = pending.popleft()
        return entry

    def next_chat_push(self, user: str, timeout: float = PUSH_TIMEOUT) -> dict[str, Any]:
        """The next ChatMessagePush delivered to ``user``'s subscription."""
        box = self.receiver.box(self.paths[user])
        seen = []
        while True:
            try:
                headers, body = box.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no ChatMessagePush delivered to {user}; other pushes seen: {seen}"
                ) from None
            if isinstance(body, dict) and body.get("@type") == "ChatMessagePush":
                self.last_headers = headers
                return body
            seen.append(body)


@contextlib.contextmanager
def push_probe(h: Harness) -> Iterator[PushProbe]:
    probe = PushProbe(h)
    try:
        yield probe
    finally:
        probe.close()
