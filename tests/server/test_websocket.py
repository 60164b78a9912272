"""The server's RFC 8887 WebSocket endpoint (+ chat-wss), over a real socket.

A real WebSocket client (the ``websockets`` library, independent of jmapchat) talks to
the reference server served by hypercorn on a loopback port.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from jmapchat import LimitExceeded
from jmapchat.models import RequestError, StateChange, parse_frame
from jmapchat.server import ChatServer, ServerLimits, serve_in_thread
from jmapchat.server._events import TypingLimiter

CORE = "urn:ietf:params:jmap:core"
CHAT = "urn:ietf:params:jmap:chat"
NOT_JSON = "urn:ietf:params:jmap:error:notJSON"
NOT_REQUEST = "urn:ietf:params:jmap:error:notRequest"
LIMIT = "urn:ietf:params:jmap:error:limit"
INVALID_ARGS = "urn:ietf:params:jmap:error:invalidArguments"
TIMEOUT = 20.0  # generous: the machine may be loaded; never a synchronisation sleep


class Env:
    def __init__(self, server: ChatServer, base: str) -> None:
        self.server = server
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=TIMEOUT)
        session = self.session("alice")
        self.ws_url: str = session["capabilities"]["urn:ietf:params:jmap:websocket"]["url"]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.tokens[user]}"}

    def session(self, user: str) -> dict[str, Any]:
        r = self.http.get("/.well-known/jmap", headers=self.headers(user))
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def call(self, user: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        args = {"accountId": self.server.account_ids[user], **args}
        r = self.http.post(
            "/jmap/api/",
            json={"using": [CORE, CHAT], "methodCalls": [[name, args, "c"]]},
            headers=self.headers(user),
        )
        assert r.status_code == 200, r.text
        rname, rargs, _ = r.json()["methodResponses"][0]
        assert rname == name, rargs
        out: dict[str, Any] = rargs
        return out

    def direct(self, user: str, other: str) -> str:
        res = self.call(user, "Chat/set", {"create": {"c": {"kind": "direct", "contactId": other}}})
        return str(res["created"]["c"]["id"])

    def typing(self, user: str, chat: str, typing: bool = True) -> None:
        self.call(user, "Chat/typing", {"chatId": chat, "typing": typing})

    def connect(self, user: str, **kw: Any) -> ClientConnection:
        return connect(
            self.ws_url,
            additional_headers=self.headers(user),
            subprotocols=kw.pop("subprotocols", ["jmap"]),  # type: ignore[list-item]
            open_timeout=TIMEOUT,
            **kw,
        )


@pytest.fixture
def env() -> Iterator[Env]:
    limits = ServerLimits(max_size_request=20_000, max_concurrent_requests=4)
    with (
        ChatServer(users=["alice", "bob", "carol"], limits=limits) as server,
        serve_in_thread(server) as base,
    ):
        e = Env(server, base)
        try:
            yield e
        finally:
            e.http.close()


def recv(ws: ClientConnection) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
    return out


def send(ws: ClientConnection, frame: Any) -> None:
    ws.send(json.dumps(frame))


def request(ws: ClientConnection, rid: str, calls: list[Any]) -> None:
    send(ws, {"@type": "Request", "id": rid, "using": [CORE, CHAT], "methodCalls": calls})


def until(ws: ClientConnection, pred: Any) -> dict[str, Any]:
    """The next frame matching ``pred`` (frames before it are skipped)."""
    while True:
        frame = recv(ws)
        if pred(frame):
            return frame


def echo_sentinel(ws: ClientConnection, rid: str) -> list[dict[str, Any]]:
    """Every frame up to the answer to a Core/echo: proves earlier frames were handled."""
    request(ws, rid, [["Core/echo", {"n": rid}, "e"]])
    seen = []
    while True:
        frame = recv(ws)
        seen.append(frame)
        if frame.get("requestId") == rid:
            return seen


def test_session_advertises_both_capabilities(env: Env) -> None:
    caps = env.session("alice")["capabilities"]
    ws = caps["urn:ietf:params:jmap:websocket"]
    assert ws["supportsPush"] is True
    assert ws["url"] == env.base.replace("http://", "ws://") + "/jmap/ws/"
    assert caps["urn:ietf:params:jmap:chat:websocket"] == {}


def test_handshake_needs_the_same_auth_as_http_and_the_jmap_subprotocol(env: Env) -> None:
    with pytest.raises(InvalidStatus) as bad:
        connect(env.ws_url, subprotocols=["jmap"], open_timeout=TIMEOUT)  # type: ignore[list-item]
    assert bad.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as wrong:
        connect(
            env.ws_url,
            additional_headers={"Authorization": "Bearer not-a-token"},
            subprotocols=["jmap"],  # type: ignore[list-item]
            open_timeout=TIMEOUT,
        )
    assert wrong.value.response.status_code == 401
    assert b"not-a-token" not in wrong.value.response.body
    with pytest.raises(InvalidStatus) as nosub:
        env.connect("alice", subprotocols=None)
    assert nosub.value.response.status_code == 400
    with env.connect("alice") as ws:
        assert ws.subprotocol == "jmap"


def test_requests_are_answered_by_request_id(env: Env) -> None:
    with env.connect("alice") as ws:
        for i in range(3):  # pipelined: all sent before any answer is read
            request(ws, f"r{i}", [["Core/echo", {"i": i}, "c0"]])
        send(ws, {"@type": "Request", "using": [CORE], "methodCalls": [["Core/echo", {}, "x"]]})
        got = [recv(ws) for _ in range(4)]
    by_id = {f.get("requestId"): f for f in got}
    assert set(by_id) == {"r0", "r1", "r2", None}
    for i in range(3):
        frame = by_id[f"r{i}"]
        assert frame["@type"] == "Response"
        assert frame["methodResponses"] == [["Core/echo", {"i": i}, "c0"]]
        assert frame["sessionState"]
    assert "requestId" not in by_id[None]


def test_chat_methods_work_over_the_socket(env: Env) -> None:
    chat = env.direct("alice", "bob")
    acc = env.server.account_ids["alice"]
    with env.connect("alice") as ws:
        create = {"chatId": chat, "body": "over ws", "bodyType": "text/plain"}
        request(
            ws,
            "m",
            [
                ["Message/set", {"accountId": acc, "create": {"m1": create}}, "0"],
                ["Message/get", {"accountId": acc, "ids": ["#m1"], "properties": ["body"]}, "1"],
            ],
        )
        frame = until(ws, lambda f: f.get("requestId") == "m")
    (_, got, _) = frame["methodResponses"][1]
    assert got["list"][0]["body"] == "over ws"


def test_bad_frames_get_request_errors_and_the_connection_survives(env: Env) -> None:
    with env.connect("alice") as ws:
        ws.send("{not json")
        first = recv(ws)
        assert first["@type"] == "RequestError"
        assert first["type"] == NOT_JSON
        assert "requestId" not in first
        ws.send(b"\x00\x01")
        send(ws, [1, 2])
        send(ws, {"@type": "Request", "id": "bad", "using": [CORE], "methodCalls": 3})
        send(ws, {"@type": "Request", "id": 7, "using": [CORE], "methodCalls": []})
        send(ws, {"@type": "Request", "id": "big", "pad": "x" * 30_000})
        send(ws, {"@type": "ChatStreamEnable", "dataTypes": ["vtc"]})
        send(ws, {"@type": "ChatStreamEnable", "dataTypes": []})
        send(ws, {"@type": "WebSocketPushEnable", "dataTypes": "Message"})
        too_many = [["Core/echo", {}, str(i)] for i in range(17)]
        send(ws, {"@type": "Request", "id": "many", "using": [CORE], "methodCalls": too_many})
        send(ws, {"@type": "Request", "id": "cap", "using": ["urn:x"], "methodCalls": []})
        send(ws, {"@type": "SomethingNew", "x": 1})  # unknown: ignored, no answer
        frames = echo_sentinel(ws, "ok")
        # Requests run concurrently, so the echo can overtake the last two refusals
        # ("many", "cap"): keep reading until all ten have come (recv times out if not).
        ok = frames.pop()
        while len(frames) < 10:
            frames.append(recv(ws))
        frames.append(ok)
    errors = [parse_frame(f) for f in frames[:-1]]
    assert all(isinstance(e, RequestError) for e in errors), frames
    kinds = [(e.problem_type, e.request_id, e.limit) for e in errors]  # type: ignore[attr-defined]
    # Requests may be answered out of order (RFC 8887 §4.3.1): compare as multisets.
    assert sorted(kinds, key=repr) == sorted(
        [
            (NOT_JSON, None, None),  # binary frame
            (NOT_REQUEST, None, None),  # not an object
            (NOT_REQUEST, "bad", None),  # methodCalls not an array
            (NOT_REQUEST, None, None),  # id not a string
            (LIMIT, None, "maxSizeRequest"),  # larger than maxSizeRequest
            (INVALID_ARGS, None, None),  # only an unrecognised ephemeral type
            (INVALID_ARGS, None, None),  # empty dataTypes
            (INVALID_ARGS, None, None),  # dataTypes not a list
            (LIMIT, "many", "maxCallsInRequest"),
            ("urn:ietf:params:jmap:error:unknownCapability", "cap", None),
        ],
        key=repr,
    )
    assert frames[-1]["@type"] == "Response"
    # The same typed errors as HTTP problem details.
    limit = next(e for e in errors if e.limit)  # type: ignore[attr-defined]
    assert isinstance(limit.to_exception(), LimitExceeded)  # type: ignore[attr-defined]


def test_state_pushes_filter_resume_and_stop(env: Env) -> None:
    chat = env.direct("alice", "bob")
    bob_acc = env.server.account_ids["bob"]
    with env.connect("bob") as ws:
        send(ws, {"@type": "WebSocketPushEnable", "dataTypes": ["Message"]})
        echo_sentinel(ws, "s1")  # the enable is processed before the message is sent
        env.call("alice", "Message/set", {"create": {"m": {"chatId": chat, "body": "1"}}})
        frame = until(ws, lambda f: f["@type"] == "StateChange")
        change = parse_frame(frame)
        assert isinstance(change, StateChange)
        assert list(change.changed) == [bob_acc]
        assert set(change.changed[bob_acc]) == {"Message"}  # Chat changed too: filtered out
        push_state = change.push_state
        assert push_state
    # Disconnected: a change happens; resuming from pushState reports it at once.
    env.call("alice", "Message/set", {"create": {"m": {"chatId": chat, "body": "2"}}})
    with env.connect("bob") as ws:
        send(ws, {"@type": "WebSocketPushEnable", "dataTypes": None, "pushState": push_state})
        frame = until(ws, lambda f: f["@type"] == "StateChange")
        assert "Message" in frame["changed"][bob_acc]
        assert frame["changed"][bob_acc]["Message"] != change.changed[bob_acc]["Message"]
        send(ws, {"@type": "WebSocketPushDisable"})
        echo_sentinel(ws, "s2")
        env.call("alice", "Message/set", {"create": {"m": {"chatId": chat, "body": "3"}}})
        frames = echo_sentinel(ws, "s3")
        # A push of bob's own change would come before the echo if pushes were still on.
        own = {"chatId": env.direct("bob", "carol"), "body": "x"}
        env.call("bob", "Message/set", {"create": {"m": own}})
        frames += echo_sentinel(ws, "s4")
    assert [f for f in frames if f["@type"] == "StateChange"] == []


def test_typing_and_presence_streams_follow_the_delivery_rules(env: Env) -> None:
    alice_chat = env.direct("alice", "bob")
    env.call("alice", "Message/set", {"create": {"m": {"chatId": alice_chat, "body": "hi"}}})
    carol_chat = env.direct("carol", "bob")
    env.call("carol", "Message/set", {"create": {"m": {"chatId": carol_chat, "body": "hi"}}})
    with env.connect("bob") as bob, env.connect("carol") as carol:
        send(bob, {"@type": "ChatStreamEnable", "dataTypes": ["typing", "presence", "vtc"]})
        send(carol, {"@type": "ChatStreamEnable", "dataTypes": ["typing", "presence"]})
        echo_sentinel(bob, "b")
        echo_sentinel(carol, "c")
        # Rate limit: true, false, true in a row: the second true is dropped.
        env.typing("alice", alice_chat, True)
        env.typing("alice", alice_chat, False)
        env.typing("alice", alice_chat, True)
        env.typing("carol", carol_chat, True)  # sentinel
        got = []
        while True:
            frame = recv(bob)
            if frame["@type"] == "ChatTypingEvent":
                got.append((frame["senderId"], frame["typing"]))
                if frame["senderId"] == "carol":
                    break
        assert got == [("alice", True), ("alice", False), ("carol", True)]
        # carol sees nothing of alice's typing to bob (no cross-account leak).
        env.typing("bob", carol_chat, True)  # sentinel for carol
        frame = until(carol, lambda f: f["@type"] == "ChatTypingEvent")
        assert frame["senderId"] == "bob"
        # Blocked at delivery: neither typing nor presence from alice.
        env.call("bob", "ChatContact/set", {"update": {"alice": {"blocked": True}}})
        env.typing("alice", alice_chat, False)
        pid = env.call("alice", "PresenceStatus/get", {"ids": None})["list"][0]["id"]
        env.call("alice", "PresenceStatus/set", {"update": {pid: {"presence": "busy"}}})
        cpid = env.call("carol", "PresenceStatus/get", {"ids": None})["list"][0]["id"]
        env.call("carol", "PresenceStatus/set", {"update": {cpid: {"presence": "away"}}})
        frames = []
        while True:
            frame = recv(bob)
            frames.append(frame)
            if frame["@type"] == "ChatPresenceEvent" and frame["contactId"] == "carol":
                break
        assert [f for f in frames if "alice" in (f.get("senderId"), f.get("contactId"))] == []
        assert frame["presence"] == "away"
        # ChatStreamDisable: nothing more.
        send(bob, {"@type": "ChatStreamDisable"})
        echo_sentinel(bob, "d")
        env.call("carol", "PresenceStatus/set", {"update": {cpid: {"presence": "online"}}})
        env.typing("carol", carol_chat, False)
        frames = echo_sentinel(bob, "e")
    assert [f for f in frames if f["@type"].startswith("Chat")] == []


def test_chat_ids_filter(env: Env) -> None:
    a = env.direct("alice", "bob")
    env.call("alice", "Message/set", {"create": {"m": {"chatId": a, "body": "hi"}}})
    c = env.direct("carol", "bob")
    env.call("carol", "Message/set", {"create": {"m": {"chatId": c, "body": "hi"}}})
    bob_c = env.call("bob", "Chat/query", {"filter": {"contactId": "carol"}})["ids"]
    with env.connect("bob") as ws:
        send(ws, {"@type": "ChatStreamEnable", "dataTypes": ["typing"], "chatIds": bob_c})
        echo_sentinel(ws, "x")
        env.typing("alice", a)
        env.typing("carol", c)
        frame = until(ws, lambda f: f["@type"] == "ChatTypingEvent")
    assert frame["senderId"] == "carol"


def test_rotated_credentials_close_the_socket_with_1008(env: Env) -> None:
    with env.connect("alice") as ws:
        echo_sentinel(ws, "before")
        env.server._set_token("alice", "a-new-token-for-alice")
        request(ws, "after", [["Core/echo", {}, "c"]])
        with pytest.raises(ConnectionClosed) as closed:
            recv(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


def test_typing_limiter_unit() -> None:
    now = [0.0]
    lim = TypingLimiter(clock=lambda: now[0])
    t = {"chatId": "c", "senderId": "s", "typing": True}
    f = {**t, "typing": False}
    assert lim.allow(f) is False  # a stop with nothing shown
    assert lim.allow(t) is True
    assert lim.allow(t) is False
    now[0] = 2.9
    assert lim.allow(f) is True
    assert lim.allow(t) is False
    now[0] = 3.1
    assert lim.allow(t) is True
    assert lim.allow({**t, "chatId": "other"}) is True


def test_server_shutdown_closes_the_socket_with_1001(env: Env) -> None:
    with env.connect("alice") as ws:
        echo_sentinel(ws, "up")
        env.server.core.hub.close()
        with pytest.raises(ConnectionClosed) as closed:
            recv(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001


def test_max_concurrent_requests_per_socket(env: Env) -> None:
    """More requests at once than maxConcurrentRequests: the excess ones get a typed
    ``limit`` RequestError at once, the others are answered, the socket stays usable."""
    n = env.server.limits.max_concurrent_requests
    acc = env.server.account_ids["alice"]
    with env.connect("alice") as ws:
        echo_sentinel(ws, "up")
        # While the test holds the store's lock no request can finish (each one waits for
        # it in its worker thread): the first n stay in flight, deterministically.
        with env.server.store.lock:
            for i in range(n + 2):
                request(ws, f"r{i}", [["Chat/get", {"accountId": acc, "ids": []}, "c"]])
            refused = [recv(ws), recv(ws)]
        answered = [recv(ws) for _ in range(n)]
        after = echo_sentinel(ws, "after")
    errors = [parse_frame(f) for f in refused]
    assert all(isinstance(e, RequestError) for e in errors), refused
    assert {e.request_id for e in errors} == {f"r{n}", f"r{n + 1}"}  # type: ignore[attr-defined]
    for e in errors:
        assert e.problem_type == LIMIT  # type: ignore[attr-defined]
        assert e.limit == "maxConcurrentRequests"  # type: ignore[attr-defined]
        assert isinstance(e.to_exception(), LimitExceeded)  # type: ignore[attr-defined]
    assert {f.get("requestId") for f in answered} == {f"r{i}" for i in range(n)}
    assert all(f["@type"] == "Response" for f in answered), answered
    assert after[-1]["@type"] == "Response"
    assert after[-1]["methodResponses"] == [["Core/echo", {"n": "after"}, "e"]]


def test_each_request_is_answered_as_soon_as_it_is_done(env: Env) -> None:
    """Requests on one socket run at once: one that cannot finish yet does not hold back
    the answer to a later one (RFC 8887 allows answers in any order)."""
    acc = env.server.account_ids["alice"]
    with env.connect("alice") as ws:
        echo_sentinel(ws, "up")
        with env.server.store.lock:  # "slow" cannot finish while the test holds this
            request(ws, "slow", [["Chat/get", {"accountId": acc, "ids": []}, "c"]])
            # refused before it reaches the engine: done at once
            send(ws, {"@type": "Request", "id": "fast", "using": ["urn:x"], "methodCalls": []})
            first = recv(ws)
        second = recv(ws)
    assert first["requestId"] == "fast", first
    assert second["requestId"] == "slow", second
    assert second["@type"] == "Response", second


def test_an_unencodable_result_fails_its_call_not_the_socket(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result that cannot be encoded (stored before input bounds existed) turns its own
    call into serverFail, as over HTTP; the socket and the other calls go on."""
    monkeypatch.setitem(env.server.core.registry, "Core/echo", (CORE, lambda ctx, args: {1, 2}))
    acc = env.server.account_ids["alice"]
    with env.connect("alice") as ws:
        request(
            ws,
            "r",
            [["Core/echo", {}, "a"], ["Chat/get", {"accountId": acc, "ids": []}, "b"]],
        )
        frame = until(ws, lambda f: f.get("requestId") == "r")
        request(ws, "next", [["Chat/get", {"accountId": acc, "ids": []}, "c"]])
        after = until(ws, lambda f: f.get("requestId") == "next")
    assert frame["@type"] == "Response"
    (bad, good) = frame["methodResponses"]
    assert bad == ["error", {"type": "serverFail", "description": bad[1]["description"]}, "a"]
    assert good[0] == "Chat/get"
    assert good[2] == "b"
    assert after["@type"] == "Response"
