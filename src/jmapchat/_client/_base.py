"""What the async and the blocking client share: configuration, auth, error mapping,
session bookkeeping and the glue between namespaces and the paging flows.

Everything protocol-shaped lives in the sans-IO flows (`jmapchat._core._exec`); the two
drivers (`_async`, `_sync`) only perform the instructions those flows yield.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypedDict, TypeVar

import httpx
from pydantic import BaseModel

from jmapchat._core import (
    CHAT,
    CORE,
    NOT_GIVEN,
    AccountNotFound,
    Backoff,
    CapabilityNotSupported,
    ChangesCall,
    ChatAccountCapability,
    CoreMethods,
    EventSourceState,
    GetCall,
    HTTPStatusError,
    LocalProtocolError,
    Namespace,
    NotGiven,
    QueryCall,
    RemoteProtocolError,
    ResponseTooLarge,
    RetryPolicy,
    Session,
    SessionError,
    SessionURLError,
    WebSocketChannel,
    redact_url,
    session_url_for,
)
from jmapchat._namespaces import Request

from ._http import build_auth, check_urls, log, session_hint, split_userinfo

__all__ = ["ClientBase", "ClientOptions", "UploadSource"]


R = TypeVar("R", bound=BaseModel)


def as_policy(retries: int | RetryPolicy) -> RetryPolicy:
    if isinstance(retries, RetryPolicy):
        return retries
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise TypeError("retries must be a non-negative int or a RetryPolicy")
    return RetryPolicy(retries=retries)


@dataclass(frozen=True)
class UploadSource:
    """An upload body, classified once: bytes, a path, a file object or an iterator."""

    kind: str  # "bytes" | "path" | "file" | "iter" | "aiter"
    value: Any
    size: int | None
    until: float | None = None  # the upload's deadline (`time.monotonic`), checked per chunk

    @property
    def replayable(self) -> bool:
        return self.kind in ("bytes", "path")

    @classmethod
    def of(cls, data: Any) -> UploadSource:
        if isinstance(data, bytes | bytearray | memoryview):
            raw = bytes(data)
            return cls("bytes", raw, len(raw))
        if isinstance(data, str | os.PathLike):
            path = os.fspath(data)
            return cls("path", path, os.path.getsize(path))
        if hasattr(data, "read"):
            size: int | None = None
            with contextlib.suppress(OSError, AttributeError, ValueError):
                size = os.fstat(data.fileno()).st_size - data.tell()
            return cls("file", data, size)
        if hasattr(data, "__aiter__"):
            return cls("aiter", data, None)
        if hasattr(data, "__iter__"):
            return cls("iter", data, None)
        raise TypeError(
            "upload data must be bytes, a path, a binary file object or an (async) "
            f"iterator of bytes, not {type(data).__name__}"
        )


@functools.cache
def namespace_names() -> tuple[str, ...]:
    """Attributes of `jmapchat.Request` that are method namespaces (``core``, ``message`` …)."""
    probe = Request(account_id="probe")
    names = []
    for name, attr in inspect.getmembers(type(probe)):
        if name.startswith("_") or not isinstance(attr, property | cached_property):
            continue
        try:
            value = getattr(probe, name)
        except Exception:
            continue
        if isinstance(value, Namespace | CoreMethods):
            names.append(name)
    return tuple(sorted(names))


def _namespace_for(type_or_name: str, *methods: str) -> str:
    """``"message"`` (attribute) or ``"Message"`` (type name) → ``"message"``.

    Paging builds its calls through ``req.<namespace>`` like every other call; a type
    without a namespace, or whose namespace lacks ``methods``, is refused up front.
    """
    probe = Request(account_id="probe")
    for name in namespace_names():
        ns = getattr(probe, name)
        if type_or_name in (name, getattr(ns, "type_name", None)):
            missing = [m for m in methods if not callable(getattr(ns, m, None))]
            if missing:
                raise LocalProtocolError(
                    f"req.{name} has no {', '.join(missing)} method(s) to page with"
                )
            return name
    raise LocalProtocolError(
        f"no request namespace for {type_or_name!r} (one of: {', '.join(namespace_names())})"
    )


class ClientOptions(TypedDict, total=False):
    """The client's keywords besides the HTTP layer, spelled once for both clients.

    ``token`` (Bearer), ``username``/``password`` (Basic) or any ``auth`` (an
    ``httpx.Auth``); ``session_url`` skips ``/.well-known/jmap`` discovery; ``timeout``
    (default 30 s) is seconds or an ``httpx.Timeout``; ``retries`` (default 3) is a count
    or a `RetryPolicy`; ``account_id`` overrides the session's primary chat account.
    ``max_session_bytes`` (default 4 MiB) and ``max_response_bytes`` (default 256 MiB)
    cap the bodies read (`ResponseTooLarge` past them).
    """

    token: str | None
    auth: httpx.Auth | None
    username: str | None
    password: str | None
    session_url: str | None
    timeout: float | httpx.Timeout | None
    retries: int | RetryPolicy
    account_id: str | None
    max_session_bytes: int
    max_response_bytes: int


MAX_SESSION_BYTES = 4 * 1024 * 1024
"""Default cap on the session resource's body (real ones are a few kB)."""
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
"""Default cap on an API (or upload) reply body: far over any sane envelope's reply."""


