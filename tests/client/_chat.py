"""Small shared steps of the client tests."""

from __future__ import annotations

from jmapchat import AsyncClient
from jmapchat.models import ChatCreate
from jmapchat.server import ChatServer


async def new_chat(client: AsyncClient, server: ChatServer) -> str:
    res = await client.chat.set(
        create={"c": ChatCreate.direct(contact_id=server.contact_ids["bob"])}
    )
    assert res.created is not None
    return res.created["c"].id


async def message_state(client: AsyncClient) -> str:
    return (await client.message.get(ids=[])).state
