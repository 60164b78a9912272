"""The lean exchange (issue 14, point 14): API requests of a client that built its own
httpx client go straight to the transport. These tests pin that this shortcut sends
exactly what ``httpx.Client`` would have sent, and that everything it cannot reproduce
(cookies, a user's auth flow or hooks, an environment proxy) still goes through httpx.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import jmapchat
from jmapchat._client._http import USER_AGENT, BearerAuth, RedactedBasicAuth
from jmapchat.server import ChatServer
from jmapchat.testing import AsyncClientFactory, ClientFactory, FaultTransport, Wire

pytestmark = pytest.mark.anyio

API_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class Seen:
    """A request entering the test transport, as the client handed it over."""

    def __init__(self, request: httpx.Request) -> None:
        self.method = request.method
        self.url = request.url
        self.content = request.read()
        self.headers = sorted((k.lower(), v) for k, v in request.headers.multi_items())
        self.cookie = request.headers.get("cookie")
        self.extensions = dict(request.extensions)


def captured(wire: Wire) -> list[Seen]:
    """Every request entering the test transport (hooks armed later see it after)."""
    seen: list[Seen] = []

    def hook(request: httpx.Request) -> None:
        seen.append(Seen(request))

    wire.before.append(hook)
    return seen


@pytest.fixture
def client_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The methods of the requests that went through ``httpx.Client.send``."""
    sends: list[str] = []
    original = httpx.Client.send

    def spy(self: httpx.Client, request: httpx.Request, **kw: Any) -> httpx.Response:
        sends.append(request.method)
        return original(self, request, **kw)

    monkeypatch.setattr(httpx.Client, "send", spy)
    return sends


def through(wire: Wire, url: str, **kw: Any) -> jmapchat.Client:
    """A blocking client over ``wire`` with exactly these credentials."""
    transport = FaultTransport(httpx.HTTPTransport(), wire)
    return jmapchat.Client.connect(url, transport=transport, retries=0, **kw)


def what_httpx_sends(request: Seen, auth: httpx.Auth) -> list[tuple[str, str]]:
    """The headers ``httpx.Client`` sends for the same URL, body and credentials."""
    with httpx.Client(headers={"User-Agent": USER_AGENT}) as http:
        built = http.build_request(
            "POST", request.url, headers=API_HEADERS, content=request.content
        )
        sent = next(auth.sync_auth_flow(built))
    return sorted((k.lower(), v) for k, v in sent.headers.multi_items())


@pytest.mark.parametrize("credentials", ["token", "basic"])
def test_api_request_is_what_httpx_client_sends(
    jmap_live_url: str,
    jmap_wire: Wire,
    jmap_server: ChatServer,
    credentials: str,
    client_sends: list[str],
) -> None:
    seen = captured(jmap_wire)
    token = jmap_server.tokens["alice"]
    auth: BearerAuth | RedactedBasicAuth
    if credentials == "token":
        kw: dict[str, Any] = {"token": token}
        auth = BearerAuth(token)
    else:
        kw = {"username": "alice", "password": "pw"}
        auth = RedactedBasicAuth("alice", "pw")

        def as_bearer(request: httpx.Request) -> None:  # the server only takes tokens
            request.headers["Authorization"] = f"Bearer {token}"

        jmap_wire.before.append(as_bearer)
    with through(jmap_wire, jmap_live_url, **kw) as client:
        assert client.core.echo({"hi": 1}).model_extra == {"hi": 1}
    assert client_sends == ["GET"]  # the session through httpx.Client, the call direct
    (api,) = [r for r in seen if r.method == "POST"]
    assert api.headers == what_httpx_sends(api, auth)
    assert ("authorization", auth.header) in api.headers
    assert api.extensions["timeout"] == httpx.Timeout(30.0).as_dict()


async def test_async_api_request_is_what_httpx_client_sends(
    make_client: AsyncClientFactory, jmap_wire: Wire, jmap_server: ChatServer
) -> None:
    seen = captured(jmap_wire)
    async with make_client(timeout=7.0) as client:
        await client.core.echo({"hi": 1})
    (api,) = [r for r in seen if r.method == "POST"]
    assert api.headers == what_httpx_sends(api, BearerAuth(jmap_server.tokens["alice"]))
    assert api.extensions["timeout"] == httpx.Timeout(7.0).as_dict()


def test_deadline_cuts_the_timeout_of_a_direct_request(
    jmap_client: ClientFactory, jmap_wire: Wire
) -> None:
    seen = captured(jmap_wire)
    with jmap_client(timeout=30.0) as client:
        req = client.request()
        req.core.echo({"x": 1})
        client.send(req, deadline=5.0)
    (api,) = [r for r in seen if r.method == "POST"]
    timeouts = api.extensions["timeout"]
    assert all(0 < timeouts[phase] <= 5.0 for phase in ("connect", "read", "write", "pool"))


