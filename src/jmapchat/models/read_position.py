"""ReadPosition: the owner's per-chat read cursor (server-managed; update only)."""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import Field

from jmapchat._core import NOT_GIVEN, Id, JMAPInput, JMAPModel, NotGiven

__all__ = ["ReadPosition", "ReadPositionProperty", "ReadPositionUpdate"]

ReadPositionProperty: TypeAlias = Literal["id", "chatId", "lastReadMessageId", "lastReadAt"]


class ReadPosition(JMAPModel):
    """Read cursor of one Chat; ``Chat.unreadCount`` counts messages after it."""

    id: str
    chat_id: str | None = None
    last_read_message_id: str | None = Field(None, description="Absent: nothing read yet.")
    last_read_at: str | None = None


class ReadPositionUpdate(JMAPInput):
    """``ReadPosition/set`` update: move the cursor (server sets lastReadAt)."""

    last_read_message_id: Id | None | NotGiven = NOT_GIVEN
