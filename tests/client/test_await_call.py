"""``await call``: another task waits for one call's result while a send is in flight."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

import jmapchat
from jmapchat.models import ChatCreate, MessageCreate
from jmapchat.server import ChatServer
from jmapchat.testing import AsyncClientFactory, Wire, hang, status

pytestmark = pytest.mark.anyio


async def test_other_tasks_await_handles(
    make_client: AsyncClientFactory, jmap_server: ChatServer
) -> None:
    async with make_client() as client:
        req = client.request()
        chat = req.chat.set(create={"c": ChatCreate.direct(jmap_server.contact_ids["bob"])})
        sent = req.message.set(create={"m": MessageCreate(chat_id=chat.created_id("c"), body="hi")})
        got: dict[str, Any] = {}

        async def waiter(name: str, call: jmapchat.Call[Any]) -> None:
            got[name] = await call

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, "chat", chat)
            tg.start_soon(waiter, "msg", sent)
            await anyio.sleep(0)  # both waiters are now blocked on their handles
            assert got == {}
            await client.send(req)
        assert got["chat"].created["c"].id == chat.result.created["c"].id
        assert got["msg"] is sent.result
        assert await sent is sent.result  # already answered: returns at once


async def test_awaiting_a_failed_call_raises_its_error(make_client: AsyncClientFactory) -> None:
    async with make_client() as client:
        req = client.request()
        t = req.chat.typing("no-such-chat")
        await client.send(req)
        with pytest.raises(jmapchat.NotFound):
            await t


async def test_request_level_failure_wakes_waiters(
    jmap_async_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    """A send that fails as a whole gives every unanswered call that error."""
    problem = {"type": "urn:ietf:params:jmap:error:notRequest", "status": 400}
    async with jmap_async_client() as client:
        jmap_wire.inject(
            status(
                400,
                headers={"Content-Type": "application/problem+json"},
                body=json.dumps(problem).encode(),
            )
        )
        req = client.request()
        q = req.chat.query()
        caught: list[BaseException] = []

        async def waiter() -> None:
            try:
                await q
            except jmapchat.JMAPError as exc:
                caught.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0)
            with pytest.raises(jmapchat.NotRequest):
                await client.send(req)
        assert len(caught) == 1
        assert isinstance(caught[0], jmapchat.NotRequest)
        with pytest.raises(jmapchat.NotRequest):
            q.result  # noqa: B018


async def test_cancelled_send_wakes_waiters(
    jmap_async_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with jmap_async_client() as client:
        jmap_wire.inject(hang())  # the send hangs until cancelled
        req = client.request()
        q = req.chat.query()
        caught: list[BaseException] = []

        async def waiter() -> None:
            try:
                await q
            except jmapchat.JMAPError as exc:
                caught.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            with anyio.move_on_after(0.2):
                await client.send(req)
        assert len(caught) == 1
        assert isinstance(caught[0], jmapchat.TransportError)
        assert "interrupted" in str(caught[0])


def test_sans_io_call_is_not_awaitable() -> None:
    req = jmapchat.Request(account_id="A1")
    q = req.chat.query()

    async def main() -> None:
        await q

    with pytest.raises(jmapchat.LocalProtocolError, match="nothing to await"):
        anyio.run(main)
