"""Checked by mypy --strict (see test_typing.py), never executed: `jmapchat.sync` types.

Every ``# type: ignore[...]`` line is a misuse that must stay a type error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import assert_type

from jmapchat import AsyncClient, Client, Request
from jmapchat.models import Chat, ChatContact, Message, ReadPosition
from jmapchat.sync import AsyncMirror, Diff, Mirror, Objects, OrderedView, Updated


async def async_mirror(client: AsyncClient, req: Request) -> None:
    async with AsyncMirror(client, store="m.sqlite") as mirror:
        assert_type(mirror, AsyncMirror)
        diff = await mirror.sync()
        assert_type(diff, Diff)
        assert_type(await mirror.send(req), Diff)
        assert_type(mirror.get("Message", "M1"), Message | None)
        assert_type(mirror.get(Chat, "C1"), Chat | None)
        assert_type(mirror.objects("ChatContact"), Objects[ChatContact])
        assert_type(mirror.objects(ReadPosition)["R1"], ReadPosition)
        assert_type(diff.created("Message"), list[Message])
        assert_type(diff.updated(Chat), list[Updated[Chat]])
        assert_type(diff.updated("Message")[0].old, Message)
        assert_type(diff.destroyed("Chat"), list[str])
        view = await mirror.messages("C1")
        assert_type(view, OrderedView)
        assert_type(view[0], Message)
        assert_type(mirror.watch(), AsyncIterator[Diff])
        mirror.get("Mailbox", "x")  # type: ignore[call-overload]
        diff.created("Mailbox")  # type: ignore[call-overload]


def blocking_mirror(client: Client, req: Request) -> None:
    with Mirror(client) as mirror:
        assert_type(mirror.sync(), Diff)
        assert_type(mirror.send(req), Diff)
        assert_type(mirror.get("Chat", "C1"), Chat | None)
        assert_type(mirror.messages("C1"), OrderedView)
        assert_type(mirror.watch(interval=5), Iterator[Diff])
