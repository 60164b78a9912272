"""``req.presence_status``: PresenceStatus/get, /changes, /set (update only).

PresenceStatus is a per-account singleton: ``get(None)`` fetches it.
"""

from __future__ import annotations

from jmapchat._core import CHAT, ChangesMethods, GetMethods, UpdateOnlySetMethods
from jmapchat.models import PresenceStatus, PresenceStatusProperty, PresenceStatusUpdate

__all__ = ["PresenceStatusMethods"]


class PresenceStatusMethods(
    GetMethods[PresenceStatus, PresenceStatusProperty],
    ChangesMethods,
    UpdateOnlySetMethods[PresenceStatus, PresenceStatusUpdate],
):
    """Methods of the PresenceStatus type (``urn:ietf:params:jmap:chat``)."""

    type_name = "PresenceStatus"
    capability = CHAT
    model = PresenceStatus
