"""``req.custom_emoji``: CustomEmoji/get, /changes, /set, /query, /queryChanges."""

from __future__ import annotations

from jmapchat._core import CHAT, ChangesMethods, GetMethods, SetMethods
from jmapchat.models import (
    CustomEmoji,
    CustomEmojiCreate,
    CustomEmojiFilter,
    CustomEmojiProperty,
    CustomEmojiSortProperty,
    CustomEmojiUpdate,
)

from ._base import QueryChangesMethods, QueryMethods

__all__ = ["CustomEmojiMethods"]


class CustomEmojiMethods(
    GetMethods[CustomEmoji, CustomEmojiProperty],
    ChangesMethods,
    SetMethods[CustomEmoji, CustomEmojiCreate, CustomEmojiUpdate],
    QueryMethods[CustomEmojiFilter, CustomEmojiSortProperty],
    QueryChangesMethods[CustomEmojiFilter, CustomEmojiSortProperty],
):
    """Methods of the CustomEmoji type (``urn:ietf:params:jmap:chat``)."""

    type_name = "CustomEmoji"
    capability = CHAT
    model = CustomEmoji
