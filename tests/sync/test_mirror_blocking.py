"""The blocking `Mirror` (generated from `AsyncMirror`) over a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jmapchat import Client
from jmapchat.models import ChatCreate, StateChange
from jmapchat.server import ChatServer, serve_in_thread
from jmapchat.sync import Mirror
from jmapchat.testing import NO_BACKOFF, FaultTransport, Wire

from ._view import mirror_view, server_view_sync


@pytest.fixture
def alice(server: ChatServer, wire: Wire) -> Iterator[Client]:
    with (
        serve_in_thread(server) as url,
        Client.connect(
            url,
            token=server.tokens["alice"],
            transport=FaultTransport(httpx.HTTPTransport(), wire),
            retries=NO_BACKOFF,
        ) as client,
    ):
        yield client


def test_blocking_mirror_send_step_reload_and_events(
    alice: Client, server: ChatServer, wire: Wire, tmp_path: Path
) -> None:
    made = alice.chat.set(create={"g": ChatCreate.group(name="g", member_ids=["bob"])})
    chat = made.created["g"].id
    with Mirror(alice, store=tmp_path / "m.sqlite") as mirror:
        wire.reset()
        mirror.sync()
        assert wire.api == 2

        req = alice.request()
        sent = req.message.send(chat, "hi")
        wire.reset()
        diff = mirror.send(req)
        assert wire.api == 1
        assert [m.body for m in diff.created("Message")] == ["hi"]
        assert sent.result.created

        view = mirror.messages(chat)
        assert [m.body for m in view] == ["hi"]

        alice.message.send(chat, "later")
        server.forget_changes("alice")
        diff = mirror.sync()
        assert diff.reloaded == {"Chat", "Message"}  # ChatContact had not changed
        assert diff.requeried == {chat}
        assert [m.body for m in view] == ["hi", "later"]
        assert mirror_view(mirror) == server_view_sync(alice)

        alice.message.send(chat, "pushed")
        account = alice.account_id
        events: list[Any] = [StateChange(changed={account: {"Message": "?"}})]
        got = list(mirror.watch(events=iter(events)))
        assert [[m.body for m in d.created("Message")] for d in got] == [["pushed"]]
