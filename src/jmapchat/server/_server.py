"""`ChatServer` (the in-process server object), `ServerLimits`, `serve_in_thread`."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any

from starlette.applications import Starlette

from ._app import build_app
from ._engine import Core, Ctx, Engine
from ._push import Hub, PushSender
from ._store import CREATED, Store
from ._types import register_all
from ._types._common import ensure_contact
from ._util import new_id, now_utc

__all__ = ["ChatServer", "ServerLimits", "serve_in_thread"]


@dataclass(frozen=True)
class ServerLimits:
    """The RFC 8620 core capability limits the server advertises and enforces."""

    max_size_upload: int = 50_000_000
    max_concurrent_upload: int = 4
    max_size_request: int = 10_000_000
    max_concurrent_requests: int = 4
    max_calls_in_request: int = 16
    max_objects_in_get: int = 500
    max_objects_in_set: int = 500

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer")


class ChatServer:
    """A JMAP Chat development server: SQLite storage + a starlette ASGI app.

    ``server.app`` is the ASGI app; use it with ``httpx.ASGITransport``, starlette's
    ``TestClient``, or `serve_in_thread` / ``jmapchat serve`` for a real socket.
    """

    def __init__(
        self,
        db: str = ":memory:",
        users: Sequence[str] = (),
        tokens: Mapping[str, str] | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        self.limits = limits or ServerLimits()
        self.store = Store(str(db))
        self.core = Core(self.store, self.limits, Hub(), PushSender())
        register_all(self.core)
        self.engine = Engine(self.core)
        self._tokens: dict[str, str] = {}
        self._by_token: dict[str, str] = {}
        try:
            for username, account_id, token in self.store.users():
                self._remember(username, account_id, token)
            tokens = dict(tokens or {})
            for username in users:
                if username not in self.core.accounts:
                    self.add_user(username, token=tokens.get(username))
                elif tokens.get(username) and tokens[username] != self._tokens[username]:
                    self._set_token(username, tokens[username])
        except BaseException:
            self.store.close()
            raise
        self.core.pusher.prime(self.core)
        self.app: Starlette = build_app(self)

    # --- users ---------------------------------------------------------------------------

    def _remember(self, username: str, account_id: str, token: str) -> None:
        self.core.accounts[username] = account_id
        self.core.users_by_account[account_id] = username
        old = self._tokens.get(username)
        if old is not None:
            self._by_token.pop(_digest(old), None)
        self._tokens[username] = token
        self._by_token[_digest(token)] = username

    def _set_token(self, username: str, token: str) -> None:
        with self.store.transaction():
            self.store.set_token(username, token)
        self._remember(username, self.core.accounts[username], token)

    def _user_for_token(self, token: str) -> str | None:
        return self._by_token.get(_digest(token))

    def add_user(self, username: str, token: str | None = None) -> str:
        """Create a user (and their account); returns their bearer token."""
        if (
            not isinstance(username, str)
            or not username
            or len(username) > 255
            or not username.isprintable()
        ):
            raise ValueError("a username must be a non-empty printable string")
        if username == "self":
            raise ValueError('"self" is reserved')
        if username in self.core.accounts:
            raise ValueError(f"user {username!r} exists")
        token = token or secrets.token_hex(24)  # hex: never starts with "-", safe as a CLI argument
        account_id = "A" + new_id()
        others = list(self.core.accounts)
        self.core.accounts[username] = account_id
        self.core.users_by_account[account_id] = username
        try:
            with self.store.transaction():
                self.store.add_user(username, account_id, token, now_utc())
                ctx = Ctx(self.core, username, {})
                ps = {
                    "id": new_id(),
                    "presence": "online",
                    "statusText": None,
                    "statusEmoji": None,
                    "expiresAt": None,
                    "receiptSharing": True,
                    "updatedAt": ctx.now,
                }
                ctx.write("PresenceStatus", ps, CREATED)
                for other in others:
                    ensure_contact(ctx, account_id, other)
                    ensure_contact(ctx, self.core.accounts[other], username)
        except BaseException:
            del self.core.accounts[username]
            del self.core.users_by_account[account_id]
            raise
        ctx.flush()
        self._remember(username, account_id, token)
        return token

    @property
    def tokens(self) -> dict[str, str]:
        """Bearer token per user name (a copy)."""
        return dict(self._tokens)

    @property
    def account_ids(self) -> dict[str, str]:
        """Account id per user name."""
        return dict(self.core.accounts)

    @property
    def contact_ids(self) -> dict[str, str]:
        """ChatContact id per user name, as other users see them."""
        return {u: u for u in self.core.accounts}

    # --- test hooks ----------------------------------------------------------------------

    def forget_changes(self, username: str | None = None, types: Sequence[str] = ()) -> None:
        """Forget the change log so far, as a server that expires old states does.

        ``/changes`` and ``/queryChanges`` from any state older than now then answer
        ``cannotCalculateChanges`` (for ``username``'s account, or every account; for
        ``types``, or every type). For testing clients' resync paths.
        """
        users = [username] if username is not None else list(self.core.accounts)
        for user in users:
            account = self.core.accounts[user]
            names = list(types) or sorted(self.store.modseqs(account))
            for name in names:
                self.store.forget_changes(account, name)

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the database and stop push delivery (``with ChatServer(...)`` does it)."""
        self.core.hub.close()
        self.core.pusher.close()
        self.store.close()

    def __enter__(self) -> ChatServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@contextmanager
def serve_in_thread(server: ChatServer, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``server.app`` with hypercorn on trio in a background thread; yield its base URL."""
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.graceful_timeout = 1.0
    config.loglevel = "WARNING"
    started = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        shutdown = trio.Event()
        state["token"] = trio.lowlevel.current_trio_token()
        state["shutdown"] = shutdown
        async with trio.open_nursery() as nursery:
            app: Any = server.app
            binds = await nursery.start(partial(serve, app, config, shutdown_trigger=shutdown.wait))
            state["binds"] = binds
            started.set()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # pragma: no cover - reported to the caller
            state["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=run, name="jmapchat-hypercorn", daemon=True)
    thread.start()
    started.wait(30)
    if "binds" not in state:
        thread.join(5)
        raise RuntimeError(f"the server did not start: {state.get('error')!r}")
    bind = str(state["binds"][0])
    try:
        yield bind
    finally:
        with contextlib.suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(state["shutdown"].set, trio_token=state["token"])
        thread.join(30)
