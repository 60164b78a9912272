"""`async_export_jsonl`: chats and messages out as migration JSON Lines. The blocking
`export_jsonl` (`_export_sync.py`) is generated from this file by ``scripts/unasync.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import IO

from jmapchat import AsyncClient
from jmapchat._core import (
    Comparator,
)
from jmapchat.models import MessageFilter

from ._plan import (
    Progress,
    ProgressCallback,
)
from ._sources import chat_line, message_line

__all__ = ["async_export_jsonl"]


async def async_export_jsonl(
    client: AsyncClient,
    out: IO[str],
    *,
    chat_ids: Iterable[str] | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Write chats (all, or ``chat_ids``) and their messages as migration JSON Lines.

    The schema is the importer's (docs/migration.md), so export -> import round-trips.
    Returns the number of messages written.
    """
    got = await client.call(lambda r: r.chat.get(None if chat_ids is None else list(chat_ids)))
    contacts = await client.call(lambda r: r.chat_contact.get(None))
    logins = {c.id: c.login or c.id for c in contacts.list}
    written = 0
    started = time.monotonic()
    for chat in got.list:
        out.write(json.dumps(chat_line(chat, logins), ensure_ascii=False) + "\n")
        async for msg in client.query_iter(
            "Message",
            filter=MessageFilter(chat_id=chat.id),
            # Conversation order: an import's receivedAt is when its envelope landed
            # (several are in flight), so it would not round-trip; sentAt does.
            sort=[
                Comparator(property="sentAt", is_ascending=True),
                Comparator(property="receivedAt", is_ascending=True),
            ],
            page_size=min(500, client.session.core.max_objects_in_get),
        ):
            if msg.deleted_at is not None:
                continue
            out.write(json.dumps(message_line(msg, logins), ensure_ascii=False) + "\n")
            written += 1
            if progress is not None:
                elapsed = max(1e-6, time.monotonic() - started)
                progress(Progress(written, written, 0, 0, None, written / elapsed, None))
    return written
