"""`watch()` against the real ``client.events()`` over a loopback socket: a message bob
sends reaches alice's mirror by push (EventSource StateChange), on asyncio, trio and the
blocking `Mirror`. The polling interval is an hour, so only a push can deliver it in time.
"""

from __future__ import annotations

from contextlib import aclosing, closing
from typing import Any

import anyio
import pytest

from jmapchat.models import ChatCreate, MessageCreate
from jmapchat.sync import AsyncMirror, Mirror

HOUR = 3600.0  # polling would wait this long: the test times out long before
TIMEOUT = 60.0  # generous: CI has 2 cores shared with other jobs


@pytest.mark.anyio
async def test_async_watch_is_driven_by_real_events(jmap_async_client: Any) -> None:
    async with (
        jmap_async_client("alice", live=True) as alice,
        jmap_async_client("bob", live=True) as bob,
    ):
        made = await alice.chat.set(create={"g": ChatCreate.group(name="g", member_ids=["bob"])})
        chat = made.created["g"].id
        await alice.message.send(chat, "before")
        bodies: list[list[str | None]] = []
        async with AsyncMirror(alice, types=["Chat", "Message"]) as mirror:
            with anyio.fail_after(TIMEOUT):
                async with aclosing(mirror.watch(interval=HOUR)) as diffs:
                    async for diff in diffs:
                        bodies.append([m.body for m in diff.created("Message")])
                        if len(bodies) == 1:  # the catch-up: subscribed by now
                            res = await bob.message.set(
                                create={"m": MessageCreate(chat_id=chat, body="pushed")}
                            )
                            res.raise_for_errors()
                        elif "pushed" in bodies[-1]:
                            break
            assert bodies[0] == ["before"]
            assert bodies[-1] == ["pushed"]
            kept = mirror.get("Message", diff.created("Message")[0].id)  # alice's copy
            assert kept is not None
            assert kept.chat_id == chat


def test_blocking_watch_is_driven_by_real_events(jmap_client: Any) -> None:
    with jmap_client("alice") as alice, jmap_client("bob") as bob:
        made = alice.chat.set(create={"g": ChatCreate.group(name="g", member_ids=["bob"])})
        chat = made.created["g"].id
        alice.message.send(chat, "before")
        bodies: list[list[str | None]] = []
        with Mirror(alice, types=["Chat", "Message"]) as mirror:
            # the read timeout of the event stream bounds each wait (ping=30 s)
            with closing(mirror.watch(interval=HOUR)) as diffs:
                for diff in diffs:
                    bodies.append([m.body for m in diff.created("Message")])
                    if len(bodies) == 1:
                        bob.message.send(chat, "pushed")
                    elif "pushed" in bodies[-1]:
                        break
            assert bodies[0] == ["before"]
            assert bodies[-1] == ["pushed"]
