"""``req.chat``: Chat/get, /changes, /set, /query, /queryChanges and ``Chat/typing``.

Create direct and group chats with `ChatCreate.direct` / `ChatCreate.group`; channels
are created through ``req.space.set(update={space_id: SpaceUpdate(add_channels=...)})``.
"""

from __future__ import annotations

from jmapchat._core import (
    CHAT,
    NOT_GIVEN,
    Call,
    ChangesMethods,
    GetMethods,
    Id,
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
)

from ._base import QueryChangesMethods, QueryMethods, require_text

__all__ = ["ChatMethods"]


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
