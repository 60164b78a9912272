"""`ChatServer` (the in-process server object), `ServerLimits`, `serve_in_thread`."""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette

from ._app import build_app
from ._config import PRESENCE_INTERVAL, ServerLimits
from ._context import Core, Ctx
from ._engine import Engine
from ._push import Hub, PushSender
from ._store import CREATED, Store
from ._store import token_digest as _digest
from ._types import register_all
from ._types._common import ensure_contact
from ._util import new_id, now_utc

__all__ = ["ChatServer", "ServerLimits", "serve_in_thread", "write_token_file"]


class ChatServer:
    """A JMAP Chat development server: SQLite storage + a starlette ASGI app.

    ``server.app`` is the ASGI app; use it with ``httpx.ASGITransport``, starlette's
    ``TestClient``, or `serve_in_thread` / ``jmapchat serve`` for a real socket.
    ``presence_interval``: each push connection gets at most one ChatPresenceEvent per
    contact per this many seconds (30, the wss draft's SHOULD); a newer one within the
    window is held and delivered when it ends. 0 delivers every event at once.
    """

    def __init__(
        self,
        db: str = ":memory:",
        users: Sequence[str] = (),
        tokens: Mapping[str, str] | None = None,
        limits: ServerLimits | None = None,
        public_url: str | None = None,
        presence_interval: float = PRESENCE_INTERVAL,
    ) -> None:
        self.limits = limits or ServerLimits()
        self.public_url = _check_public_url(public_url)
        interval = _check_interval(presence_interval)  # before anything is opened
        self.store = Store(str(db))
        self.core = Core(self.store, self.limits, Hub(), PushSender())
        self.core.presence_interval = interval
        register_all(self.core)
        self.engine = Engine(self.core)
        self._tokens: dict[str, str] = {}  # plaintext, only for tokens seen in this process
        self._digests: dict[str, str] = {}  # username -> token digest
        self._by_token: dict[str, str] = {}  # token digest -> username
        try:
            for username, account_id, digest in self.store.users():
                self._remember(username, account_id, digest)
            tokens = dict(tokens or {})
            for username in users:
                given = tokens.get(username)
                if username not in self.core.accounts:
                    self.add_user(username, token=given)
                elif given:
                    if hmac.compare_digest(_digest(given), self._digests[username]):
                        self._tokens[username] = given
                    else:
                        self._set_token(username, given)
        except BaseException:
            self.store.close()
            raise
        self.core.pusher.prime(self.core)
        self.app: Starlette = build_app(self)

    # --- users ---------------------------------------------------------------------------

    def _remember(
        self, username: str, account_id: str, digest: str, token: str | None = None
    ) -> None:
        self.core.accounts[username] = account_id
        self.core.users_by_account[account_id] = username
        old = self._digests.get(username)
        if old is not None:
            self._by_token.pop(old, None)
        self._digests[username] = digest
        self._by_token[digest] = username
        if token is not None:
            self._tokens[username] = token

    def _set_token(self, username: str, token: str) -> None:
        digest = _digest(token)
        with self.store.transaction():
            self.store.set_token(username, digest)
        self._remember(username, self.core.accounts[username], digest, token)

    def _user_for_token(self, token: str) -> str | None:
        """The user a bearer token belongs to; only its digest is ever stored or compared."""
        digest = _digest(token)
        user = self._by_token.get(digest)
        if user is None or not hmac.compare_digest(digest, self._digests[user]):
            return None
        return user

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
                self.store.add_user(username, account_id, _digest(token), now_utc())
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
        self._remember(username, account_id, _digest(token), token)
        return token

    @property
    def presence_interval(self) -> float:
        """Seconds between two ChatPresenceEvents about one contact on one connection."""
        return self.core.presence_interval

    @presence_interval.setter
    def presence_interval(self, seconds: float) -> None:
        self.core.presence_interval = _check_interval(seconds)

    @property
    def tokens(self) -> dict[str, str]:
        """Bearer token per user name (a copy), for the tokens this process created or was
        given: the database keeps only digests, so a restarted server knows a token only
        when given it again."""
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
        self.engine.close()
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


def _check_interval(seconds: object) -> float:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds < float("inf")
    ):
        raise ValueError(f"presence_interval must be seconds >= 0, not {seconds!r}")
    return float(seconds)


def _check_public_url(url: str | None) -> str | None:
    """``http(s)://host[:port][/path]`` without query or fragment, trailing ``/`` removed."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range
        ok = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and not parts.query
            and not parts.fragment
            and "?" not in url
            and "#" not in url
        )
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"public_url must be an http(s) URL without query or fragment: {url!r}")
    return url.rstrip("/")


def write_token_file(path: str | os.PathLike[str], tokens: Mapping[str, str]) -> None:
    """Write ``{user: token}`` as JSON, readable by its owner only (mode 0600).

    The file is written next to its final name and renamed over it, so it is never
    visible with looser permissions, and an existing file loosened by hand is replaced."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(json.dumps(dict(tokens), indent=2) + "\n")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
