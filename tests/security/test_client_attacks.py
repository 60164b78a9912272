"""A hostile or broken server against the client (issue 9, client points 8-11; issue 14.5).

Every case here failed before its fix: a long wait was slept in full, an httpx or
stdlib exception escaped as a non-`JMAPError`, a password showed, a dripping server held
a send forever, or a body was read without bound. Hostile replies come from
``httpx.MockTransport`` handlers; the dripping server is a real loopback socket.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import jmapchat
from jmapchat import Client, Request, RetryPolicy
from jmapchat._core import FreshSession, HTTPRequest, HTTPResponse, Session, Sleep, execute_flow

ACCOUNT = "A1"
CORE_LIMITS = {
    "maxSizeUpload": 1_000_000,
    "maxConcurrentUpload": 4,
    "maxSizeRequest": 1_000_000,
    "maxConcurrentRequests": 4,
    "maxCallsInRequest": 16,
    "maxObjectsInGet": 500,
    "maxObjectsInSet": 500,
    "collationAlgorithms": [],
}


def session_doc(base: str = "http://jmap.test", **urls: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "capabilities": {"urn:ietf:params:jmap:core": CORE_LIMITS, "urn:ietf:params:jmap:chat": {}},
        "accounts": {
            ACCOUNT: {
                "name": "a",
                "isPersonal": True,
                "isReadOnly": False,
                "accountCapabilities": {},
            }
        },
        "primaryAccounts": {"urn:ietf:params:jmap:chat": ACCOUNT},
        "username": "a",
        "apiUrl": f"{base}/api/",
        "downloadUrl": f"{base}/download/{{accountId}}/{{blobId}}/{{name}}?type={{type}}",
        "uploadUrl": f"{base}/upload/{{accountId}}/",
        "eventSourceUrl": f"{base}/events/?types={{types}}&closeafter={{closeafter}}&ping={{ping}}",
        "state": "s1",
    }
    doc.update(urls)
    return doc


def echo_reply(request: httpx.Request) -> dict[str, Any]:
    calls = json.loads(request.content)["methodCalls"]
    return {"methodResponses": [[m, a, i] for m, a, i in calls], "sessionState": "s1"}


Handler = Callable[[httpx.Request], httpx.Response]


def client_for(api: Handler | None = None, *, session: Any = None, **kw: Any) -> Client:
    """A blocking client whose server is ``session`` (a document) and ``api`` (a handler)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/jmap"):
            if callable(session):
                out: httpx.Response = session(request)
                return out
            return httpx.Response(200, json=session if session is not None else session_doc())
        if api is not None:
            return api(request)
        return httpx.Response(200, json=echo_reply(request))

    kw.setdefault("retries", RetryPolicy(retries=2, backoff_base=0.0, jitter=False))
    return Client.connect("http://jmap.test", transport=httpx.MockTransport(handle), **kw)


def echo(client: Client, **kw: Any) -> Any:
    return client.call(lambda r: r.core.echo({"hello": "world"}), **kw)


# --- 8. no wait is longer than RetryPolicy.max_retry_after ----------------------------------


LONG_WAITS = ["3600", "Wed, 01 Jan 2099 00:00:00 GMT", "1e999", "inf"]


def sleeps_while_sending(
    status: int, problem: dict[str, Any] | None, retry_after: str
) -> list[float]:
    """Drive the executor flow against a server that always asks for ``retry_after``."""
    policy = RetryPolicy(retries=3, max_retry_after=60.0, jitter=False)
    req = Request(account_id=ACCOUNT)
    req.core.echo({})
    flow = execute_flow(req, account_id=ACCOUNT, policy=policy)
    session = Session.parse(session_doc())
    sleeps: list[float] = []
    body = json.dumps(problem or {}).encode()
    reply: Any = None
    while True:
        try:
            instr = flow.send(reply)
        except jmapchat.JMAPError:
            return sleeps
        reply = None
        if isinstance(instr, HTTPRequest):
            reply = HTTPResponse(status, {"retry-after": retry_after}, body, instr.url)
        elif isinstance(instr, Sleep):
            sleeps.append(instr.seconds)
        elif isinstance(instr, FreshSession):
            reply = session


