"""What the async and the blocking client share: configuration, auth, error mapping,
session bookkeeping and the glue between namespaces and the paging flows.

Everything protocol-shaped lives in the sans-IO flows (`jmapchat._core._flows`); the two
drivers (`_async`, `_sync`) only perform the instructions those flows yield.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from jmapchat._core import Backoff, EventSourceState
from jmapchat._core._call import ChangesCall, GetCall, QueryCall
from jmapchat._core._capabilities import CHAT, CORE
from jmapchat._core._errors import (
    AccountNotFound,
    ConnectError,
    LocalProtocolError,
    ReadError,
    RemoteProtocolError,
    SessionError,
    Timeout,
    TransportError,
    WriteError,
)
from jmapchat._core._flows import HTTPResponse, RetryPolicy, session_url_for
from jmapchat._core._request import CoreMethods
from jmapchat._core._responses import ChangesResponse, GetResponse, QueryResponse
from jmapchat._core._session import Session
from jmapchat._core._standard import Namespace
from jmapchat._core._types import NOT_GIVEN, NotGiven
from jmapchat._namespaces import Request
from jmapchat._version import __version__

__all__ = ["BearerAuth", "ClientBase", "UploadSource", "log"]

log = logging.getLogger("jmapchat")

R = TypeVar("R", bound=BaseModel)

USER_AGENT = f"jmapchat/{__version__}"


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``; the token never shows in ``repr``."""

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token:
            raise TypeError("token must be a non-empty string")
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


class _RedactedBasicAuth(httpx.BasicAuth):
    def __init__(self, username: str, password: str) -> None:
        super().__init__(username, password)
        self._username = username

    def __repr__(self) -> str:
        return f"BasicAuth(username={self._username!r}, password='***')"


def build_auth(
    token: str | None,
    auth: httpx.Auth | None,
    username: str | None,
    password: str | None,
) -> httpx.Auth | None:
    given = sum(x is not None for x in (token, auth, username))
    if given > 1:
        raise TypeError("pass only one of token=, auth= or username=/password=")
    if (username is None) != (password is None):
        raise TypeError("username= and password= go together")
    if token is not None:
        return BearerAuth(token)
    if username is not None and password is not None:
        return _RedactedBasicAuth(username, password)
    return auth


@contextlib.contextmanager
def map_transport_errors(what: str) -> Iterator[None]:
    """httpx transport failures → jmapchat `TransportError`s that say if the request left."""
    try:
        yield
    except httpx.TimeoutException as exc:
        sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        raise Timeout(f"{what}: {type(exc).__name__}: {exc}", sent=sent) from exc
    except httpx.ConnectError as exc:
        raise ConnectError(f"{what}: could not connect: {exc}") from exc
    except httpx.WriteError as exc:
        raise WriteError(f"{what}: failed while sending: {exc}") from exc
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.CloseError) as exc:
        raise ReadError(f"{what}: failed while reading the reply: {exc}") from exc
    except httpx.TooManyRedirects as exc:
        raise RemoteProtocolError(f"{what}: too many redirects") from exc
    except httpx.TransportError as exc:
        raise TransportError(f"{what}: {type(exc).__name__}: {exc}", sent=False) from exc


def to_response(r: httpx.Response, body: bytes) -> HTTPResponse:
    return HTTPResponse(
        r.status_code, {k.lower(): v for k, v in r.headers.items()}, body, str(r.url)
    )


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


def _find_namespace(req: Request, type_or_name: str) -> Any:
    """``"message"`` (attribute) or ``"Message"`` (type name) → ``req.message``, else None."""
    if type_or_name in namespace_names():
        return getattr(req, type_or_name)
    for name in namespace_names():
        ns = getattr(req, name)
        if getattr(ns, "type_name", None) == type_or_name:
            return ns
    return None


