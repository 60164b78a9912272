"""The server's own view of an account, and a mirror's, in one comparable shape."""

from __future__ import annotations

from typing import Any

from jmapchat import AsyncClient, Client
from jmapchat.models import MessageFilter

TYPES = ("ChatContact", "Chat", "Message")


# --- the server's own view ---------------------------------------------------------------


async def server_view(client: AsyncClient, types: tuple[str, ...] = TYPES) -> dict[str, Any]:
    """Every object of ``types`` as the server shows it now: {type: {id: wire dict}}."""
    out: dict[str, Any] = {}
    chats = (await client.chat.get(ids=(await client.chat.query()).ids)).list
    if "Chat" in types:
        out["Chat"] = {c.id: c.to_wire() for c in chats}
    if "ChatContact" in types:
        ids = (await client.chat_contact.query()).ids
        out["ChatContact"] = {
            c.id: c.to_wire() for c in (await client.chat_contact.get(ids=ids)).list
        }
    if "Message" in types:
        msgs: dict[str, Any] = {}
        for chat in chats:
            req = client.request()
            q = req.message.query(filter=MessageFilter(chat_id=chat.id))
            g = req.message.get(ids=q.ids)
            await client.send(req)
            msgs.update((m.id, m.to_wire()) for m in g.result.list)
        out["Message"] = msgs
    return out


def server_view_sync(client: Client, types: tuple[str, ...] = TYPES) -> dict[str, Any]:
    """`server_view` with the blocking client."""
    out: dict[str, Any] = {}
    chats = client.chat.get(ids=client.chat.query().ids).list
    if "Chat" in types:
        out["Chat"] = {c.id: c.to_wire() for c in chats}
    if "ChatContact" in types:
        ids = client.chat_contact.query().ids
        out["ChatContact"] = {c.id: c.to_wire() for c in client.chat_contact.get(ids=ids).list}
    if "Message" in types:
        msgs: dict[str, Any] = {}
        for chat in chats:
            req = client.request()
            q = req.message.query(filter=MessageFilter(chat_id=chat.id))
            g = req.message.get(ids=q.ids)
            client.send(req)
            msgs.update((m.id, m.to_wire()) for m in g.result.list)
        out["Message"] = msgs
    return out


def mirror_view(mirror: Any, types: tuple[str, ...] = TYPES) -> dict[str, Any]:
    """The mirror's objects in the same shape as `server_view`."""
    return {t: {i: o.to_wire() for i, o in mirror.objects(t).items()} for t in types}
