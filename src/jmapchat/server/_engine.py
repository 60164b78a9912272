"""The RFC 8620 request engine: envelope validation, dispatch, references, creation ids.

`Core` is the server's state (store, limits, users, method registry, push hub);
`Engine.handle` turns one request body into a response (or raises `Problem`). Each
method call runs in its own transaction: a call that fails is rolled back alone, and
everything an earlier call committed stays committed.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from .._core._capabilities import BLOB2, CHAT, CHAT_PUSH, CORE, QUOTA
from .._core._errors import LimitExceeded, NotJSON, NotRequest, UnknownCapability
from .._core._resolve import ReferenceResolutionError, resolve_result_references
from ._bounds import MAX_ARGS_DEPTH, too_deep
from ._store import CREATED, GLOBAL, ReadOnlyStore, Store
from ._util import MethodErr, now_utc

if TYPE_CHECKING:
    from ._generic import DataType
    from ._push import Hub, PushSender
    from ._server import ServerLimits

__all__ = [
    "SUPPORTED_CAPABILITIES",
    "ChatSettings",
    "Core",
    "Ctx",
    "Engine",
    "Problem",
    "limit_problem",
]

log = logging.getLogger("jmapchat.server")

SUPPORTED_CAPABILITIES = frozenset({CORE, CHAT, CHAT_PUSH, QUOTA, BLOB2})

Handler = Callable[["Ctx", dict[str, Any]], Any]


class Problem(Exception):
    """A request-level error answered with RFC 7807 problem details."""

    def __init__(
        self, type: str, detail: str, *, status: int = 400, limit: str | None = None
    ) -> None:
        super().__init__(detail)
        self.type = type
        self.detail = detail
        self.status = status
        self.limit = limit

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "status": self.status, "detail": self.detail}
        if self.limit is not None:
            out["limit"] = self.limit
        return out


def limit_problem(limit: str, detail: str, status: int = 400) -> Problem:
    assert LimitExceeded.urn is not None
    return Problem(LimitExceeded.urn, detail, status=status, limit=limit)


@dataclass
class ChatSettings:
    max_body_bytes: int = 100_000
    max_attachment_bytes: int = 50_000_000
    max_attachments_per_message: int = 20
    supported_body_types: tuple[str, ...] = (
        "text/plain",
        "text/markdown",
        "application/jmap-chat-rich",
        "application/mls-ciphertext",
    )
    supports_threads: bool = True
    max_group_members: int = 256
    max_space_members: int = 10_000
    max_space_roles: int = 250
    max_space_channels: int = 500
    max_space_categories: int = 100
    max_snippet_bytes: int = 200


class Core:
    """Everything a method call can reach."""

    def __init__(self, store: Store, limits: ServerLimits, hub: Hub, pusher: PushSender) -> None:
        self.store = store
        self.limits = limits
        self.hub = hub
        self.pusher = pusher
        self.chat = ChatSettings()
        self.registry: dict[str, tuple[str, Handler]] = {}
        self.types: dict[str, DataType] = {}
        self.accounts: dict[str, str] = {}  # username -> accountId
        self.users_by_account: dict[str, str] = {}  # accountId -> username
        self.typing_seen: dict[tuple[str, str], float] = {}
        self.slow_mode_seen: dict[tuple[str, str], float] = {}
        store.blob_ref_visible = self.blob_ref_visible

    def blob_ref_visible(self, store: Store, account: str, scope: str, type: str, oid: str) -> bool:
        """May ``account`` read object ``oid`` (so download the blobs it references)?"""
        user = self.users_by_account.get(account)
        dt = self.types.get(type)
        if user is None or dt is None:
            return False
        ctx = Ctx(self, user, {}, store)
        return scope == dt.scope(ctx) and dt.load_one(ctx, oid) is not None

    def account_of(self, username: str) -> str | None:
        return self.accounts.get(username)

    def user_of(self, account_id: str) -> str:
        return self.users_by_account[account_id]

    def register(self, dt: DataType) -> None:
        from ._generic import register_standard

        self.types[dt.name] = dt
        register_standard(self.registry, dt)

    def method(self, name: str, capability: str, fn: Handler) -> None:
        self.registry[name] = (capability, fn)

    def sweep(self) -> None:
        """Apply expiry deadlines (senderExpiresAt, muteUntil, presence, bans, …)."""
        now = time.time()
        for scope, type, oid in self.store.expired(now):
            dt = self.types.get(type)
            if dt is None or not hasattr(dt, "expire"):
                continue
            if scope == GLOBAL:
                owner = next(iter(self.accounts), None)
                if owner is None:
                    continue
                ctx = Ctx(self, owner, {})
            else:
                if scope not in self.users_by_account:
                    continue
                ctx = Ctx(self, self.users_by_account[scope], {})
            try:
                with self.store.transaction():
                    dt.expire(ctx, scope, oid)
            except Exception:  # pragma: no cover - defensive
                log.exception("expiry of %s %s failed", type, oid)
                continue
            ctx.flush()


class Ctx:
    """One method call's view: the caller, their account, the request's creation ids."""

    def __init__(
        self, core: Core, user: str, created_ids: dict[str, str], store: Store | None = None
    ) -> None:
        self.core = core
        self.store = core.store if store is None else store
        self.limits = core.limits
        self.user = user
        self.account_id = core.accounts[user]
        self.created_ids = created_ids
        self.now = now_utc()
        self.now_ts = time.time()
        self.touched: set[str] = set()
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.after_commit: list[Callable[[], None]] = []
        self.cache: dict[Any, Any] = {}
        self.dirty_chats: set[tuple[str, str]] = set()
        # (delivered accounts, senderMsgId) of new messages, pushed after commit
        self.message_pushes: list[tuple[list[str], str]] = []

    def ref(self, value: str) -> str:
        """Resolve ``#creationId`` to the id it created in this request (else unchanged)."""
        if isinstance(value, str) and value.startswith("#"):
            return self.created_ids.get(value[1:], value)
        return value

    def type(self, name: str) -> DataType:
        return self.core.types[name]

    def write(
        self,
        dt: DataType | str,
        obj: dict[str, Any],
        kind: int,
        *,
        account: str | None = None,
        notify: list[str] | set[str] | None = None,
    ) -> None:
        if isinstance(dt, str):
            dt = self.type(dt)
        k1, k2, exp = dt.keys(obj)
        k3 = dt.sort_key(obj)
        if dt.scope_global:
            self.store.put(
                GLOBAL, dt.name, obj, k1=k1, k2=k2, expires=exp, k3=k3, fresh=kind == CREATED
            )
            for acc in sorted(set(notify or ())):
                self.store.log_change(acc, dt.name, obj["id"], kind)
                self.touched.add(acc)
        else:
            acc = account or self.account_id
            self.store.put(
                acc, dt.name, obj, k1=k1, k2=k2, expires=exp, k3=k3, fresh=kind == CREATED
            )
            self.store.log_change(acc, dt.name, obj["id"], kind)
            self.touched.add(acc)

    def remove(
        self,
        dt: DataType | str,
        oid: str,
        *,
        account: str | None = None,
        notify: list[str] | set[str] | None = None,
    ) -> None:
        from ._store import DESTROYED

        if isinstance(dt, str):
            dt = self.type(dt)
        if dt.scope_global:
            self.store.delete(GLOBAL, dt.name, oid)
            for acc in sorted(set(notify or ())):
                self.store.log_change(acc, dt.name, oid, DESTROYED)
                self.touched.add(acc)
        else:
            acc = account or self.account_id
            if self.store.delete(acc, dt.name, oid):
                self.store.log_change(acc, dt.name, oid, DESTROYED)
                self.touched.add(acc)

    def log_only(self, dt_name: str, oid: str, kind: int, accounts: list[str] | set[str]) -> None:
        for acc in sorted(set(accounts)):
            self.store.log_change(acc, dt_name, oid, kind)
            self.touched.add(acc)

    def emit(self, account: str, event: str, data: dict[str, Any]) -> None:
        self.events.append((account, event, data))

    def flush(self) -> None:
        """After commit: wake push listeners and run deferred work."""
        if self.touched:
            self.core.hub.notify_state(self.touched)
        for account, event, data in self.events:
            self.core.hub.publish(account, event, data)
        for fn in self.after_commit:
            try:
                fn()
            except Exception:  # pragma: no cover - defensive
                log.exception("deferred work failed")
        if self.touched:  # after the ChatMessagePushes above, which StateChange then skips
            self.core.pusher.state_changed(self.core, self.touched)
        self.touched = set()
        self.events = []
        self.after_commit = []
        self.message_pushes = []