def test_cookie_set_on_an_api_reply_is_sent_back(
    jmap_client: ClientFactory, jmap_wire: Wire, client_sends: list[str]
) -> None:
    """A server pinning a session with a cookie gets it back, as through httpx.Client."""
    seen = captured(jmap_wire)

    def set_cookie(
        request: httpx.Request, response: httpx.Response, body: bytes
    ) -> httpx.Response | None:
        if request.method != "POST":
            return None
        headers = [*response.headers.multi_items(), ("set-cookie", "affinity=node7; Path=/")]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)

    jmap_wire.after.append(set_cookie)
    with jmap_client() as client:
        client.core.echo({"n": 1})
        client.core.echo({"n": 2})
        assert client.core.echo({"n": 3}).model_extra == {"n": 3}
    api = [r for r in seen if r.method == "POST"]
    assert [r.cookie for r in api] == [None, "affinity=node7", "affinity=node7"]
    assert client_sends == ["GET", "POST", "POST"]  # with a cookie, through httpx.Client


def test_a_users_auth_flow_runs_for_every_api_request(
    jmap_live_url: str, jmap_wire: Wire, jmap_server: ChatServer, client_sends: list[str]
) -> None:
    token = jmap_server.tokens["alice"]

    class Counting(httpx.Auth):
        def __init__(self) -> None:
            self.flows = 0

        def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
            self.flows += 1
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    auth = Counting()
    with through(jmap_wire, jmap_live_url, auth=auth) as client:
        before = auth.flows
        for n in range(3):
            client.core.echo({"n": n})
    assert auth.flows - before == 3
    assert client_sends.count("POST") == 3


def test_a_users_http_client_keeps_its_event_hooks(
    jmap_live_url: str, jmap_server: ChatServer
) -> None:
    hooked: list[str] = []
    with (
        httpx.Client(event_hooks={"request": [lambda r: hooked.append(r.method)]}) as http,
        jmapchat.Client.connect(
            jmap_live_url, token=jmap_server.tokens["alice"], http_client=http
        ) as client,
    ):
        client.core.echo({"n": 1})
        client.core.echo({"n": 2})
    assert hooked.count("POST") == 2


class _RecordingProxy:
    """A forward HTTP proxy stand-in on a loopback port: it answers every request itself
    (the session, or an echo of the API call) and records the request lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as stream:
            while True:
                line = stream.readline().decode("latin-1").strip()
                if not line:
                    return
                self.lines.append(line)
                length = 0
                while (header := stream.readline().decode("latin-1").strip()) != "":
                    name, _, value = header.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = stream.read(length) if length else b""
                conn.sendall(self._reply(line, body))

    def _reply(self, line: str, body: bytes) -> bytes:
        if line.startswith("GET "):
            doc: dict[str, Any] = SESSION
        else:
            calls = json.loads(body)["methodCalls"]
            doc = {"methodResponses": calls, "sessionState": "s1"}
        out = json.dumps(doc).encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(out)}\r\n\r\n"
        )
        return head.encode() + out

    def close(self) -> None:
        self.sock.close()


SESSION: dict[str, Any] = {
    "capabilities": {
        "urn:ietf:params:jmap:core": {
            "maxSizeUpload": 1000000,
            "maxConcurrentUpload": 4,
            "maxSizeRequest": 1000000,
            "maxConcurrentRequests": 4,
            "maxCallsInRequest": 16,
            "maxObjectsInGet": 500,
            "maxObjectsInSet": 500,
            "collationAlgorithms": [],
        }
    },
    "accounts": {
        "A": {"name": "a", "isPersonal": True, "isReadOnly": False, "accountCapabilities": {}}
    },
    "primaryAccounts": {"urn:ietf:params:jmap:core": "A"},
    "username": "a",
    "apiUrl": "http://jmap.example/api/",
    "downloadUrl": "http://jmap.example/download/{accountId}/{blobId}/{name}?type={type}",
    "uploadUrl": "http://jmap.example/upload/{accountId}/",
    "eventSourceUrl": "http://jmap.example/events/?types={types}&closeafter={closeafter}&ping={ping}",
    "state": "s1",
}


def test_an_environment_proxy_carries_the_api_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = _RecordingProxy()
    try:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
        with jmapchat.Client.connect("http://jmap.example", token="t", retries=0) as client:
            assert client.core.echo({"via": "proxy"}).model_extra == {"via": "proxy"}
    finally:
        proxy.close()
    assert proxy.lines == [
        "GET http://jmap.example/.well-known/jmap HTTP/1.1",
        "POST http://jmap.example/api/ HTTP/1.1",
    ]


def test_a_compressed_api_reply_is_decoded(
    jmap_client: ClientFactory, jmap_wire: Wire, client_sends: list[str]
) -> None:
    """The Accept-Encoding httpx advertises is honoured on the direct path too."""
    encodings: list[str | None] = []

    def gzipped(
        request: httpx.Request, response: httpx.Response, body: bytes
    ) -> httpx.Response | None:
        if request.method != "POST":
            return None
        encodings.append(request.headers.get("accept-encoding"))
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, content=gzip.compress(body), request=request)

    jmap_wire.after.append(gzipped)
    with jmap_client() as client:
        assert client.core.echo({"big": "x" * 5000}).model_extra == {"big": "x" * 5000}
    assert client_sends == ["GET"]
    (accepted,) = encodings
    assert "gzip" in (accepted or "")
