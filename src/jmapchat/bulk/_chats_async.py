"""`AsyncChatsMixin`: the importer's chats and contacts, created or looked up once (and
journalled). The blocking `ChatsMixin` (`_chats_sync.py`) is generated from this file by
``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from jmapchat import AsyncClient
from jmapchat.models import ChatCreate

from ._journal import Journal
from ._plan import (
    ChatRef,
    ImportAborted,
    Report,
)

__all__ = ["AsyncChatsMixin"]


class AsyncChatsMixin:
    """Chat and contact ids for `AsyncImporter` (whose ``__init__`` sets this state)."""

    _client: AsyncClient
    _journal: Journal
    _lock: AbstractContextManager[Any]
    _report: Report
    _chats: dict[str, str]
    _contacts: dict[str, str] | None
    _looked_up: bool

    # --- chats and contacts, created or looked up once -----------------------------------------

    async def _contact_ids(self) -> dict[str, str]:
        if self._contacts is None:
            self._contacts = self._journal.contacts()
        return self._contacts

    async def _lookup_contacts(self) -> dict[str, str]:
        got = await self._client.call(lambda r: r.chat_contact.get(None))
        with self._lock:
            self._report.requests += 1
        mapping = {c.login or c.id: c.id for c in got.list}
        mapping.update({c.id: c.id for c in got.list})
        self._journal.set_contacts(mapping)
        self._contacts = mapping
        return mapping

    async def _resolve_logins(self, logins: Iterable[str]) -> list[str]:
        """Contact ids of ``logins``; unknown ones are left out (looked up once per run)."""
        wanted = list(logins)
        contacts = await self._contact_ids()
        if any(login not in contacts for login in wanted) and not self._looked_up:
            self._looked_up = True
            contacts = await self._lookup_contacts()
        return [contacts[login] for login in wanted if login in contacts]

    async def _chat_id(self, ref: ChatRef) -> str:
        if ref.chat_id is not None:
            return ref.chat_id
        cached = self._chats.get(ref.key)
        if cached is not None:
            return cached
        row = self._journal.chat(ref.key)
        if row is not None and row[0] == "done" and row[1]:
            self._chats[ref.key] = row[1]
            return row[1]
        if ref.kind == "direct":
            # ``contact``, or the first member who is a contact (the account owner is not)
            candidates = [ref.contact] if ref.contact else list(ref.members)
            resolved = await self._resolve_logins(candidates)
            if not resolved and not candidates:
                raise ImportAborted(f"direct chat {ref.key!r} names no contact")
            create = ChatCreate.direct(resolved[0] if resolved else candidates[0])
        else:
            members = await self._resolve_logins(ref.members)
            create = ChatCreate.group(ref.name or ref.key, members)
        chat_id = None
        if row is not None:  # a previous run crashed while creating it: look first
            chat_id = await self._find_chat(create)
        if chat_id is None:
            self._journal.set_chat(ref.key, "pending")
            result = await self._client.call(lambda r: r.chat.set(create={"c": create}))
            with self._lock:
                self._report.requests += 1
            if "c" in result.created:
                chat_id = result.created["c"].id
            elif result.updated:  # the draft returns an existing direct chat in `updated`
                chat_id = next(iter(result.updated))
            else:
                err = (result.not_created or {}).get("c")
                if err is not None and err.existing_id:
                    chat_id = err.existing_id
                else:
                    what = f"{err.type}: {err.description}" if err else "no result"
                    raise ImportAborted(f"cannot create chat {ref.key!r} ({what})")
        self._journal.set_chat(ref.key, "done", chat_id)
        self._chats[ref.key] = chat_id
        return chat_id

    async def _find_chat(self, create: ChatCreate) -> str | None:
        got = await self._client.call(lambda r: r.chat.get(None))
        with self._lock:
            self._report.requests += 1
        for chat in got.list:
            if chat.kind == create.kind == "direct" and chat.contact_id == create.contact_id:
                return chat.id
            if chat.kind == create.kind == "group" and chat.name == create.name:
                return chat.id
        return None
