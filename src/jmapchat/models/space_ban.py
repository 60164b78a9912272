"""SpaceBan: keeps a user out of a Space (needs the ``ban`` permission)."""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import Field

from jmapchat._core import NOT_GIVEN, Id, JMAPInput, JMAPModel, NotGiven

from ._common import UTCDateInput

__all__ = ["SpaceBan", "SpaceBanCreate", "SpaceBanProperty", "SpaceBanUpdate"]

SpaceBanProperty: TypeAlias = Literal[
    "id", "spaceId", "userId", "bannedBy", "reason", "createdAt", "expiresAt"
]


class SpaceBan(JMAPModel):
    """A ban; ``expires_at`` absent means permanent. Only ``id`` is required."""

    id: str
    space_id: str | None = None
    user_id: str | None = None
    banned_by: str | None = None
    reason: str | None = Field(None, description="Visible to the banned user.")
    created_at: str | None = None
    expires_at: str | None = None


class SpaceBanCreate(JMAPInput):
    """``SpaceBan/set`` create."""

    space_id: Id
    user_id: Id
    reason: str | NotGiven = NOT_GIVEN
    expires_at: UTCDateInput | NotGiven = NOT_GIVEN


class SpaceBanUpdate(JMAPInput):
    """``SpaceBan/set`` update: ``reason`` and ``expires_at`` (``None`` clears = permanent)."""

    reason: str | None | NotGiven = NOT_GIVEN
    expires_at: UTCDateInput | None | NotGiven = NOT_GIVEN
