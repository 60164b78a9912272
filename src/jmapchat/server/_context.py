"""What a method call can reach: `Core` (the server's state: store, limits, users,
the method registry, push) and `Ctx` (one call's view of it: the caller, their account,
the request's creation ids, writes logged for /changes and push). A leaf module below
the data types and the engine."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._config import PRESENCE_INTERVAL, ChatPushSettings, ChatSettings
from ._generic import std_changes, std_get, std_set
from ._query import std_query, std_query_changes
from ._store import CREATED, DESTROYED, GLOBAL, Store
from ._util import now_utc

if TYPE_CHECKING:
    from ._config import ServerLimits
    from ._generic import DataType
    from ._push import Hub, PushSender

__all__ = ["Core", "Ctx", "Handler"]

log = logging.getLogger("jmapchat.server")

Handler = Callable[["Ctx", dict[str, Any]], Any]


class Core:
    """Everything a method call can reach."""

    def __init__(self, store: Store, limits: ServerLimits, hub: Hub, pusher: PushSender) -> None:
        self.store = store
        self.limits = limits
        self.hub = hub
        self.pusher = pusher
        self.chat = ChatSettings()
        self.chat_push = ChatPushSettings()
        self.registry: dict[str, tuple[str, Handler]] = {}
        self.types: dict[str, DataType] = {}
        self.accounts: dict[str, str] = {}  # username -> accountId
        self.users_by_account: dict[str, str] = {}  # accountId -> username
        self.typing_seen: dict[tuple[str, str], float] = {}
        self.slow_mode_seen: dict[tuple[str, str], float] = {}
        self.presence_interval = PRESENCE_INTERVAL
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
        self.types[dt.name] = dt
        for m in dt.methods:
            fn = _STANDARD[m]
            self.registry[f"{dt.name}/{m}"] = (dt.capability, functools.partial(fn, dt))

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


_STANDARD: dict[str, Callable[[DataType, Ctx, dict[str, Any]], Any]] = {
    "get": std_get,
    "changes": std_changes,
    "set": std_set,
    "query": std_query,
    "queryChanges": std_query_changes,
}
