"""The sans-IO EventSource decisions (`jmapchat._core.EventSourceState`, `Backoff`)."""

from __future__ import annotations

import pytest

from jmapchat import AuthenticationError, HTTPStatusError, LocalProtocolError
from jmapchat._core import Backoff, EventSourceState, RetryableStream, Session
from jmapchat.models import PresenceEvent, StateChange, TypingEvent

MODELS = {"state": StateChange, "typing": TypingEvent, "presence": PresenceEvent}
STATE = '{"@type": "StateChange", "changed": {"A1": {"Message": "3"}}}'


def make(**kw: object) -> EventSourceState:
    return EventSourceState(MODELS, **kw)  # type: ignore[arg-type]


def test_backoff_is_capped_and_jittered_within_the_upper_half() -> None:
    b = Backoff(initial=0.5, cap=4.0)
    assert [b.delay(n, lambda: 0.0) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert [b.delay(n, lambda: 1.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.delay(10_000, lambda: 1.0) == 4.0  # no overflow
    with pytest.raises(ValueError, match="initial"):
        Backoff(initial=0, cap=1)


def test_disconnects_back_off_and_a_message_resets_the_count() -> None:
    s = make(backoff=Backoff(initial=1.0, cap=8.0), rand=lambda: 1.0)
    assert [s.on_disconnect() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    s.connected()  # a head alone (then a hang-up) does not reset the backoff ...
    assert s.on_disconnect() == 8.0
    s.on_message("ping", '{"interval": 30}')  # ... a message does
    assert s.on_disconnect() == 1.0


def test_url_headers_and_dead_connection_timeout() -> None:
    session = Session.model_validate(
        {
            "capabilities": {},
            "accounts": {},
            "primaryAccounts": {},
            "username": "u",
            "apiUrl": "http://x/api",
            "downloadUrl": "http://x/d",
            "uploadUrl": "http://x/u",
            "eventSourceUrl": "http://x/es?types={types}&closeafter={closeafter}&ping={ping}",
            "state": "s",
        }
    )
    s = make(types=["Message", "Chat"], ping=15, close_after_state=True)
    assert s.url(session) == "http://x/es?types=Message%2CChat&closeafter=state&ping=15"
    assert make().url(session) == "http://x/es?types=%2A&closeafter=no&ping=30"
    assert "Last-Event-ID" not in s.headers()
    assert s.headers()["Accept"] == "text/event-stream"
    assert s.read_timeout() == 30.0  # two ping intervals
    assert make(ping=0).read_timeout() is None
    s.on_message("message", "", "Message:4")  # an id-only message still moves the id
    assert s.headers()["Last-Event-ID"] == "Message:4"


def test_messages_become_typed_events_or_are_skipped() -> None:
    s = make(typing=True)
    event = s.on_message("state", STATE, "Message:3")
    assert isinstance(event, StateChange)
    assert event.changed == {"A1": {"Message": "3"}}
    typing = s.on_message("typing", '{"chatId": "c", "senderId": "bob", "typing": true}')
    assert isinstance(typing, TypingEvent)
    for name, data in [
        ("presence", '{"contactId": "bob"}'),  # not opted in
        ("ping", '{"interval": 30}'),
        ("zap", "{}"),  # unknown event name
        ("state", "{not json"),
        ("state", '{"changed": 5}'),  # schema-invalid
        ("typing", '{"chatId": 1}'),
    ]:
        assert s.on_message(name, data) is None, name
    assert s.last_event_id == "Message:3"
    assert not s.finished


def test_close_after_state_finishes_after_the_first_state_change() -> None:
    s = make(close_after_state=True)
    assert s.on_message("state", STATE) is not None
    assert s.finished


def test_responses_that_are_retried_and_those_that_raise() -> None:
    s = make()
    s.check_response(200, "text/event-stream; charset=utf-8")
    for status in (500, 503, 429):
        with pytest.raises(RetryableStream):
            s.check_response(status, "text/plain")
    with pytest.raises(RetryableStream):
        s.check_response(200, "application/json")
    with pytest.raises(AuthenticationError):
        s.check_response(401, "application/problem+json")
    with pytest.raises(HTTPStatusError):
        s.check_response(404, "application/problem+json")


def test_bad_arguments_are_local_errors() -> None:
    for kw in ({"types": "Message"}, {"types": []}, {"ping": -1}, {"ping": True}):
        with pytest.raises(LocalProtocolError):
            make(**kw)
