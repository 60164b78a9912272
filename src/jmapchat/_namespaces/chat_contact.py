"""``req.chat_contact``: ChatContact/get, /changes, /set (update only), /query, /queryChanges.

Contacts are server-managed: there is no create or destroy (the server answers
``forbidden``), so `ChatContactMethods.set` only takes ``update``
(`ChatContactUpdate`: ``blocked``, ``display_name``).
"""

from __future__ import annotations

from jmapchat._core import CHAT, ChangesMethods, GetMethods, UpdateOnlySetMethods
from jmapchat.models import (
    ChatContact,
    ChatContactFilter,
    ChatContactProperty,
    ChatContactSortProperty,
    ChatContactUpdate,
)

from ._base import QueryChangesMethods, QueryMethods

__all__ = ["ChatContactMethods"]


class ChatContactMethods(
    GetMethods[ChatContact, ChatContactProperty],
    ChangesMethods,
    UpdateOnlySetMethods[ChatContact, ChatContactUpdate],
    QueryMethods[ChatContactFilter, ChatContactSortProperty],
    QueryChangesMethods[ChatContactFilter, ChatContactSortProperty],
):
    """Methods of the ChatContact type (``urn:ietf:params:jmap:chat``)."""

    type_name = "ChatContact"
    capability = CHAT
    model = ChatContact
