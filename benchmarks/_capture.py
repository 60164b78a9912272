"""Run as a subprocess by `_common.capture_reply`: seed a reference server, capture bytes.

    python benchmarks/_capture.py COUNT OUTDIR

Writes ``reply.json`` (the exact reply to a ``Message/query`` + ``Message/get`` of COUNT
messages), ``request.json`` (the request that produced it), ``session.json`` (the
session resource, URLs based at ``http://capture``) and ``meta.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CAPTURE_BASE, post_raw, seed_messages

import jmapchat
from jmapchat.models import MessageFilter
from jmapchat.server import ChatServer, ServerLimits


def session_bytes(server: ChatServer, user: str) -> bytes:
    async def go() -> bytes:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server.app), base_url=CAPTURE_BASE
        ) as http:
            r = await http.get(
                "/.well-known/jmap",
                headers={"Authorization": f"Bearer {server.tokens[user]}"},
                follow_redirects=True,
            )
            r.raise_for_status()
            return r.content

    return anyio.run(go)


def main() -> None:
    count, out = int(sys.argv[1]), Path(sys.argv[2])
    limits = ServerLimits(max_objects_in_get=max(count, 500))
    with ChatServer(users=["alice", "bob"], limits=limits) as server:
        account, chat_id = seed_messages(server, count)
        req = jmapchat.Request(account_id=account)
        q = req.message.query(filter=MessageFilter(chat_id=chat_id), limit=count)
        req.message.get(ids=q.ids)
        body = req.build()
        reply = post_raw(server, "alice", body)
        session = session_bytes(server, "alice")
    state = json.loads(session)["state"]
    assert json.loads(reply)["sessionState"] == state, "reply and session must agree"
    (out / "reply.json").write_bytes(reply)
    (out / "request.json").write_bytes(body)
    (out / "session.json").write_bytes(session)
    meta = {"account_id": account, "chat_id": chat_id, "count": count}
    (out / "meta.json").write_text(json.dumps(meta))


if __name__ == "__main__":
    main()
