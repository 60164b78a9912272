"""The public `Request`: the core builder plus one namespace per JMAP Chat data type."""

from __future__ import annotations

from jmapchat._core._request import BaseRequest

__all__ = ["Request"]


class Request(BaseRequest):
    """A batch of method calls sent as one JMAP request.

    Build it with the namespaces (``req.message.set(...)``, ``req.chat.query(...)``),
    each returning a typed call handle; then ``await client.send(req)``, or, without
    a client, ``req.build()`` and ``Response.parse(req, body)``.
    """
