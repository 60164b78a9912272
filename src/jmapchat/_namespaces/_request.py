"""The public `Request`: the core builder plus one namespace per JMAP Chat data type."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from jmapchat._core import BaseRequest

if TYPE_CHECKING:
    from .blob import BlobMethods
    from .chat import ChatMethods
    from .chat_contact import ChatContactMethods
    from .custom_emoji import CustomEmojiMethods
    from .message import MessageMethods
    from .presence_status import PresenceStatusMethods
    from .push_subscription import PushSubscriptionMethods
    from .quota import QuotaMethods
    from .read_position import ReadPositionMethods
    from .space import SpaceMethods
    from .space_ban import SpaceBanMethods
    from .space_invite import SpaceInviteMethods

__all__ = ["Request"]


class Request(BaseRequest):
    """A batch of method calls sent as one JMAP request.

    Build it with the namespaces (``req.message.set(...)``, ``req.chat.query(...)``),
    each returning a typed call handle; then ``await client.send(req)``, or, without
    a client, ``req.build()`` and ``Response.parse(req, body)``.

    Namespaces: ``chat_contact``, ``chat``, ``message``, ``space``, ``space_invite``,
    ``custom_emoji``, ``space_ban``, ``read_position``, ``presence_status``,
    ``push_subscription``, ``quota``, ``blob`` and ``core``. Each offers exactly the
    methods the spec allows for its type (see ``docs/methods.md``).

    The namespace modules (and with them `jmapchat.models`) are imported on first
    use, so ``import jmapchat`` stays light and the sans-IO core loads nothing else.
    """

    @cached_property
    def chat_contact(self) -> ChatContactMethods:
        """ChatContact/get, /changes, /set (update only), /query, /queryChanges."""
        from .chat_contact import ChatContactMethods

        return ChatContactMethods(self)

    @cached_property
    def chat(self) -> ChatMethods:
        """Chat/get, /changes, /set, /query, /queryChanges, Chat/typing."""
        from .chat import ChatMethods

        return ChatMethods(self)

    @cached_property
    def message(self) -> MessageMethods:
        """Message/get, /changes, /set, /query, /queryChanges and send/react/… helpers."""
        from .message import MessageMethods

        return MessageMethods(self)

    @cached_property
    def space(self) -> SpaceMethods:
        """Space/get, /changes, /set, /query, /queryChanges, Space/join."""
        from .space import SpaceMethods

        return SpaceMethods(self)

    @cached_property
    def space_invite(self) -> SpaceInviteMethods:
        """SpaceInvite/get, /changes, /set (create and destroy only)."""
        from .space_invite import SpaceInviteMethods

        return SpaceInviteMethods(self)

    @cached_property
    def custom_emoji(self) -> CustomEmojiMethods:
        """CustomEmoji/get, /changes, /set, /query, /queryChanges."""
        from .custom_emoji import CustomEmojiMethods

        return CustomEmojiMethods(self)

    @cached_property
    def space_ban(self) -> SpaceBanMethods:
        """SpaceBan/get, /changes, /set."""
        from .space_ban import SpaceBanMethods

        return SpaceBanMethods(self)

    @cached_property
    def read_position(self) -> ReadPositionMethods:
        """ReadPosition/get, /changes, /set (update only), set_last_read."""
        from .read_position import ReadPositionMethods

        return ReadPositionMethods(self)

    @cached_property
    def presence_status(self) -> PresenceStatusMethods:
        """PresenceStatus/get, /changes, /set (update only)."""
        from .presence_status import PresenceStatusMethods

        return PresenceStatusMethods(self)

    @cached_property
    def push_subscription(self) -> PushSubscriptionMethods:
        """PushSubscription/get and /set (no accountId)."""
        from .push_subscription import PushSubscriptionMethods

        return PushSubscriptionMethods(self)

    @cached_property
    def quota(self) -> QuotaMethods:
        """Quota/get, /changes, /query, /queryChanges (urn:ietf:params:jmap:quota)."""
        from .quota import QuotaMethods

        return QuotaMethods(self)

    @cached_property
    def blob(self) -> BlobMethods:
        """Blob/lookup and Blob/convert (urn:ietf:params:jmap:blob2)."""
        from .blob import BlobMethods

        return BlobMethods(self)
