"""``req.chat``: Chat/get, /changes, /set, /query, /queryChanges and ``Chat/typing``.

Create direct and group chats with `ChatCreate.direct` / `ChatCreate.group`; channels
are created through ``req.space.set(update={space_id: SpaceUpdate(add_channels=...)})``.
"""

from __future__ import annotations

from typing import Any

from jmapchat._core import (
    CHAT,
    NOT_GIVEN,
    Call,
    ChangesMethods,
    GetMethods,
    Id,
    JMAPError,
    LocalProtocolError,
    NotGiven,
    SetMethods,
)
from jmapchat.models import (
    Chat,
    ChatCreate,
    ChatFilter,
    ChatProperty,
    ChatSortProperty,
    ChatTypingResponse,
    ChatUpdate,
    DirectChatResponse,
)
from jmapchat.models import ids as _idgen

from ._base import QueryChangesMethods, QueryMethods, expect_success, require_text

__all__ = ["ChatMethods", "DirectChatCall"]


class DirectChatCall(Call[DirectChatResponse]):
    """The ``Chat/set`` of `ChatMethods.open_direct`: "already exists" is a success
    (the chat's id as a key of ``updated``, or SetError ``alreadyExists`` + ``existingId``)."""

    __slots__ = ()

    def _unmet(self, result: Any) -> JMAPError | None:
        if isinstance(result, DirectChatResponse) and (
            result.created
            or result.updated
            or any(e.type == "alreadyExists" and e.existing_id for e in result.not_created.values())
        ):
            return None
        return super()._unmet(result)


class ChatMethods(
    GetMethods[Chat, ChatProperty],
    ChangesMethods,
    SetMethods[Chat, ChatCreate, ChatUpdate],
    QueryMethods[ChatFilter, ChatSortProperty],
    QueryChangesMethods[ChatFilter, ChatSortProperty],
):
    """Methods of the Chat type (``urn:ietf:params:jmap:chat``)."""

    type_name = "Chat"
    capability = CHAT
    model = Chat

    def open_direct(
        self,
        contact_id: Id,
        *,
        creation_id: str | None = None,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> DirectChatCall:
        """Get or create the direct chat with ``contact_id``: ``result.chat_id`` is its id
        either way (``result.was_created`` tells which).

        One ``Chat/set`` create of a direct chat; any failure other than "already exists"
        raises `SetErrors` when ``.result`` is read.
        """
        require_text(contact_id, "Chat/set", "contact_id")
        key = creation_id if creation_id is not None else _idgen.creation_id()
        require_text(key, "Chat/set", "creation_id")
        args = self._args(account_id, create={key: ChatCreate.direct(contact_id)})
        return expect_success(self._add(DirectChatCall, "set", args, DirectChatResponse, call_id))

    def typing(
        self,
        chat_id: Id,
        typing: bool = True,
        *,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[ChatTypingResponse]:
        """``Chat/typing``: tell the chat's participants you are (not) typing.

        Ephemeral and never stored. Send it at most once per 3 s per chat (servers
        silently drop the excess); an unknown chat gives the method error ``notFound``.
        """
        require_text(chat_id, "Chat/typing", "chat_id")
        if not isinstance(typing, bool):
            raise LocalProtocolError(f"Chat/typing: typing must be a bool, not {typing!r}")
        args = self._args(account_id, chat_id=chat_id, typing=typing)
        return self._add(Call, "typing", args, ChatTypingResponse, call_id)
