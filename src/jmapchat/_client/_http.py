"""The HTTP edge both clients share: auth, mapping httpx's errors to jmapchat's, URL
checks, deadlines and reply-size caps. Plain functions, no client state.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Generator
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from jmapchat._core import (
    AuthenticationError,
    ConnectError,
    HTTPResponse,
    HTTPStatusError,
    InvalidInput,
    JMAPError,
    ReadError,
    RemoteProtocolError,
    ResponseTooLarge,
    Timeout,
    TransportError,
    WriteError,
    parse_problem,
    redact_url,
)
from jmapchat._version import __version__

__all__ = [
    "USER_AGENT",
    "BearerAuth",
    "RedactedBasicAuth",
    "body_cap",
    "build_auth",
    "check_deadline",
    "check_urls",
    "deadline_until",
    "log",
    "map_transport_errors",
    "past_deadline",
    "session_hint",
    "split_userinfo",
    "timeout_until",
    "to_response",
    "too_large",
    "upgrade_error",
]


log = logging.getLogger("jmapchat")


USER_AGENT = f"jmapchat/{__version__}"


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``; the token never shows in ``repr``."""

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token:
            raise TypeError("token must be a non-empty string")
        self.header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


class RedactedBasicAuth(httpx.BasicAuth):
    """httpx's Basic auth whose ``repr`` hides the password; ``header`` is its value."""

    def __init__(self, username: str, password: str) -> None:
        super().__init__(username, password)
        self._username = username
        pair = f"{username}:{password}".encode()
        self.header = f"Basic {base64.b64encode(pair).decode('ascii')}"

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
        return RedactedBasicAuth(username, password)
    return auth


def map_transport_errors(what: str) -> _TransportErrors:
    """httpx transport failures → jmapchat `TransportError`s that say if the request left."""
    return _TransportErrors(what)


class _TransportErrors:
    """The context manager of `map_transport_errors`: a class, not a generator, because
    it wraps every request (a generator-based one costs several times more to enter)."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None or not isinstance(exc, _MAPPED):
            return
        raise _mapped(redact_url(self.what), exc) from exc


_MAPPED = (
    httpx.TransportError,
    httpx.TooManyRedirects,
    httpx.DecodingError,
    httpx.InvalidURL,
    OverflowError,
)


def _mapped(what: str, exc: BaseException) -> TransportError | RemoteProtocolError:
    if isinstance(exc, httpx.TimeoutException):
        sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        return Timeout(f"{what}: {type(exc).__name__}: {_shown(exc)}", sent=sent)
    if isinstance(exc, httpx.ConnectError):
        return ConnectError(f"{what}: could not connect: {_shown(exc)}")
    if isinstance(exc, httpx.WriteError):
        return WriteError(f"{what}: failed while sending: {_shown(exc)}")
    if isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError | httpx.CloseError):
        return ReadError(f"{what}: failed while reading the reply: {_shown(exc)}")
    if isinstance(exc, httpx.TooManyRedirects):
        return RemoteProtocolError(f"{what}: too many redirects")
    if isinstance(exc, httpx.DecodingError):
        return RemoteProtocolError(
            f"{what}: the reply's body does not match its Content-Encoding: {_shown(exc)}"
        )
    if isinstance(exc, httpx.InvalidURL):
        return RemoteProtocolError(f"{what}: unusable URL: {_shown(exc)}")
    if isinstance(exc, OverflowError):  # the socket layer, on a port out of range
        return ConnectError(f"{what}: could not connect: {_shown(exc)}")
    return TransportError(f"{what}: {type(exc).__name__}: {_shown(exc)}", sent=False)


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


def to_response(r: httpx.Response, body: bytes, url: str | None = None) -> HTTPResponse:
    """The core's view of a reply; ``url`` saves rendering ``r.url`` when it is known."""
    enc = r.headers.encoding
    headers = {k.decode(enc).lower(): v.decode(enc) for k, v in r.headers.raw}
    return HTTPResponse(r.status_code, headers, body, str(r.url) if url is None else url)


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
    return Timeout(f"{what}: the deadline passed", sent=sent)


def check_deadline(until: float | None, what: str, *, sent: bool) -> None:
    """Raise `Timeout` if ``until`` (a `deadline_until` instant) has passed."""
    if until is not None and time.monotonic() > until:
        raise past_deadline(what, sent=sent)


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


def session_hint(url: str | None) -> str:
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