_READ_SUFFIXES = ("/get", "/query", "/changes", "/queryChanges", "/lookup")


def _is_read_only(name: str) -> bool:
    return name == "Core/echo" or name.endswith(_READ_SUFFIXES)


class _Readers:
    """A pool of read-only connections to the writer's database file (none for
    ``:memory:``, which one connection owns: there every call runs on the writer)."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._lock = threading.Lock()
        self._idle: list[Store] = []
        self._all: list[Store] = []
        self._closed = False
        path = core.store.path
        self._enabled = path not in ("", ":memory:") and not path.startswith("file::memory:")

    def acquire(self) -> Store | None:
        if not self._enabled:
            return None
        with self._lock:
            if self._closed:
                return None
            if self._idle:
                return self._idle.pop()
        reader = Store(self._core.store.path, readonly=True)
        reader.blob_ref_visible = self._core.blob_ref_visible
        with self._lock:
            self._all.append(reader)
        return reader

    def release(self, reader: Store) -> None:
        with self._lock:
            if self._closed:
                reader.close()
            else:
                self._idle.append(reader)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            readers, self._all, self._idle = self._all, [], []
        for reader in readers:
            reader.close()


class Engine:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._readers = _Readers(core)

    def close(self) -> None:
        self._readers.close()

    def session_state(self, user: str) -> str:
        lim = self.core.limits
        raw = f"{user}|{self.core.accounts.get(user)}|{lim!r}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    def parse(
        self, body: bytes
    ) -> tuple[list[str], list[tuple[str, dict[str, Any], str]], dict[str, str] | None]:
        assert NotJSON.urn
        assert NotRequest.urn
        assert UnknownCapability.urn
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Problem(NotJSON.urn, "the request body is not valid I-JSON") from None
        if not isinstance(req, dict):
            raise Problem(NotRequest.urn, "the request must be a JSON object")
        extra = set(req) - {"using", "methodCalls", "createdIds"}
        if extra:
            raise Problem(NotRequest.urn, f"unknown request properties: {', '.join(sorted(extra))}")
        using = req.get("using")
        calls = req.get("methodCalls")
        created = req.get("createdIds")
        if not isinstance(using, list) or not all(isinstance(u, str) for u in using):
            raise Problem(NotRequest.urn, "using must be an array of strings")
        if not isinstance(calls, list):
            raise Problem(NotRequest.urn, "methodCalls must be an array")
        parsed: list[tuple[str, dict[str, Any], str]] = []
        for inv in calls:
            if (
                not isinstance(inv, list)
                or len(inv) != 3
                or not isinstance(inv[0], str)
                or not isinstance(inv[1], dict)
                or not isinstance(inv[2], str)
            ):
                raise Problem(NotRequest.urn, "each invocation must be [name, arguments, callId]")
            parsed.append((inv[0], inv[1], inv[2]))
        if created is not None and (
            not isinstance(created, dict) or not all(isinstance(v, str) for v in created.values())
        ):
            raise Problem(NotRequest.urn, "createdIds must map creation ids to ids")
        unknown = [u for u in using if u not in SUPPORTED_CAPABILITIES]
        if unknown:
            raise Problem(UnknownCapability.urn, f"unknown capability: {unknown[0]}")
        if len(parsed) > self.core.limits.max_calls_in_request:
            raise limit_problem(
                "maxCallsInRequest",
                f"more than maxCallsInRequest ({self.core.limits.max_calls_in_request}) calls",
            )
        return using, parsed, created

    def handle(self, user: str, body: bytes) -> dict[str, Any]:
        using, calls, created_in = self.parse(body)
        core = self.core
        with core.store.lock:
            core.sweep()
        created_ids: dict[str, str] = dict(created_in or {})
        enabled = set(using) | {CORE}
        responses: list[tuple[str, dict[str, Any], str]] = []
        for name, raw_args, call_id in calls:
            for rname, rargs in self._call(user, enabled, created_ids, name, raw_args, responses):
                responses.append((rname, rargs, call_id))
        out: dict[str, Any] = {
            "methodResponses": [[n, a, c] for n, a, c in responses],
            "sessionState": self.session_state(user),
        }
        if created_in is not None:
            out["createdIds"] = created_ids
        return out

    def _run(
        self, name: str, fn: Handler, user: str, created_ids: dict[str, str], args: dict[str, Any]
    ) -> tuple[Any, Ctx]:
        """Run one call: a read-only one on a reader connection (concurrent with the
        writer and other readers, as SQLite WAL allows), anything else on the writer.
        A "read-only" call that turns out to write is rerun on the writer."""
        core = self.core
        if _is_read_only(name):
            reader = self._readers.acquire()
            if reader is not None:
                try:
                    ctx = Ctx(core, user, created_ids, reader)
                    with reader.transaction():
                        return fn(ctx, args), ctx
                except ReadOnlyStore:
                    pass
                finally:
                    self._readers.release(reader)
        ctx = Ctx(core, user, created_ids)
        with core.store.transaction():
            return fn(ctx, args), ctx

    def handle_bytes(self, user: str, body: bytes) -> bytes:
        """`handle`, encoded. A result that cannot be encoded (one stored before input
        bounds existed) turns its own call into ``serverFail``; the others survive."""
        out = self.handle(user, body)
        try:
            return orjson.dumps(out)
        except orjson.JSONEncodeError:
            pass
        responses = out["methodResponses"]
        for i, (name, args, call_id) in enumerate(responses):
            try:
                orjson.dumps({"methodResponses": [[name, args, call_id]]})  # as nested as in out
            except orjson.JSONEncodeError as exc:
                log.error("the result of %s could not be encoded: %s", name, exc)
                responses[i] = [
                    "error",
                    {"type": "serverFail", "description": "the result could not be encoded"},
                    call_id,
                ]
        return orjson.dumps(out)

    def _call(
        self,
        user: str,
        enabled: set[str],
        created_ids: dict[str, str],
        name: str,
        raw_args: dict[str, Any],
        responses: list[tuple[str, dict[str, Any], str]],
    ) -> list[tuple[str, dict[str, Any]]]:
        core = self.core
        if too_deep(raw_args, MAX_ARGS_DEPTH):
            return [
                (
                    "error",
                    {
                        "type": "invalidArguments",
                        "description": f"the arguments nest deeper than {MAX_ARGS_DEPTH} levels",
                    },
                )
            ]
        try:
            args = resolve_result_references(raw_args, responses)
        except ReferenceResolutionError as exc:
            etype = "invalidArguments" if exc.invalid_arguments else "invalidResultReference"
            return [("error", {"type": etype, "description": str(exc)})]
        if name.startswith("Peer/"):
            return [
                (
                    "error",
                    {"type": "forbidden", "description": "Peer/* methods are for peer servers"},
                )
            ]
        entry = core.registry.get(name)
        if entry is None:
            return [("error", {"type": "unknownMethod", "description": f"unknown method {name!r}"})]
        capability, fn = entry
        if capability not in enabled:
            return [
                (
                    "error",
                    {"type": "unknownMethod", "description": f"{name} needs {capability} in using"},
                )
            ]
        snapshot = dict(created_ids)
        try:
            result, ctx = self._run(name, fn, user, created_ids, args)
        except MethodErr as exc:
            created_ids.clear()
            created_ids.update(snapshot)
            return [("error", exc.to_json())]
        except Exception:
            created_ids.clear()
            created_ids.update(snapshot)
            log.exception("method %s failed", name)
            return [("error", {"type": "serverFail", "description": "internal server error"})]
        ctx.flush()
        if isinstance(result, list):
            return result
        return [(name, result)]