@pytest.mark.parametrize("retry_after", LONG_WAITS)
def test_max_concurrent_requests_retry_after_is_capped(retry_after: str) -> None:
    problem = {
        "type": "urn:ietf:params:jmap:error:limit",
        "status": 400,
        "limit": "maxConcurrentRequests",
    }
    sleeps = sleeps_while_sending(400, problem, retry_after)
    assert all(s <= 60.0 for s in sleeps), sleeps
    assert sleeps == []  # asked for longer than the cap: raised at once, as for 429


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("retry_after", LONG_WAITS)
def test_429_and_503_retry_after_is_capped(status: int, retry_after: str) -> None:
    sleeps = sleeps_while_sending(status, None, retry_after)
    assert all(s <= 60.0 for s in sleeps), sleeps


def test_a_real_client_does_not_sleep_an_hour() -> None:
    """End to end: the blocking client facing maxConcurrentRequests + Retry-After: 3600."""
    problem = {
        "type": "urn:ietf:params:jmap:error:limit",
        "status": 400,
        "limit": "maxConcurrentRequests",
    }
    calls = []

    def api(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400, json=problem, headers={"Retry-After": "3600"})

    with client_for(api) as client, pytest.raises(jmapchat.LimitExceeded):
        echo(client)
    assert len(calls) == 1


# --- 9. hostile session documents and bodies become typed errors ----------------------------


HOSTILE_URLS = {
    "nul": "http://jmap.test/a\x00b/",
    "unclosed-ipv6": "http://[::1",
    "mailto": "mailto:someone@example.com",
    "port-99999": "http://127.0.0.1:99999/api/",
    "port-not-a-number": "http://jmap.test:1e9/api/",
    "space": "http://jmap.test/a b/",
    "ftp": "ftp://jmap.test/api/",
    "javascript": "javascript:alert(1)",
}


@pytest.mark.parametrize("url", HOSTILE_URLS.values(), ids=HOSTILE_URLS.keys())
@pytest.mark.parametrize("field", ["apiUrl", "downloadUrl", "uploadUrl"])
def test_hostile_session_url_is_a_typed_error(field: str, url: str) -> None:
    with pytest.raises(jmapchat.RemoteProtocolError, match=f"session {field}") as caught:
        client_for(session=session_doc(**{field: url})).open()
    # the document is a session, so no "not a JMAP session: pass the base URL" hint
    assert "not a JMAP session" not in str(caught.value)


def test_undecodable_api_body_is_a_typed_error() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        body = json.dumps(echo_reply(request)).encode()
        return httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})

    with (
        client_for(api) as client,
        pytest.raises(jmapchat.RemoteProtocolError, match="Content-Encoding"),
    ):
        echo(client)


def test_undecodable_session_body_is_a_typed_error() -> None:
    def session(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=json.dumps(session_doc()).encode(), headers={"Content-Encoding": "gzip"}
        )

    with pytest.raises(jmapchat.RemoteProtocolError, match="Content-Encoding"):
        client_for(session=session).open()


