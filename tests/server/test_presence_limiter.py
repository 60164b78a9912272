"""`PresenceLimiter`: the wss draft's per-contact ChatPresenceEvent rate limit (a SHOULD:
one per contact per 30 s), holding the newest event of a window instead of dropping it.
The end-to-end cases (EventSource and WebSocket) are in tests/compliance/test_08_websocket.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from jmapchat.server import ChatServer
from jmapchat.server._events import PresenceLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ev(contact: str, text: str) -> dict[str, Any]:
    return {"contactId": contact, "presence": "online", "statusText": text}


def test_first_event_passes_then_the_newest_of_the_window_is_held() -> None:
    clock = Clock()
    lim = PresenceLimiter(30.0, clock)
    assert lim.offer(ev("alice", "a1"))
    assert lim.next_due() is None
    clock.now += 5
    assert not lim.offer(ev("alice", "a2"))
    assert not lim.offer(ev("alice", "a3"))  # replaces a2: a full snapshot
    assert lim.next_due() == pytest.approx(25.0)
    clock.now += 24.9
    assert lim.due() == []
    clock.now += 0.1
    assert lim.due() == [ev("alice", "a3")]
    assert lim.next_due() is None
    # delivering the held event started a new window
    clock.now += 1
    assert not lim.offer(ev("alice", "a4"))
    clock.now += 29
    assert lim.due() == [ev("alice", "a4")]


def test_contacts_have_separate_windows() -> None:
    clock = Clock()
    lim = PresenceLimiter(30.0, clock)
    assert lim.offer(ev("alice", "a1"))
    clock.now += 10
    assert lim.offer(ev("bob", "b1"))  # bob's first: not limited by alice's window
    assert not lim.offer(ev("alice", "a2"))
    assert not lim.offer(ev("bob", "b2"))
    assert lim.next_due() == pytest.approx(20.0)  # alice's window ends first
    clock.now += 30
    assert lim.due() == [ev("alice", "a2"), ev("bob", "b2")]  # oldest window first


def test_an_event_after_the_window_passes_and_drops_a_stale_held_one() -> None:
    clock = Clock()
    lim = PresenceLimiter(30.0, clock)
    assert lim.offer(ev("alice", "a1"))
    clock.now += 1
    assert not lim.offer(ev("alice", "a2"))
    clock.now += 40  # nobody collected a2 (no wake-up) and a newer event arrives
    assert lim.offer(ev("alice", "a3"))
    assert lim.due() == []  # a2 is superseded, never delivered after a3


def test_interval_zero_delivers_everything() -> None:
    lim = PresenceLimiter(0, Clock())
    assert all(lim.offer(ev("alice", str(i))) for i in range(5))
    assert lim.next_due() is None


@pytest.mark.parametrize("bad", [-1, float("inf"), float("nan"), "30", True])
def test_server_refuses_a_bad_interval(bad: Any) -> None:
    with pytest.raises(ValueError, match="presence_interval"):
        ChatServer(presence_interval=bad)


def test_server_default_is_the_drafts_30_seconds() -> None:
    with ChatServer() as server:
        assert server.presence_interval == 30.0
        server.presence_interval = 2
        assert server.presence_interval == 2.0


def test_serve_takes_presence_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    import trio

    import jmapchat.server
    from jmapchat.cli import main

    seen: list[float] = []

    class Recording(ChatServer):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            seen.append(self.presence_interval)

    monkeypatch.setattr(jmapchat.server, "ChatServer", Recording)
    monkeypatch.setattr(trio, "run", lambda *a, **k: None)
    assert main(["serve", "--db", ":memory:", "--presence-interval", "2.5"]) == 0
    assert main(["serve", "--db", ":memory:"]) == 0
    assert seen == [2.5, 30.0]
    assert main(["serve", "--db", ":memory:", "--presence-interval", "-1"]) == 2
