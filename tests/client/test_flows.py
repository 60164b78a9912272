"""The sans-IO flows driven by hand: no sockets, no event loop, no clock."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any, cast

import pytest

import jmapchat
from jmapchat._core import Session
from jmapchat._core._exec import (
    Emit,
    Flow,
    FreshSession,
    HTTPRequest,
    HTTPResponse,
    ObservedSessionState,
    RetryPolicy,
    Sleep,
    changes_pages_flow,
    execute_flow,
    parse_retry_after,
    session_flow,
    upload_flow,
)
from jmapchat._core._responses import ChangesResponse

POLICY = RetryPolicy(retries=2, backoff_base=1.0, jitter=False)
CORE = "urn:ietf:params:jmap:core"
CHAT = "urn:ietf:params:jmap:chat"

SESSION_DOC = {
    "capabilities": {CORE: {"maxCallsInRequest": 4, "maxSizeUpload": 100}, CHAT: {}},
    "accounts": {"A": {"name": "a", "accountCapabilities": {CHAT: {}}}},
    "primaryAccounts": {CHAT: "A"},
    "apiUrl": "/jmap/api/",
    "uploadUrl": "/jmap/upload/{accountId}/",
    "downloadUrl": "/jmap/download/{accountId}/{blobId}/{name}?type={type}",
    "state": "s0",
}
SESSION = Session.parse(SESSION_DOC, base_url="http://h/.well-known/jmap")

Handler = Callable[[HTTPRequest], "HTTPResponse | Exception"]


def ok(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> HTTPResponse:
    return HTTPResponse(status, headers or {}, json.dumps(doc).encode(), "http://h/jmap/api/")


def echo_reply(req: HTTPRequest) -> HTTPResponse:
    calls = json.loads(req.body)["methodCalls"]
    return ok({"methodResponses": calls, "sessionState": "s0"})


def drive(flow: Flow[Any], handler: Handler) -> tuple[Any, list[Any]]:
    """A minimal driver: answers HTTP with ``handler``; records every instruction."""
    seen: list[Any] = []
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            instr = flow.throw(error) if error is not None else flow.send(reply)
        except StopIteration as stop:
            return stop.value, seen
        seen.append(instr)
        reply, error = None, None
        if isinstance(instr, HTTPRequest):
            out = handler(instr)
            if isinstance(out, Exception):
                error = out
            else:
                reply = out
        elif isinstance(instr, FreshSession):
            reply = SESSION


def http_count(seen: list[Any]) -> int:
    return sum(isinstance(i, HTTPRequest) for i in seen)


def echo_request() -> jmapchat.Request:
    req = jmapchat.Request()
    req.core.echo({"x": 1})
    return req


def set_request() -> jmapchat.Request:
    from jmapchat.models import MessageCreate

    req = jmapchat.Request()
    req.message.set(create={"m": MessageCreate(chat_id="C", body="b")})
    return req


# --- session ---------------------------------------------------------------------------------


def test_session_flow_follows_redirects_and_resolves_relative_urls() -> None:
    def handler(req: HTTPRequest) -> HTTPResponse:
        assert req.follow_redirects
        assert req.method == "GET"
        body = json.dumps(SESSION_DOC).encode()
        return HTTPResponse(200, {}, body, "http://other/jmap/session")  # after a redirect

    session, _ = drive(session_flow("http://h/.well-known/jmap", POLICY), handler)
    assert session.api_url == "http://other/jmap/api/"
    assert session.upload_url_for("A") == "http://other/jmap/upload/A/"


def test_session_flow_401() -> None:
    def handler(req: HTTPRequest) -> HTTPResponse:
        return HTTPResponse(401, {}, b"", req.url)

    with pytest.raises(jmapchat.AuthenticationError):
        drive(session_flow("http://h/.well-known/jmap", POLICY), handler)


# --- executor --------------------------------------------------------------------------------


def test_execute_binds_results_and_reports_session_state() -> None:
    req = echo_request()
    resp, seen = drive(execute_flow(req, account_id="A", policy=POLICY), echo_reply)
    assert isinstance(seen[0], FreshSession)
    # The reply's sessionState is the session's own: nothing to report.
    assert not any(isinstance(i, ObservedSessionState) for i in seen)
    assert req.account_id == "A"
    assert resp[req.calls[0]].model_extra == {"x": 1}

    def moved_on(request: HTTPRequest) -> HTTPResponse:
        calls = json.loads(request.body)["methodCalls"]
        return ok({"methodResponses": calls, "sessionState": "s1"})

    _, seen = drive(execute_flow(echo_request(), account_id="A", policy=POLICY), moved_on)
    assert ObservedSessionState("s1") in seen


def test_connect_error_is_retried_with_backoff() -> None:
    attempts = 0

    def handler(req: HTTPRequest) -> HTTPResponse | Exception:
        nonlocal attempts
        attempts += 1
        return jmapchat.ConnectError("refused") if attempts == 1 else echo_reply(req)

    _, seen = drive(execute_flow(set_request(), account_id="A", policy=POLICY), handler)
    assert http_count(seen) == 2
    assert Sleep(1.0) in seen


def test_read_error_after_write_is_not_retried_for_writes() -> None:
    def handler(req: HTTPRequest) -> Exception:
        return jmapchat.ReadError("reset")

    with pytest.raises(jmapchat.ReadError) as info:
        drive(execute_flow(set_request(), account_id="A", policy=POLICY), handler)
    assert "not retried" in " ".join(info.value.__notes__)


def test_read_error_is_retried_for_read_only_requests() -> None:
    attempts = 0

    def handler(req: HTTPRequest) -> HTTPResponse | Exception:
        nonlocal attempts
        attempts += 1
        return jmapchat.ReadError("reset") if attempts == 1 else echo_reply(req)

    _, seen = drive(execute_flow(echo_request(), account_id="A", policy=POLICY), handler)
    assert http_count(seen) == 2


def test_429_retry_after_is_honoured_then_capped() -> None:
    answers = [ok({}, 429, {"retry-after": "7"})]

    def handler(req: HTTPRequest) -> HTTPResponse:
        return answers.pop(0) if answers else echo_reply(req)

    _, seen = drive(execute_flow(echo_request(), account_id="A", policy=POLICY), handler)
    assert Sleep(7.0) in seen

    def too_long(req: HTTPRequest) -> HTTPResponse:
        return ok({}, 429, {"retry-after": "3600"})

    with pytest.raises(jmapchat.RateLimited) as info:
        drive(execute_flow(echo_request(), account_id="A", policy=POLICY), too_long)
    assert info.value.retry_after == 3600


def test_503_retries_are_bounded() -> None:
    def handler(req: HTTPRequest) -> HTTPResponse:
        return ok({}, 503)

    with pytest.raises(jmapchat.HTTPStatusError):
        drive(execute_flow(set_request(), account_id="A", policy=POLICY), handler)


def test_backoff_is_capped_exponential() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0, jitter=False)
    assert [policy.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittered = RetryPolicy(backoff_base=1.0, backoff_max=5.0)
    assert 1.0 <= jittered.backoff(2) <= 2.0


def test_retry_after_formats() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_server_unavailable_is_resent_only_when_nothing_changed() -> None:
    def flaky(first: list[bool]) -> Handler:
        def handler(req: HTTPRequest) -> HTTPResponse:
            calls = json.loads(req.body)["methodCalls"]
            if first:
                first.pop()
                return ok(
                    {
                        "methodResponses": [
                            ["error", {"type": "serverUnavailable"}, c[2]] for c in calls
                        ],
                        "sessionState": "s0",
                    }
                )
            return ok({"methodResponses": calls, "sessionState": "s0"})

        return handler

    _, seen = drive(execute_flow(echo_request(), account_id="A", policy=POLICY), flaky([True]))
    assert http_count(seen) == 2
    # A /set answered serverUnavailable changed nothing either: safe to resend.
    _, seen = drive(execute_flow(set_request(), account_id="A", policy=POLICY), flaky([True]))
    assert http_count(seen) == 2


def test_problem_details_are_typed() -> None:
    def handler(req: HTTPRequest) -> HTTPResponse:
        problem = {"type": "urn:ietf:params:jmap:error:unknownCapability", "status": 400}
        return ok(problem, 400)

    with pytest.raises(jmapchat.UnknownCapability):
        drive(execute_flow(echo_request(), account_id="A", policy=POLICY), handler)


def test_malformed_reply_is_remote_protocol_error() -> None:
    def handler(req: HTTPRequest) -> HTTPResponse:
        return HTTPResponse(200, {}, b"[1, 2]", req.url)

    with pytest.raises(jmapchat.RemoteProtocolError):
        drive(execute_flow(echo_request(), account_id="A", policy=POLICY), handler)


# --- paging ----------------------------------------------------------------------------------


def changes_page(since: str, new: str, more: bool) -> dict[str, Any]:
    return {
        "accountId": "A",
        "oldState": since,
        "newState": new,
        "hasMoreChanges": more,
        "created": [new],
        "updated": [],
        "destroyed": [],
    }


def pages_flow(states: dict[str, tuple[str, bool]]) -> tuple[Flow[None], Handler]:
    def handler(req: HTTPRequest) -> HTTPResponse:
        name, args, cid = json.loads(req.body)["methodCalls"][0]
        new, more = states[args["sinceState"]]
        page = changes_page(args["sinceState"], new, more)
        return ok({"methodResponses": [[name, page, cid]], "sessionState": "s0"})

    flow = changes_pages_flow(
        lambda: jmapchat.Request(account_id="A"),
        lambda req, state: cast(jmapchat.Request, req).message.changes(since_state=state),
        "0",
        account_id="A",
        policy=POLICY,
    )
    return flow, handler


def test_changes_pages_loop_until_done() -> None:
    flow, handler = pages_flow({"0": ("1", True), "1": ("2", True), "2": ("3", False)})
    _, seen = drive(flow, handler)
    pages = [i.value for i in seen if isinstance(i, Emit)]
    assert all(isinstance(p, ChangesResponse) for p in pages)
    assert [p.new_state for p in pages] == ["1", "2", "3"]


def test_changes_pages_stuck_cursor_guard() -> None:
    flow, handler = pages_flow({"0": ("1", True), "1": ("1", True)})
    with pytest.raises(jmapchat.RemoteProtocolError, match="stuck cursor"):
        drive(flow, handler)


# --- blobs -----------------------------------------------------------------------------------


def test_upload_checks_max_size_before_any_request() -> None:
    flow = upload_flow(
        b"x" * 101,
        content_type="a/b",
        account_id="A",
        size=101,
        replayable=True,
        policy=POLICY,
    )
    with pytest.raises(jmapchat.LocalProtocolError, match="maxSizeUpload"):
        drive(flow, lambda req: pytest.fail("no request may be sent"))


def test_upload_verifies_size_and_sha256() -> None:
    def handler(req: HTTPRequest) -> HTTPResponse:
        assert req.url == "http://h/jmap/upload/A/"
        doc = {"blobId": "B", "type": "a/b", "size": 3, "sha256": "0" * 64}
        return HTTPResponse(201, {}, json.dumps(doc).encode(), req.url)

    flow = upload_flow(
        b"abc", content_type="a/b", account_id="A", size=3, replayable=True, policy=POLICY
    )
    with pytest.raises(jmapchat.RemoteProtocolError, match="corrupted"):
        drive(flow, handler)


# --- sans-IO ---------------------------------------------------------------------------------


def test_core_and_flows_import_no_http_stack() -> None:
    code = (
        "import sys, jmapchat._core, jmapchat._core._exec, jmapchat;"
        "bad = [m for m in ('httpx', 'anyio', 'trio') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_lazy_exports() -> None:
    code = (
        "import sys, jmapchat; c = jmapchat.AsyncClient; s = jmapchat.Client;"
        "assert c.__module__ == 'jmapchat' and 'httpx' in sys.modules;"
        "assert 'AsyncClient' in dir(jmapchat) and 'AsyncClient' in jmapchat.__all__"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_generated_mirrors_are_fresh() -> None:
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "gen_mirrors.py"
    spec = importlib.util.spec_from_file_location("_gen_mirrors_under_test", script)
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.main(["--check"]) == 0, "run: python scripts/gen_mirrors.py"


def test_one_call_helpers_are_typed() -> None:
    """mypy infers one-call results (``await client.message.get(...)`` → GetResponse[Message])."""
    pytest.importorskip("mypy")
    from pathlib import Path

    target = Path(__file__).with_name("_typing_helpers.py")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(target)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_max_concurrent_requests_limit_problem_is_retried() -> None:
    answers = [
        ok(
            {
                "type": "urn:ietf:params:jmap:error:limit",
                "status": 400,
                "limit": "maxConcurrentRequests",
            },
            400,
        )
    ]

    def handler(req: HTTPRequest) -> HTTPResponse:
        return answers.pop(0) if answers else echo_reply(req)

    _, seen = drive(execute_flow(set_request(), account_id="A", policy=POLICY), handler)
    assert http_count(seen) == 2

    def always(req: HTTPRequest) -> HTTPResponse:
        problem = {"type": "urn:ietf:params:jmap:error:limit", "limit": "maxSizeRequest"}
        return ok(problem, 400)

    with pytest.raises(jmapchat.LimitExceeded) as info:
        drive(execute_flow(set_request(), account_id="A", policy=POLICY), always)
    assert info.value.limit == "maxSizeRequest"
