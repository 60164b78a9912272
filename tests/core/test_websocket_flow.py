"""The sans-IO side of the WebSocket transport: `ws_execute_flow` and `WebSocketChannel`,
driven by hand (no socket): what is in flight when, replies in any order, what waits for
a reference, the retry rules when the socket drops, and what each frame means."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jmapchat._core import (
    BaseRequest,
    Broken,
    EchoResponse,
    FreshSession,
    LimitExceeded,
    ObservedSessionState,
    Pushed,
    Reply,
    RetryPolicy,
    Session,
    SetResponse,
    Skipped,
    Sleep,
    TransportError,
    WebSocketChannel,
    WSReceive,
    WSSend,
    ws_execute_flow,
)
from jmapchat.models import ChatPresenceEvent, ChatTypingEvent, StateChange

CORE = "urn:ietf:params:jmap:core"
MODELS: dict[str, Any] = {
    "StateChange": StateChange,
    "ChatTypingEvent": ChatTypingEvent,
    "ChatPresenceEvent": ChatPresenceEvent,
}


def session(calls: int = 1, concurrent: int = 3) -> Session:
    core = {
        "maxSizeUpload": 1,
        "maxConcurrentUpload": 1,
        "maxSizeRequest": 1_000_000,
        "maxConcurrentRequests": concurrent,
        "maxCallsInRequest": calls,
        "maxObjectsInGet": 10,
        "maxObjectsInSet": 10,
        "collationAlgorithms": [],
    }
    return Session.parse(
        {
            "capabilities": {CORE: core},
            "accounts": {"A": {"name": "a", "accountCapabilities": {}}},
            "apiUrl": "http://x/api",
        }
    )


class Driver:
    """Runs a flow; records what it sent; answers WSReceive from ``answers``."""

    def __init__(self, channel: WebSocketChannel, sess: Session) -> None:
        self.channel = channel
        self.session = sess
        self.sent: list[dict[str, Any]] = []
        self.max_in_flight = 0
        self.in_flight: set[str] = set()

    def run(self, flow: Any, answer: Any) -> Any:
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                instr = flow.throw(error) if error is not None else flow.send(reply)
            except StopIteration as stop:
                return stop.value
            reply, error = None, None
            if isinstance(instr, FreshSession):
                reply = self.session
            elif isinstance(instr, WSSend):
                frame = json.loads(instr.frame)
                self.sent.append(frame)
                self.in_flight.add(frame["id"])
                self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
            elif isinstance(instr, WSReceive):
                rid = answer(self, instr.request_ids)
                self.in_flight.discard(rid)
                reply = (rid, self.reply_for(rid))
            elif isinstance(instr, Sleep | ObservedSessionState):
                pass
            else:  # pragma: no cover
                raise AssertionError(instr)

    def frame(self, rid: str) -> dict[str, Any]:
        return next(f for f in self.sent if f["id"] == rid)

    def reply_for(self, rid: str) -> Any:
        frame = self.frame(rid)
        return {
            "methodResponses": [[n, a, c] for n, a, c in frame["methodCalls"]],
            "sessionState": "s",
        }


def newest_first(driver: Driver, ids: tuple[str, ...]) -> str:
    return ids[-1]


def test_split_request_pipelines_up_to_max_concurrent_and_binds_out_of_order() -> None:
    req = BaseRequest()
    echoes = [req.core.echo({"i": i}) for i in range(7)]
    channel = WebSocketChannel(MODELS)
    driver = Driver(channel, session(calls=1, concurrent=3))
    flow = ws_execute_flow(req, account_id="A", policy=RetryPolicy(), channel=channel)
    driver.run(flow, newest_first)
    assert len(driver.sent) == 7  # one call per envelope
    assert driver.max_in_flight == 3  # maxConcurrentRequests, never more
    assert [e.result.model_extra for e in echoes] == [{"i": i} for i in range(7)]
    assert all(f["@type"] == "Request" for f in driver.sent)
    assert len({f["id"] for f in driver.sent}) == 7


def test_a_reference_to_a_call_in_flight_waits_for_its_reply() -> None:
    req = BaseRequest()
    first = req.core.echo({"ids": ["a", "b"]})
    second = req.invoke("Core/echo", {"copy": first.ref("/ids")}, response=EchoResponse)
    channel = WebSocketChannel(MODELS)
    driver = Driver(channel, session(calls=1, concurrent=4))
    seen: list[int] = []

    def answer(d: Driver, ids: tuple[str, ...]) -> str:
        seen.append(len(d.in_flight))
        return ids[0]

    driver.run(ws_execute_flow(req, account_id="A", policy=RetryPolicy(), channel=channel), answer)
    assert seen == [1, 1]  # the second envelope was not sent before the first was answered
    assert driver.sent[1]["methodCalls"][0][1]["copy"] == ["a", "b"]  # resolved client-side
    assert second.result.model_extra == {"copy": ["a", "b"]}


def test_a_lost_socket_resends_only_what_is_safe() -> None:
    def lose_first(d: Driver, ids: tuple[str, ...]) -> str:
        return ids[0]

    class Losing(Driver):
        lost = 0

        def reply_for(self, rid: str) -> Any:
            if self.lost == 0:
                self.lost += 1
                return TransportError("socket closed", sent=True)
            return super().reply_for(rid)

    req = BaseRequest()
    echo = req.core.echo({"x": 1})
    channel = WebSocketChannel(MODELS)
    d = Losing(channel, session())
    d.run(ws_execute_flow(req, account_id="A", policy=RetryPolicy(), channel=channel), lose_first)
    assert len(d.sent) == 2  # read-only: resent
    assert echo.result.model_extra == {"x": 1}

    req = BaseRequest()
    change = req.invoke("Foo/set", {"accountId": "A"}, response=SetResponse)
    d = Losing(channel, session())
    with pytest.raises(TransportError) as err:
        d.run(
            ws_execute_flow(req, account_id="A", policy=RetryPolicy(), channel=channel),
            lose_first,
        )
    assert len(d.sent) == 1  # a change is never sent twice
    assert any("not safe to send twice" in n for n in err.value.__notes__)
    assert change.error is not None


def test_max_concurrent_refusal_is_resent() -> None:
    class Refusing(Driver):
        refused = False

        def reply_for(self, rid: str) -> Any:
            if not self.refused:
                self.refused = True
                return LimitExceeded(
                    "limit", type=LimitExceeded.urn or "", limit="maxConcurrentRequests"
                )
            return super().reply_for(rid)

    req = BaseRequest()
    change = req.invoke("Foo/set", {"accountId": "A"}, response=SetResponse)
    channel = WebSocketChannel(MODELS)
    d = Refusing(channel, session())
    d.run(ws_execute_flow(req, account_id="A", policy=RetryPolicy(), channel=channel), newest_first)
    assert len(d.sent) == 2  # refused before it ran: safe to send again
    assert change.done


def test_channel_classifies_frames() -> None:
    ch = WebSocketChannel(MODELS, max_frame=200)
    assert isinstance(ch.classify(b"\x00"), Broken)
    assert isinstance(ch.classify("x" * 201), Broken)
    assert isinstance(ch.classify("{nope"), Broken)
    assert isinstance(ch.classify("[1]"), Broken)
    assert isinstance(ch.classify('{"@type": "Brand new"}'), Skipped)
    assert isinstance(ch.classify('{"@type": "Response", "methodResponses": []}'), Skipped)
    limit = {"type": "urn:ietf:params:jmap:error:limit", "limit": "maxSizeRequest"}
    got = ch.classify(json.dumps({"@type": "RequestError", "requestId": "r1", **limit}))
    assert isinstance(got, Reply)
    assert isinstance(got.value, LimitExceeded)
    change = '{"@type": "StateChange", "changed": {"A": {"Message": "2"}}, "pushState": "p2"}'
    assert isinstance(ch.classify(change), Skipped)  # push is off
    listener, frames = ch.listen(["Message"], typing=True, presence=False)
    assert [json.loads(f)["@type"] for f in frames] == ["WebSocketPushEnable", "ChatStreamEnable"]
    pushed = ch.classify(change)
    assert isinstance(pushed, Pushed)
    assert isinstance(pushed.event, StateChange)
    # a reconnect resumes from the last pushState
    assert json.loads(ch.subscription_frames()[0])["pushState"] == "p2"
    presence = '{"@type": "ChatPresenceEvent", "contactId": "c", "presence": "away"}'
    assert isinstance(ch.classify(presence), Skipped)  # presence not asked for
    bad_typing = '{"@type": "ChatTypingEvent", "chatId": 5}'
    assert isinstance(ch.classify(bad_typing), Skipped)
    assert [json.loads(f)["@type"] for f in ch.unlisten(listener)] == [
        "WebSocketPushDisable",
        "ChatStreamDisable",
    ]


def test_only_chunks_of_one_call_or_reads_overlap() -> None:
    """Two different changes never overlap (a server may run concurrent requests in any
    order); the chunks of one chunked /set do."""
    req = BaseRequest()
    first = req.invoke("Foo/set", {"accountId": "A", "destroy": ["x"]}, response=SetResponse)
    big = req.invoke(
        "Foo/set",
        {"accountId": "A", "destroy": [f"id{i}" for i in range(40)]},
        response=SetResponse,
    )
    channel = WebSocketChannel(MODELS)
    driver = Driver(channel, session(calls=1, concurrent=4))
    flights: list[int] = []

    def answer(d: Driver, ids: tuple[str, ...]) -> str:
        flights.append(len(d.in_flight))
        return ids[0]

    def reply_for(rid: str) -> Any:
        frame = driver.frame(rid)
        return {
            "methodResponses": [
                [n, {"accountId": "A", "newState": "s", "destroyed": a["destroy"]}, c]
                for n, a, c in frame["methodCalls"]
            ]
        }

    driver.reply_for = reply_for  # type: ignore[method-assign]
    driver.run(ws_execute_flow(req, account_id="A", policy=RetryPolicy(), channel=channel), answer)
    assert len(driver.sent) == 5  # the first change, then 4 chunks of 10
    assert flights[0] == 1  # the first change alone
    assert max(flights) == 4  # the 4 chunks of the second together
    assert first.result.destroyed == ["x"]
    assert len(big.result.destroyed) == 40


def test_several_listeners_share_the_socket_each_getting_what_it_asked_for() -> None:
    ch = WebSocketChannel(MODELS)

    def kinds(frames: list[str]) -> list[tuple[str, Any]]:
        out = []
        for f in frames:
            doc = json.loads(f)
            out.append((doc["@type"], doc.get("dataTypes")))
        return out

    messages, frames = ch.listen(["Message"], typing=True, presence=False)
    assert kinds(frames) == [("WebSocketPushEnable", ["Message"]), ("ChatStreamEnable", ["typing"])]
    same, frames = ch.listen(["Message"], typing=False, presence=False)
    assert frames == []  # already subscribed to all it wants
    change = {"@type": "StateChange", "changed": {"A": {"Message": "2"}}, "pushState": "p2"}
    assert isinstance(ch.classify(json.dumps(change)), Pushed)
    everything, frames = ch.listen(None, typing=False, presence=True)
    # widened; resumed from the last pushState so the earlier listeners miss nothing
    assert kinds(frames) == [
        ("WebSocketPushEnable", None),
        ("ChatStreamEnable", ["typing", "presence"]),
    ]
    assert json.loads(frames[0])["pushState"] == "p2"

    both = {"@type": "StateChange", "changed": {"A": {"Message": "3", "Chat": "7"}}}
    got = ch.classify(json.dumps(both))
    assert isinstance(got, Pushed)
    delivered = dict(ch.deliveries(got.event))
    assert delivered[messages].changed == {"A": {"Message": "3"}}  # type: ignore[attr-defined]
    assert delivered[same].changed == {"A": {"Message": "3"}}  # type: ignore[attr-defined]
    assert delivered[everything] is got.event
    chats_only = ch.classify(json.dumps({"@type": "StateChange", "changed": {"A": {"Chat": "8"}}}))
    assert isinstance(chats_only, Pushed)
    assert [lst for lst, _ in ch.deliveries(chats_only.event)] == [everything]
    typing = ch.classify(
        '{"@type": "ChatTypingEvent", "chatId": "c", "senderId": "s", "typing": true}'
    )
    assert isinstance(typing, Pushed)
    assert [lst for lst, _ in ch.deliveries(typing.event)] == [messages]
    presence = ch.classify('{"@type": "ChatPresenceEvent", "contactId": "c", "presence": "away"}')
    assert isinstance(presence, Pushed)
    assert [lst for lst, _ in ch.deliveries(presence.event)] == [everything]

    # leaving narrows the subscriptions again, and the last one turns them off
    assert kinds(ch.unlisten(everything)) == [
        ("WebSocketPushEnable", ["Message"]),
        ("ChatStreamEnable", ["typing"]),
    ]
    assert ch.unlisten(same) == []
    assert ch.unlisten(same) == []  # twice: nothing
    assert kinds(ch.unlisten(messages)) == [
        ("WebSocketPushDisable", None),
        ("ChatStreamDisable", None),
    ]
    assert not ch.push_on
    assert ch.stream == ()
    assert isinstance(ch.classify(json.dumps(both)), Skipped)  # nobody listens
    _, frames = ch.listen(["Chat"], typing=False, presence=False)
    assert "pushState" not in json.loads(frames[0])  # changes from now on, not since then
