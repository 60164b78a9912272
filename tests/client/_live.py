"""A reference server on a loopback port that can be stopped and restarted on the same
database and port (for the real-time tests), plus a way to change data while it is down."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from jmapchat.server import ChatServer, serve_in_thread

USERS = ["alice", "bob"]


class LiveServer:
    def __init__(self, db: Path, app_wrapper: Any = None) -> None:
        self.db = str(db)
        self._wrap = app_wrapper
        self._stack: contextlib.ExitStack | None = None
        self.server: ChatServer | None = None
        self.port = 0
        self.base = ""

    def start(self) -> str:
        stack = contextlib.ExitStack()
        server = stack.enter_context(ChatServer(db=self.db, users=USERS))
        served: Any = server
        if self._wrap is not None:
            served = _Wrapped(self._wrap(server.app))
        self.base = stack.enter_context(serve_in_thread(served, port=self.port))
        self.port = int(self.base.rsplit(":", 1)[1])
        self._stack, self.server = stack, server
        return self.base

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack = self.server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def tokens(self) -> dict[str, str]:
        assert self.server is not None
        return self.server.tokens

    def call(self, user: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """One method call straight into the engine (works whether or not it is served)."""
        server = self.server or ChatServer(db=self.db, users=USERS)
        try:
            args = {"accountId": server.account_ids[user], **args}
            body = {"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"]}
            body["methodCalls"] = [[name, args, "c"]]  # type: ignore[list-item]
            out = server.engine.handle(user, json.dumps(body).encode())
        finally:
            if server is not self.server:
                server.close()
        name_out, result, _ = out["methodResponses"][0]
        assert name_out == name, result
        return dict(result)

    def direct_chat(self, user: str, other: str) -> str:
        res = self.call(user, "Chat/set", {"create": {"c": {"kind": "direct", "contactId": other}}})
        return str(res["created"]["c"]["id"])

    def send(self, user: str, chat: str, body: str) -> str:
        msg = {"chatId": chat, "body": body, "sentAt": "2026-01-01T00:00:00Z"}
        res = self.call(user, "Message/set", {"create": {"m": msg}})
        return str(res["created"]["m"]["id"])


class _Wrapped:
    """What `serve_in_thread` needs: an object with an ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
