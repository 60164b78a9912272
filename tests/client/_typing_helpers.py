"""Type-level checks for the clients (checked by mypy, never run).

``mypy --strict tests/client/_typing_helpers.py`` must pass: the one-call helpers keep the
namespace methods' parameters and infer their result types, async and blocking alike.
"""

from __future__ import annotations

from typing import assert_type

from jmapchat import AsyncClient, Client, Response
from jmapchat._core import ChangesResponse, EchoResponse, GetResponse, SetResponse
from jmapchat.models import Chat, Message, MessageCreate, MessageFilter, UploadResponse


async def async_surface(client: AsyncClient) -> None:
    assert_type(await client.message.get(ids=["m1"]), GetResponse[Message])
    assert_type(await client.chat.get(None), GetResponse[Chat])
    assert_type(await client.core.echo({"a": 1}), EchoResponse)
    assert_type(await client.message.changes(since_state="s"), ChangesResponse)
    created = await client.message.set(create={"k": MessageCreate(chat_id="C", body="b")})
    assert_type(created, SetResponse[Message])
    assert_type(await client.call(lambda r: r.message.get(ids=["x"])), GetResponse[Message])
    req = client.request()
    assert_type(await client.send(req), Response)
    assert_type(await client.upload(b"x"), UploadResponse)
    assert_type(await client.download("B"), bytes)
    async for page in client.changes_pages("Message", "s"):
        assert_type(page, ChangesResponse)
    async for msg in client.message.query_iter(filter=MessageFilter(chat_id="C")):
        assert_type(msg, Message)
    async for chat in client.chat.query_iter(page_size=10):
        assert_type(chat, Chat)
    await client.message.get(ids=["m"], propertiez=["id"])  # type: ignore[call-arg]


def sync_surface(client: Client) -> None:
    assert_type(client.message.get(ids=["m1"]), GetResponse[Message])
    assert_type(client.core.echo(), EchoResponse)
    assert_type(client.send(client.request()), Response)
    for page in client.changes_pages("Message", "s"):
        assert_type(page, ChangesResponse)
    for msg in client.message.query_iter(filter=MessageFilter(chat_id="C"), page_size=5):
        assert_type(msg, Message)
    client.message.query_iter(filtr=None)  # type: ignore[call-arg]
