"""``req.space_ban``: SpaceBan/get, /changes, /set (no ``/query``). Needs ``ban``."""

from __future__ import annotations

from jmapchat._core import CHAT, ChangesMethods, GetMethods, SetMethods
from jmapchat.models import SpaceBan, SpaceBanCreate, SpaceBanProperty, SpaceBanUpdate

__all__ = ["SpaceBanMethods"]


class SpaceBanMethods(
    GetMethods[SpaceBan, SpaceBanProperty],
    ChangesMethods,
    SetMethods[SpaceBan, SpaceBanCreate, SpaceBanUpdate],
):
    """Methods of the SpaceBan type (``urn:ietf:params:jmap:chat``); destroy = unban."""

    type_name = "SpaceBan"
    capability = CHAT
    model = SpaceBan