def test_redirect_to_a_hostile_location_is_a_typed_error() -> None:
    def session(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://[::1/.well-known/jmap"})

    with pytest.raises(jmapchat.TransportError):  # a guard: this one was typed already
        client_for(session=session).open()


# --- 10. a password in the URL never shows ------------------------------------------------


def test_userinfo_is_redacted_in_repr_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours and httpx's
    seen_auth: list[str] = []

    def session(request: httpx.Request) -> httpx.Response:
        seen_auth.append(request.headers.get("authorization", ""))
        return httpx.Response(200, json=session_doc())

    client = Client.connect(
        "http://bob:S3CRET-PASS@jmap.test",
        transport=httpx.MockTransport(
            lambda r: (
                session(r)
                if r.url.path.endswith("/.well-known/jmap")
                else httpx.Response(200, json=echo_reply(r))
            )
        ),
    )
    assert "S3CRET" not in repr(client)
    with client:
        echo(client)
        assert "S3CRET" not in repr(client)
    assert seen_auth
    assert seen_auth[0].startswith("Basic ")  # still used, as Basic auth
    refused = Client.connect(
        "http://bob:S3CRET-PASS@127.0.0.1:9", retries=0, timeout=5.0
    )  # port 9 (discard): nothing listens on loopback
    with pytest.raises(jmapchat.TransportError) as info:
        refused.open()
    assert "S3CRET" not in str(info.value)
    assert "S3CRET" not in repr(info.value)
    assert "S3CRET" not in caplog.text
    assert "S3CRET" not in "\n".join(str(r.args) for r in caplog.records)


def test_redact_url() -> None:
    from jmapchat._core import redact_url

    assert redact_url("http://bob:pw@host:8/x?y=@") == "http://bob:***@host:8/x?y=@"
    assert redact_url("http://host/x") == "http://host/x"
    assert redact_url("POST https://u:p@h/api -> 200") == "POST https://u:***@h/api -> 200"


# --- 11. a per-send deadline against a server that drips one byte every 0.5 s ---------------


@pytest.fixture
def dripping_server() -> Iterator[str]:
    """Serves the session at once, then answers every POST one byte per 0.5 s, forever."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            if data.startswith(b"GET"):
                body = json.dumps(session_doc(base)).encode()
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                )
                conn.sendall(head.encode() + body)
                return
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000000\r\n\r\n"
            )
            while not stop.wait(0.5):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        stop.set()
        thread.join(10)
        listener.close()


def test_deadline_stops_a_dripping_server(dripping_server: str) -> None:
    # The read timeout (5 s) never fires: a byte arrives every 0.5 s.
    with Client.connect(dripping_server, timeout=5.0, retries=0) as client:
        started = time.monotonic()
        with pytest.raises(jmapchat.Timeout, match="deadline"):
            echo(client, deadline=1.5)
        assert time.monotonic() - started < 60  # generous: it ended (it used to hang)


def test_deadline_is_checked_before_a_retry_wait() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "30"})

    policy = RetryPolicy(retries=3, max_retry_after=60.0)
    with client_for(api, retries=policy) as client, pytest.raises(jmapchat.Timeout, match="wait"):
        echo(client, deadline=5.0)  # a 30 s wait would end past it: not started


def test_deadline_must_be_positive() -> None:
    with client_for() as client, pytest.raises(TypeError, match="deadline"):
        echo(client, deadline=0)


# --- issue 14.5: body size caps ------------------------------------------------------------


def test_session_body_over_the_cap() -> None:
    big = session_doc()
    big["padding"] = "x" * 5_000_000
    with pytest.raises(jmapchat.ResponseTooLarge, match="max_session_bytes") as info:
        client_for(session=big).open()
    assert info.value.limit == 4 * 1024 * 1024


def test_api_body_over_the_cap_declared_and_streamed() -> None:
    def declared(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" + b" " * 2_000_000 + b"]")

    with (
        client_for(declared, max_response_bytes=1_000_000) as client,
        pytest.raises(jmapchat.ResponseTooLarge, match="max_response_bytes"),
    ):
        echo(client)

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b" " * 600_000] * 100))  # no Content-Length

    with (
        client_for(streamed, max_response_bytes=1_000_000) as client,
        pytest.raises(jmapchat.ResponseTooLarge),
    ):
        echo(client)


def test_gzip_bomb_is_capped_on_the_decoded_size() -> None:
    bomb = gzip.compress(b" " * 50_000_000)  # ~50 kB on the wire

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})

    with (
        client_for(api, max_response_bytes=1_000_000) as client,
        pytest.raises(jmapchat.ResponseTooLarge),
    ):
        echo(client)


def test_caps_are_validated() -> None:
    with pytest.raises(TypeError, match="max_response_bytes"):
        Client.connect("http://x", max_response_bytes=0)