class ClientBase:
    """State and pure helpers shared by `AsyncClient` and `Client`."""

    _is_async: bool = False

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        username: str | None = None,
        password: str | None = None,
        session_url: str | None = None,
        timeout: float | httpx.Timeout | None = 30.0,
        retries: int | RetryPolicy = 3,
        account_id: str | None = None,
    ) -> None:
        if url is None and session_url is None:
            raise TypeError("pass the server url (or session_url=)")
        self.url = url
        self._session_url = session_url or session_url_for(url or "")
        self._auth = build_auth(token, auth, username, password)
        self._timeout = timeout
        self._policy = as_policy(retries)
        self._wanted_account = account_id
        self._session: Session | None = None
        self._stale = False
        self._account_id: str | None = None

    # --- session ----------------------------------------------------------------------

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
        log.log(
            logging.INFO if first else logging.DEBUG,
            "jmapchat session %s: api %s, account %s, state %s",
            "fetched" if first else "refetched",
            session.api_url,
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
        return req

    def explain(self, request: Request) -> str:
        """``request.explain()`` plus how this server's limits split it."""
        return request.explain(limits=self.session.core)

    def _changes_adder(
        self, type_or_namespace: str, max_changes: int | None
    ) -> Callable[[Any, str], ChangesCall]:
        def add(req: Any, state: str) -> ChangesCall:
            mc: int | NotGiven = NOT_GIVEN if max_changes is None else max_changes
            ns = _find_namespace(req, type_or_namespace)
            if ns is not None and hasattr(ns, "changes"):
                call: ChangesCall = ns.changes(state, max_changes=mc)
                return call
            type_name = _type_name(type_or_namespace)
            args: dict[str, Any] = {"accountId": req.account_id, "sinceState": state}
            if max_changes is not None:
                args["maxChanges"] = max_changes
            return req.add_call(  # type: ignore[no-any-return]
                ChangesCall,
                method=f"{type_name}/changes",
                args=args,
                response=ChangesResponse,
                using=self._using_for(type_name),
            )

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
        page_size = min(page_size, self.session.core.max_objects_in_get)

        def add(req: Any, position: int) -> tuple[QueryCall, GetCall[Any] | None]:
            ns = _find_namespace(req, type_or_namespace)
            opt: dict[str, Any] = {}
            if filter is not None:
                opt["filter"] = filter
            if sort is not None:
                opt["sort"] = list(sort)
            if ns is not None and hasattr(ns, "query"):
                q: QueryCall = ns.query(position=position, limit=page_size, **opt)
                if not fetch:
                    return q, None
                kw: dict[str, Any] = {}
                if properties is not None:
                    kw["properties"] = list(properties)
                g: GetCall[Any] = ns.get(ids=q.ids, **kw)
                return q, g
            type_name = _type_name(type_or_namespace)
            using = self._using_for(type_name)
            qargs = {"accountId": req.account_id, "position": position, "limit": page_size}
            qargs.update(opt)
            q = req.add_call(
                QueryCall,
                method=f"{type_name}/query",
                args=qargs,
                response=QueryResponse,
                using=using,
            )
            if not fetch:
                return q, None
            gargs: dict[str, Any] = {"accountId": req.account_id, "ids": q.ids}
            if properties is not None:
                gargs["properties"] = list(properties)
            g = req.add_call(
                GetCall,
                method=f"{type_name}/get",
                args=gargs,
                response=GetResponse[Any],
                using=using,
            )
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

    def _event_timeout(self, state: EventSourceState) -> httpx.Timeout:
        """The client's timeouts, but reading waits at most two ping intervals."""
        base = self._timeout if isinstance(self._timeout, httpx.Timeout) else None
        base = base or httpx.Timeout(self._timeout)
        return httpx.Timeout(
            connect=base.connect, read=state.read_timeout(), write=base.write, pool=base.pool
        )

    def _using_for(self, type_name: str) -> tuple[str, ...]:
        session = self._session
        if type_name == "Core" or session is None or CHAT not in session.capabilities:
            return (CORE,)
        return (CHAT,)

    # --- repr -------------------------------------------------------------------------

    def __repr__(self) -> str:
        where = self.url or self._session_url
        acct = f" account={self._account_id!r}" if self._account_id else ""
        auth = f" auth={self._auth!r}" if self._auth is not None else ""
        state = "open" if self._session is not None else "not connected"
        return f"<{type(self).__name__} {where!r}{acct}{auth} ({state})>"


def _type_name(type_or_namespace: str) -> str:
    if type_or_namespace[:1].isupper():
        return type_or_namespace
    parts = type_or_namespace.split("_")
    return "".join(p[:1].upper() + p[1:] for p in parts)


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
