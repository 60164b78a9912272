"""``req.read_position``: ReadPosition/get, /changes, /set (update only).

One ReadPosition per visible Chat, managed by the server (no create or destroy).
Moving ``lastReadMessageId`` makes the server recompute ``Chat.unreadCount``.
"""

from __future__ import annotations

from jmapchat._core import (
    CHAT,
    NOT_GIVEN,
    ChangesMethods,
    GetMethods,
    Id,
    NotGiven,
    SetCall,
    UpdateOnlySetMethods,
)
from jmapchat.models import ReadPosition, ReadPositionProperty, ReadPositionUpdate

from ._base import expect_success, require_text

__all__ = ["ReadPositionMethods"]


class ReadPositionMethods(
    GetMethods[ReadPosition, ReadPositionProperty],
    ChangesMethods,
    UpdateOnlySetMethods[ReadPosition, ReadPositionUpdate],
):
    """Methods of the ReadPosition type (``urn:ietf:params:jmap:chat``)."""

    type_name = "ReadPosition"
    capability = CHAT
    model = ReadPosition

    def set_last_read(
        self,
        read_position_id: Id,
        message_id: Id | None,
        *,
        if_in_state: str | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> SetCall[ReadPosition]:
        """Move a chat's read cursor to ``message_id`` (``None``: nothing read).

        One ``ReadPosition/set`` update of ``lastReadMessageId``. ``read_position_id``
        is the ReadPosition's own id (find it by ``chatId`` with ``get``).
        """
        require_text(read_position_id, "ReadPosition/set", "read_position_id")
        if message_id is not None:
            require_text(message_id, "ReadPosition/set", "message_id")
        return expect_success(
            self.set(
                update={read_position_id: ReadPositionUpdate(last_read_message_id=message_id)},
                if_in_state=if_in_state,
                account_id=account_id,
                call_id=call_id,
            )
        )
