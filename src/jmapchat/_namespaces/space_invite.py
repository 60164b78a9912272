"""``req.space_invite``: SpaceInvite/get, /changes, /set (create and destroy only).

Invites cannot be updated (``forbidden``) and have no ``/query``. The server assigns
``id`` and ``code``; destroy revokes an invite.
"""

from __future__ import annotations

from jmapchat._core import CHAT, ChangesMethods, CreateDestroySetMethods, GetMethods
from jmapchat.models import SpaceInvite, SpaceInviteCreate, SpaceInviteProperty

__all__ = ["SpaceInviteMethods"]


class SpaceInviteMethods(
    GetMethods[SpaceInvite, SpaceInviteProperty],
    ChangesMethods,
    CreateDestroySetMethods[SpaceInvite, SpaceInviteCreate],
):
    """Methods of the SpaceInvite type (``urn:ietf:params:jmap:chat``)."""

    type_name = "SpaceInvite"
    capability = CHAT
    model = SpaceInvite
