"""The lean exchange: an API request handed straight to the httpx transport.

Why: ``httpx.Client.send`` spends more CPU per request than the whole rest of a one-call
batch (about 140 µs of ~380 µs on loopback, `benchmarks/small_request.py`): merging the
URL and default headers, the cookie jar, the auth generator, the redirect loop and the
event hooks. An API ``POST`` of a client that built its own `httpx.Client` needs none of
them, so the driver builds the `httpx.Request` itself and calls the transport, which is
httpx's public extension point (``handle_request`` / ``handle_async_request``).

It is only taken where the result is provably the same as going through the client:
the httpx client is ours (no user hooks, mounts or default settings), no environment
proxy applies, the credentials are a fixed header (Bearer, Basic or none), the body is
bytes, no redirect is to be followed and the cookie jar is empty. Everything else
(uploads, downloads, a user's ``http_client=`` or ``auth=``) goes through the client.
"""

from __future__ import annotations

import urllib.request

import httpx

from jmapchat._core import HTTPRequest

from ._http import BearerAuth, RedactedBasicAuth, timeout_until

__all__ = ["DirectRoute", "env_proxies"]


def env_proxies() -> bool:
    """True if an ``HTTP(S)_PROXY``/``ALL_PROXY`` is set: httpx routes through it then."""
    return any(key != "no" for key in urllib.request.getproxies())


def _auth_header(auth: httpx.Auth | None) -> tuple[bool, str | None]:
    """(usable, the ``Authorization`` value) for auth that is one fixed header."""
    if auth is None:
        return True, None
    if isinstance(auth, BearerAuth | RedactedBasicAuth):
        return True, auth.header
    return False, None  # a user's httpx.Auth may be a challenge/refresh flow


class DirectRoute:
    """Builds the `httpx.Request` for an API call as ``httpx.Client`` would have.

    Headers are the client's defaults, then the request's, then the credentials; the
    timeout is the client's, cut to a deadline if one is given. The merged headers are
    kept for the last header mapping seen (the core sends one object, `API_HEADERS`).
    """

    __slots__ = ("_base", "_merged", "_timeout", "_timeouts", "_urls", "transport")

    def __init__(
        self,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport,
        headers: httpx.Headers,
        authorization: str | None,
        timeout: httpx.Timeout,
    ) -> None:
        self.transport = transport
        self._base = httpx.Headers(headers)
        if authorization is not None:
            self._base["Authorization"] = authorization
        # (the request's header mapping, the merged headers): one attribute, so threads
        # sharing a blocking client always read a matching pair.
        self._merged: tuple[object, httpx.Headers] = (None, self._base)
        self._timeout = timeout
        self._timeouts = timeout.as_dict()
        self._urls: dict[str, httpx.URL] = {}

    @classmethod
    def for_client(
        cls,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport,
        http: httpx.Client | httpx.AsyncClient,
        auth: httpx.Auth | None,
    ) -> DirectRoute | None:
        """The route for ``http`` (built on ``transport``), or None if ``auth`` is a flow."""
        usable, authorization = _auth_header(auth)
        if not usable:
            return None
        return cls(transport, http.headers, authorization, http.timeout)

    def request(
        self, req: HTTPRequest, cookies: httpx.Cookies, until: float | None
    ) -> httpx.Request | None:
        """The request to hand to the transport, or None: take the client's path."""
        if req.kind != "api" or req.follow_redirects or type(req.body) is not bytes or cookies:
            return None
        url = self._urls.get(req.url)
        if url is None:
            if len(self._urls) > 8:  # apiUrl changes only with a new session
                self._urls.clear()
            url = self._urls[req.url] = httpx.URL(req.url)
        source, headers = self._merged
        if req.headers is not source:
            headers = httpx.Headers(self._base)
            headers.update(req.headers)
            if "authorization" in self._base:  # the credentials win, as httpx's auth does
                headers["Authorization"] = self._base["authorization"]
            self._merged = (req.headers, headers)
        timeouts = (
            self._timeouts if until is None else timeout_until(self._timeout, until).as_dict()
        )
        return httpx.Request(
            req.method,
            url,
            headers=headers,
            content=req.body,
            extensions={"timeout": timeouts},
        )
