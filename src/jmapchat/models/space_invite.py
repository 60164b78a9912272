"""SpaceInvite: a shareable invite code for a Space (create and destroy only)."""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import Field

from jmapchat._core import NOT_GIVEN, Id, JMAPInput, JMAPModel, NotGiven

from ._common import UTCDateInput

__all__ = ["SpaceInvite", "SpaceInviteCreate", "SpaceInviteProperty"]

SpaceInviteProperty: TypeAlias = Literal[
    "id",
    "code",
    "spaceId",
    "defaultChannelId",
    "createdBy",
    "expiresAt",
    "maxUses",
    "uses",
    "createdAt",
]


class SpaceInvite(JMAPModel):
    """An invite. ``code`` (not ``id``) is what ``SpaceJoin.by_invite`` takes; it is a
    secret and left out of ``repr``. Only ``id`` is required (partial objects parse)."""

    id: str
    code: str | None = Field(None, repr=False, description="The value for Space/join inviteCode.")
    space_id: str | None = None
    default_channel_id: str | None = None
    created_by: str | None = None
    expires_at: str | None = None
    max_uses: int | None = None
    uses: int | None = None
    created_at: str | None = None


class SpaceInviteCreate(JMAPInput):
    """``SpaceInvite/set`` create (needs ``manage_members``); the server assigns id and code."""

    space_id: Id
    default_channel_id: Id | NotGiven = NOT_GIVEN
    expires_at: UTCDateInput | NotGiven = NOT_GIVEN
    max_uses: int | NotGiven = NOT_GIVEN
