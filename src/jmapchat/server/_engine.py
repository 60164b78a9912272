"""The RFC 8620 request engine: envelope validation, dispatch, references, creation ids.

`Engine.handle` turns one request body into a response (or raises `Problem`). Each
method call runs in its own transaction: a call that fails is rolled back alone, and
everything an earlier call committed stays committed. What a call can reach (`Core`,
`Ctx`) is `_context`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import KW_ONLY, dataclass
from typing import Any

import orjson

from .._core import (
    ERROR_LIMIT,
    ERROR_NOT_JSON,
    ERROR_NOT_REQUEST,
    ERROR_UNKNOWN_CAPABILITY,
    ReferenceResolutionError,
    resolve_result_references,
)
from ._bounds import MAX_ARGS_DEPTH, too_deep
from ._context import Core, Ctx, Handler
from ._core_caps import BLOB2, CHAT, CHAT_PUSH, CORE, QUOTA
from ._store import ReadOnlyStore, Store
from ._util import MethodErr

__all__ = [
    "SUPPORTED_CAPABILITIES",
    "Engine",
    "Problem",
    "limit_problem",
]

log = logging.getLogger("jmapchat.server")

SUPPORTED_CAPABILITIES = frozenset({CORE, CHAT, CHAT_PUSH, QUOTA, BLOB2})


@dataclass(eq=False)
class Problem(Exception):
    """A request-level error answered with RFC 7807 problem details."""

    type: str
    detail: str
    _: KW_ONLY
    status: int = 400
    limit: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "status": self.status, "detail": self.detail}
        if self.limit is not None:
            out["limit"] = self.limit
        return out


def limit_problem(limit: str, detail: str, status: int = 400) -> Problem:
    return Problem(ERROR_LIMIT, detail, status=status, limit=limit)


def _after_commit(ctx: Ctx) -> None:
    """``ctx.flush()``; the call's writes are committed, so a failure here is logged and
    the call still reports what it did."""
    try:
        ctx.flush()
    except Exception:
        log.exception("post-commit work failed")


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
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Problem(ERROR_NOT_JSON, "the request body is not valid I-JSON") from None
        return self.check(req)

    def check(
        self, req: Any
    ) -> tuple[list[str], list[tuple[str, dict[str, Any], str]], dict[str, str] | None]:
        """A decoded Request object's ``using``, calls and ``createdIds``, or `Problem`."""
        if not isinstance(req, dict):
            raise Problem(ERROR_NOT_REQUEST, "the request must be a JSON object")
        extra = set(req) - {"using", "methodCalls", "createdIds"}
        if extra:
            raise Problem(
                ERROR_NOT_REQUEST, f"unknown request properties: {', '.join(sorted(extra))}"
            )
        using = req.get("using")
        calls = req.get("methodCalls")
        created = req.get("createdIds")
        if not isinstance(using, list) or not all(isinstance(u, str) for u in using):
            raise Problem(ERROR_NOT_REQUEST, "using must be an array of strings")
        if not isinstance(calls, list):
            raise Problem(ERROR_NOT_REQUEST, "methodCalls must be an array")
        parsed: list[tuple[str, dict[str, Any], str]] = []
        for inv in calls:
            match inv:
                case [str() as name, dict() as arguments, str() as call_id]:
                    parsed.append((name, arguments, call_id))
                case _:
                    raise Problem(
                        ERROR_NOT_REQUEST, "each invocation must be [name, arguments, callId]"
                    )
        if created is not None and (
            not isinstance(created, dict) or not all(isinstance(v, str) for v in created.values())
        ):
            raise Problem(ERROR_NOT_REQUEST, "createdIds must map creation ids to ids")
        unknown = [u for u in using if u not in SUPPORTED_CAPABILITIES]
        if unknown:
            raise Problem(ERROR_UNKNOWN_CAPABILITY, f"unknown capability: {unknown[0]}")
        if len(parsed) > self.core.limits.max_calls_in_request:
            raise limit_problem(
                "maxCallsInRequest",
                f"more than maxCallsInRequest ({self.core.limits.max_calls_in_request}) calls",
            )
        return using, parsed, created

    def handle(self, user: str, body: bytes) -> dict[str, Any]:
        return self.handle_request(user, self.parse(body))

    def handle_request(
        self,
        user: str,
        parsed: tuple[list[str], list[tuple[str, dict[str, Any], str]], dict[str, str] | None],
    ) -> dict[str, Any]:
        """`handle` for a request already decoded and `check`-ed (a WebSocket frame)."""
        using, calls, created_in = parsed
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
    ) -> Any:
        """Run one call: a read-only one on a reader connection (concurrent with the
        writer and other readers, as SQLite WAL allows), anything else on the writer.
        A "read-only" call that turns out to write is rerun on the writer. Its
        post-commit work (push listeners, deferred work) follows the commit."""
        core = self.core
        if _is_read_only(name):
            reader = self._readers.acquire()
            if reader is not None:
                try:
                    ctx = Ctx(core, user, created_ids, reader)
                    with reader.transaction():
                        result = fn(ctx, args)
                    _after_commit(ctx)
                    return result
                except ReadOnlyStore:
                    pass
                finally:
                    self._readers.release(reader)
        ctx = Ctx(core, user, created_ids)
        # The post-commit work (push fan-out) reads the store too: doing it under the lock
        # the transaction held means it never queues again behind other writers (the
        # lock is not fair), so each request is answered as soon as its own writes are.
        with core.store.lock:
            with core.store.transaction():
                result = fn(ctx, args)
            _after_commit(ctx)
        return result

    def handle_bytes(self, user: str, body: bytes) -> bytes:
        """`handle`, encoded (see `encode`)."""
        return self.encode(self.handle(user, body))

    @staticmethod
    def encode(out: dict[str, Any]) -> bytes:
        """A Response document as JSON. A result that cannot be encoded (one stored before
        input bounds existed) turns its own call into ``serverFail``; the others survive."""
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
            result = self._run(name, fn, user, created_ids, args)
        except MethodErr as exc:
            created_ids.clear()
            created_ids.update(snapshot)
            return [("error", exc.to_json())]
        except Exception:
            created_ids.clear()
            created_ids.update(snapshot)
            log.exception("method %s failed", name)
            return [("error", {"type": "serverFail", "description": "internal server error"})]
        if isinstance(result, list):
            return result
        return [(name, result)]
