"""Checked by mypy --strict (see test_typing.py), never executed: ``deadline=`` on every
call a user waits for, with the one-call helpers' own parameters still fully typed.

Every ``# type: ignore[...]`` line is a misuse that must stay a type error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, assert_type

from jmapchat import AsyncClient, Client
from jmapchat._core import ChangesResponse, EchoResponse, GetResponse, SetResponse
from jmapchat.models import Chat, Message, MessageCreate, MessageFilter, UploadResponse


async def async_client(client: AsyncClient) -> None:
    assert_type(await client.message.get(ids=["m1"], deadline=1.5), GetResponse[Message])
    assert_type(await client.chat.get(deadline=2), GetResponse[Chat])
    assert_type(await client.core.echo({"a": 1}, deadline=1.0), EchoResponse)
    sent = await client.message.send("C1", "hi", reply_to="M0", deadline=3.0)
    assert_type(sent, SetResponse[Message])
    create = {"k": MessageCreate(chat_id="C", body="b")}
    assert_type(await client.message.set(create=create, deadline=1.0), SetResponse[Message])
    assert_type(await client.upload(b"x", deadline=1.0), UploadResponse)
    assert_type(await client.download("B", deadline=1.0), bytes)
    async with client.download_stream("B", deadline=1.0) as chunks:
        async for chunk in chunks:
            assert_type(chunk, bytes)
    async for page in client.changes_pages("Message", "s", deadline=1.0):
        assert_type(page, ChangesResponse)
    async for msg in client.message.query_iter(filter=MessageFilter(chat_id="C"), deadline=9):
        assert_type(msg, Message)
    assert_type(client.query_iter("Message", deadline=1.0), AsyncIterator[Any])
    # the helpers' own parameters are still checked, deadline too
    await client.chat.get(deadline="soon")  # type: ignore[arg-type]
    await client.message.send(1, "hi")  # type: ignore[arg-type]
    await client.message.get(ids=["m"], propertiez=["id"])  # type: ignore[call-arg]
    await client.message.set(create={"k": 1})  # type: ignore[dict-item]
    await client.core.echo({}, "c1")  # type: ignore[call-arg]
    client.message.query_iter(deadline="x")  # type: ignore[arg-type]


def blocking_client(client: Client) -> None:
    assert_type(client.core.echo(deadline=1.0), EchoResponse)
    assert_type(client.message.get(ids=["m1"], deadline=1.0), GetResponse[Message])
    assert_type(client.upload(b"x", deadline=1.0), UploadResponse)
    assert_type(client.download("B", deadline=1.0), bytes)
    for page in client.changes_pages("Message", "s", max_changes=5, deadline=1.0):
        assert_type(page, ChangesResponse)
    for msg in client.message.query_iter(page_size=5, deadline=1.0):
        assert_type(msg, Message)
    client.chat.get(deadline=None)
    client.chat.get(deadline="x")  # type: ignore[arg-type]
