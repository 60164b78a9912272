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
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypedDict, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel

from jmapchat._core import (
    CHAT,
    CORE,
    NOT_GIVEN,
    AccountNotFound,
    AuthenticationError,
    Backoff,
    CapabilityNotSupported,
    ChangesCall,
    ChatAccountCapability,
    ConnectError,
    CoreMethods,
    EventSourceState,
    GetCall,
    HTTPResponse,
    HTTPStatusError,
    InvalidInput,
    JMAPError,
    LocalProtocolError,
    Namespace,
    NotGiven,
    QueryCall,
    ReadError,
    RemoteProtocolError,
    ResponseTooLarge,
    RetryPolicy,
    Session,
    SessionError,
    SessionURLError,
    Timeout,
    TransportError,
    WebSocketChannel,
    WriteError,
    parse_problem,
    redact_url,
    session_url_for,
)
from jmapchat._namespaces import Request
from jmapchat._version import __version__

__all__ = [
    "BearerAuth",
    "ClientBase",
    "ClientOptions",
    "UploadSource",
    "log",
    "upgrade_error",
]

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
    what = redact_url(what)
    try:
        yield
    except httpx.TimeoutException as exc:
        sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        raise Timeout(f"{what}: {type(exc).__name__}: {_shown(exc)}", sent=sent) from exc
    except httpx.ConnectError as exc:
        raise ConnectError(f"{what}: could not connect: {_shown(exc)}") from exc
    except httpx.WriteError as exc:
        raise WriteError(f"{what}: failed while sending: {_shown(exc)}") from exc
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.CloseError) as exc:
        raise ReadError(f"{what}: failed while reading the reply: {_shown(exc)}") from exc
    except httpx.TooManyRedirects as exc:
        raise RemoteProtocolError(f"{what}: too many redirects") from exc
    except httpx.DecodingError as exc:
        raise RemoteProtocolError(
            f"{what}: the reply's body does not match its Content-Encoding: {_shown(exc)}"
        ) from exc
    except httpx.InvalidURL as exc:
        raise RemoteProtocolError(f"{what}: unusable URL: {_shown(exc)}") from exc
    except OverflowError as exc:  # the socket layer, on a port out of range
        raise ConnectError(f"{what}: could not connect: {_shown(exc)}") from exc
    except httpx.TransportError as exc:
        raise TransportError(f"{what}: {type(exc).__name__}: {_shown(exc)}", sent=False) from exc


def _shown(exc: BaseException) -> str:
    """An exception's message as we repeat it: no password from a URL's userinfo."""
    return redact_url(str(exc))


def split_userinfo(url: str | None) -> tuple[str | None, tuple[str, str] | None]:
    """``http://bob:pw@host/x`` → (``http://host/x``, (``bob``, ``pw``)); else (url, None)."""
    if not url or "@" not in url:
        return url, None
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if "@" not in parts.netloc:
        return url, None
    host = parts.netloc.rsplit("@", 1)[1]
    creds = (unquote(parts.username or ""), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=host)), creds


def upgrade_error(status: int, body: bytes, url: str) -> JMAPError:
    """The error for a WebSocket handshake the server refused (as for HTTP)."""
    what = f"WebSocket handshake to {url}"
    if status in (401, 403):
        return AuthenticationError(
            f"{what}: HTTP {status} (check the token or credentials)", status_code=status
        )
    problem = parse_problem(body, status=status)
    if problem is not None and problem.type != "about:blank":
        return problem
    return HTTPStatusError(f"{what}: HTTP {status}", status_code=status, body=body[:2000])


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
            hint = f"no JMAP session at {self._session_url}: " + _session_hint(self.url)
            raise HTTPStatusError(
                f"{exc} ({hint})", status_code=exc.status_code, body=exc.body
            ) from exc
        except RemoteProtocolError as exc:
            if isinstance(exc, ResponseTooLarge | SessionURLError):
                raise  # its own message says what to change; keep its type
            hint = f"{self._session_url} is not a JMAP session: " + _session_hint(self.url)
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


def deadline_until(deadline: float | None) -> float | None:
    """A per-send ``deadline`` (seconds from now) as a `time.monotonic` instant."""
    if deadline is None:
        return None
    if (
        isinstance(deadline, bool)
        or not isinstance(deadline, int | float)
        or not 0 < deadline < float("inf")
    ):
        raise TypeError(f"deadline must be a positive number of seconds, not {deadline!r}")
    return time.monotonic() + deadline


def past_deadline(what: str, *, sent: bool) -> Timeout:
    return Timeout(f"{what}: the send's deadline passed", sent=sent)


def timeout_until(base: httpx.Timeout, until: float) -> httpx.Timeout:
    """``base`` with every phase cut to the time left before ``until`` (a deadline)."""
    left = until - time.monotonic()
    if left <= 0:
        raise past_deadline("before sending", sent=False)

    def cut(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(
        connect=cut(base.connect), read=cut(base.read), write=cut(base.write), pool=cut(base.pool)
    )


def body_cap(kind: str, *, session: int, response: int, declared: str | None) -> int:
    """The byte cap for a reply of ``kind``; raises at once if ``Content-Length`` is over."""
    limit = session if kind == "session" else response
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large(kind, limit)
    return limit


def too_large(kind: str, limit: int) -> ResponseTooLarge:
    option = "max_session_bytes" if kind == "session" else "max_response_bytes"
    return ResponseTooLarge(
        f"the {kind} reply is over {limit:,} bytes ({option}=); not read further",
        limit=limit,
    )


def check_urls(url: str | None, session_url: str | None) -> None:
    """Refuse, before any I/O, a server URL that cannot work (no http(s) scheme or host)."""
    for name, value in (("url", url), ("session_url", session_url)):
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be a string, not {type(value).__name__}")
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            guess = f"; did you mean 'http://{value}'?" if "://" not in value else ""
            raise InvalidInput(
                f"{name}={value!r} is not an http:// or https:// URL with a host{guess}"
            )


def _session_hint(url: str | None) -> str:
    if url is None:
        return "check session_url="
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path and not path.endswith("/.well-known/jmap"):
        root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        return (
            f"the url already ends in a path ({path!r}), but /.well-known/jmap lives at the "
            f"server's root: pass the server's base URL ({root!r}) or session_url="
        )
    return "pass the server's base URL or session_url="


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
