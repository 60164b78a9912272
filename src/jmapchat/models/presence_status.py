"""PresenceStatus: the owner's singleton availability/status record (update only)."""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import Field

from jmapchat._core import NOT_GIVEN, JMAPInput, JMAPModel, NotGiven

from ._common import UTCDateInput

__all__ = ["PresenceStatus", "PresenceStatusProperty", "PresenceStatusUpdate"]

PresenceStatusProperty: TypeAlias = Literal[
    "id", "presence", "statusText", "statusEmoji", "expiresAt", "receiptSharing", "updatedAt"
]


class PresenceStatus(JMAPModel):
    """The account's own presence. Only ``id`` is required (partial objects parse)."""

    id: str
    presence: str | None = Field(None, description="online|away|busy|invisible|offline.")
    status_text: str | None = None
    status_emoji: str | None = None
    expires_at: str | None = Field(None, description="Then text/emoji clear, presence resets.")
    receipt_sharing: bool | None = Field(
        None, description="false: no read receipts sent *and* none shown."
    )
    updated_at: str | None = None


class PresenceStatusUpdate(JMAPInput):
    """``PresenceStatus/set`` update; ``None`` clears ``status_text`` etc."""

    presence: str | NotGiven = NOT_GIVEN
    status_text: str | None | NotGiven = NOT_GIVEN
    status_emoji: str | None | NotGiven = NOT_GIVEN
    expires_at: UTCDateInput | None | NotGiven = NOT_GIVEN
    receipt_sharing: bool | NotGiven = NOT_GIVEN