class ClientBase:
    """State and pure helpers shared by `AsyncClient` and `Client`."""

    _is_async: bool = False

    def __init__(self, url: str | None, options: ClientOptions) -> None:
        unknown = sorted(set(options) - set(ClientOptions.__annotations__))
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")
        session_url = options.get("session_url")
        if url is None and session_url is None:
            raise TypeError("pass the server url (or session_url=)")
        check_urls(url, session_url)
        # Credentials in the URL become Basic auth (as httpx would do), and leave the URL:
        # then no repr, error message or log line (ours or httpx's) can show them.
        url, url_creds = split_userinfo(url)
        session_url, session_creds = split_userinfo(session_url)
        creds = url_creds or session_creds
        self.url = url
        self._session_url = session_url or session_url_for(url or "")
        username, password = options.get("username"), options.get("password")
        explicit = any(options.get(k) is not None for k in ("token", "auth", "username"))
        if creds is not None and not explicit:
            username, password = creds
        self._auth = build_auth(options.get("token"), options.get("auth"), username, password)
        self._timeout = options.get("timeout", 30.0)
        self._policy = as_policy(options.get("retries", 3))
        self._max_session_bytes = _positive_int(
            "max_session_bytes", options.get("max_session_bytes", MAX_SESSION_BYTES)
        )
        self._max_response_bytes = _positive_int(
            "max_response_bytes", options.get("max_response_bytes", MAX_RESPONSE_BYTES)
        )
        self._wanted_account = options.get("account_id")
        self._session: Session | None = None
        self._stale = False
        self._account_id: str | None = None
        self._chat_limits: ChatAccountCapability | None = None

    # --- session ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _session_hints(self) -> Iterator[None]:
        """A 404 for the session resource, or a page that is no Session, says what to
        pass instead (the server's base URL or ``session_url=``)."""
        try:
            yield
        except HTTPStatusError as exc:
            if exc.status_code != 404 or type(exc) is not HTTPStatusError:
                raise
            hint = f"no JMAP session at {self._session_url}: " + session_hint(self.url)
            raise HTTPStatusError(
                f"{exc} ({hint})", status_code=exc.status_code, body=exc.body
            ) from exc
        except RemoteProtocolError as exc:
            if isinstance(exc, ResponseTooLarge | SessionURLError):
                raise  # its own message says what to change; keep its type
            hint = f"{self._session_url} is not a JMAP session: " + session_hint(self.url)
            raise RemoteProtocolError(f"{exc} ({hint})") from exc

    @property
    def session(self) -> Session:
        """The JMAP Session (fetched when the client was opened)."""
        if self._session is None:
            raise LocalProtocolError(
                "the client is not connected: use 'with/async with ... connect(...)'"
            )
        return self._session

    @property
    def account_id(self) -> str:
        """The account calls go to: the session's primary JMAP Chat account by default."""
        self.session  # noqa: B018
        assert self._account_id is not None
        return self._account_id

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._policy

    def _install_session(self, session: Session) -> None:
        first = self._session is None
        self._session = session
        self._stale = False
        if self._account_id is None or self._account_id not in session.accounts:
            self._account_id = _choose_account(session, self._wanted_account)
        account = session.accounts.get(self._account_id)
        self._chat_limits = account.chat if account is not None else None
        log.log(
            logging.INFO if first else logging.DEBUG,
            "jmapchat session %s: api %s, account %s, state %s",
            "fetched" if first else "refetched",
            redact_url(session.api_url),
            self._account_id,
            session.state,
        )

    def _observe(self, state: str) -> None:
        if self._session is not None and state != self._session.state and not self._stale:
            log.info(
                "sessionState changed (%s -> %s); the session is refetched before the next request",
                self._session.state,
                state,
            )
            self._stale = True

    # --- building ---------------------------------------------------------------------

    def request(self) -> Request:
        """A new, empty `Request` for this client's account (pure builder, no I/O)."""
        req = Request(account_id=self.account_id)
        req.limits = self.session.core
        req.chat_limits = self._chat_limits
        return req

    def explain(self, request: Request) -> str:
        """``request.explain()`` plus how this server's limits split it."""
        return request.explain(limits=self.session.core)

    def _changes_adder(
        self, type_or_namespace: str, max_changes: int | None
    ) -> Callable[[Any, str], ChangesCall]:
        ns_name = _namespace_for(type_or_namespace, "changes")
        mc: int | NotGiven = NOT_GIVEN if max_changes is None else max_changes

        def add(req: Any, state: str) -> ChangesCall:
            call: ChangesCall = getattr(req, ns_name).changes(state, max_changes=mc)
            return call

        return add

    def _query_adder(
        self,
        type_or_namespace: str,
        *,
        filter: Any,
        sort: Sequence[Any] | None,
        page_size: int,
        properties: Sequence[str] | None,
        fetch: bool,
    ) -> Callable[[Any, int], tuple[QueryCall, GetCall[Any] | None]]:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        ns_name = _namespace_for(type_or_namespace, "query", *(("get",) if fetch else ()))
        page_size = min(page_size, self.session.core.max_objects_in_get)
        opt: dict[str, Any] = {}
        if filter is not None:
            opt["filter"] = filter
        if sort is not None:
            opt["sort"] = list(sort)
        kw: dict[str, Any] = {}
        if properties is not None:
            kw["properties"] = list(properties)

        def add(req: Any, position: int) -> tuple[QueryCall, GetCall[Any] | None]:
            ns = getattr(req, ns_name)
            q: QueryCall = ns.query(position=position, limit=page_size, **opt)
            if not fetch:
                return q, None
            g: GetCall[Any] = ns.get(ids=q.ids, **kw)
            return q, g

        return add

    def _event_state(
        self,
        types: Sequence[str] | None,
        *,
        typing: bool,
        presence: bool,
        ping: int,
        close_after_state: bool,
        backoff: Backoff | None,
    ) -> EventSourceState:
        from jmapchat.models import PresenceEvent, StateChange, TypingEvent

        models: dict[str, type[BaseModel]] = {
            "state": StateChange,
            "typing": TypingEvent,
            "presence": PresenceEvent,
        }
        return EventSourceState(
            models,
            types=types,
            typing=typing,
            presence=presence,
            ping=ping,
            close_after_state=close_after_state,
            backoff=backoff,
        )

    def _ws_channel(self) -> WebSocketChannel:
        from jmapchat.models import ChatPresenceEvent, ChatTypingEvent, StateChange

        models: dict[str, type[BaseModel]] = {
            "StateChange": StateChange,
            "ChatTypingEvent": ChatTypingEvent,
            "ChatPresenceEvent": ChatPresenceEvent,
        }
        return WebSocketChannel(models)

    def _read_timeout(self) -> float | None:
        """How long a request waits for its reply (the ``read`` part of ``timeout``)."""
        t = self._timeout
        return t.read if isinstance(t, httpx.Timeout) else t

    @staticmethod
    def _check_streams(http: Any) -> None:
        """``events()`` needs a transport that streams responses: httpx's ASGI and WSGI
        transports wait for the whole body, which an event stream never finishes. Refuse
        them (found through wrappers' ``inner`` / ``_transport``) instead of hanging."""
        transport = getattr(http, "_transport", None)
        for _ in range(8):
            if isinstance(transport, httpx.ASGITransport | httpx.WSGITransport):
                raise CapabilityNotSupported(
                    "events() needs a streaming HTTP transport; httpx's in-process "
                    f"{type(transport).__name__} buffers whole responses (serve the app on "
                    "a loopback socket, e.g. jmapchat.server.serve_in_thread)",
                    capability=CORE,
                )
            transport = getattr(transport, "inner", None) or getattr(transport, "_transport", None)
            if transport is None:
                return

    def _event_timeout(self, state: EventSourceState) -> httpx.Timeout:
        """The client's timeouts, but reading waits at most two ping intervals."""
        base = self._timeout if isinstance(self._timeout, httpx.Timeout) else None
        base = base or httpx.Timeout(self._timeout)
        return httpx.Timeout(
            connect=base.connect, read=state.read_timeout(), write=base.write, pool=base.pool
        )

    # --- repr -------------------------------------------------------------------------

    def __repr__(self) -> str:
        where = redact_url(self.url or self._session_url)
        acct = f" account={self._account_id!r}" if self._account_id else ""
        auth = f" auth={self._auth!r}" if self._auth is not None else ""
        state = "open" if self._session is not None else "not connected"
        return f"<{type(self).__name__} {where!r}{acct}{auth} ({state})>"


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TypeError(f"{name} must be a positive int (bytes), not {value!r}")
    return value


def _choose_account(session: Session, wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in session.accounts:
            raise AccountNotFound(f"no account {wanted!r} in the session")
        return wanted
    try:
        return session.primary_account(CHAT)
    except SessionError:
        pass
    primary = session.primary_accounts.get(CORE)
    if primary in session.accounts:
        return primary
    if len(session.accounts) == 1:
        return next(iter(session.accounts))
    raise AccountNotFound("the session names no usable account; pass account_id=")
