"""Chat (direct, group and channel in one model) plus its create/update inputs."""

from __future__ import annotations

from typing import Literal, Self, TypeAlias

from pydantic import Field, model_validator

from jmapchat._core import (
    NOT_GIVEN,
    Id,
    JMAPInput,
    JMAPModel,
    NotGiven,
    RemoteProtocolError,
    SetResponse,
)

from ._common import InvalidInputError, UTCDateInput, require_non_empty
from .space import ChannelPermission

__all__ = [
    "Chat",
    "ChatCreate",
    "ChatFilter",
    "ChatMember",
    "ChatMemberAdd",
    "ChatMemberRoleUpdate",
    "ChatProperty",
    "ChatSortProperty",
    "ChatTypingResponse",
    "ChatUpdate",
    "DirectChatResponse",
]


class ChatMember(JMAPModel):
    """A group-chat participant (``Chat.members``)."""

    id: str = Field(description="The participant's ChatContact.id.")
    role: str | None = Field(None, description='"admin" or "member" (unknown values kept).')
    joined_at: str | None = None
    invited_by: str | None = None


ChatProperty: TypeAlias = Literal[
    "id",
    "kind",
    "contactId",
    "name",
    "description",
    "avatarBlobId",
    "members",
    "spaceId",
    "categoryId",
    "position",
    "topic",
    "slowModeSeconds",
    "permissionOverrides",
    "createdAt",
    "lastMessageAt",
    "unreadCount",
    "pinnedMessageIds",
    "muted",
    "muteUntil",
    "receiveTypingIndicators",
    "receiptSharing",
    "messageExpirySeconds",
]

ChatSortProperty: TypeAlias = Literal["lastMessageAt"]
"""Default sort is ``lastMessageAt`` descending, chats without messages last."""


class Chat(JMAPModel):
    """A conversation; ``kind`` is ``direct``, ``group`` or ``channel`` (unknown kept).

    Kind-specific fields are simply absent for other kinds. Only ``id`` is required
    (partial ``/get`` results parse); absent fields are ``None`` and not in
    ``model_fields_set``.
    """

    id: str
    kind: str | None = None
    contact_id: str | None = Field(None, description="direct: the other participant.")
    name: str | None = Field(None, description="group, channel.")
    description: str | None = Field(None, description="group.")
    avatar_blob_id: str | None = Field(None, description="group.")
    members: list[ChatMember] | None = Field(None, description="group (channels: see Space).")
    space_id: str | None = Field(None, description="channel.")
    category_id: str | None = Field(None, description="channel; absent = uncategorized.")
    position: int | None = Field(None, description="channel.")
    topic: str | None = Field(None, description="channel.")
    slow_mode_seconds: int | None = Field(None, description="channel; senders get rateLimited.")
    permission_overrides: list[ChannelPermission] | None = Field(None, description="channel.")
    created_at: str | None = None
    last_message_at: str | None = None
    unread_count: int | None = Field(
        None, description="Messages with id > ReadPosition.lastReadMessageId."
    )
    pinned_message_ids: list[str] | None = Field(None, description="Most recently pinned first.")
    muted: bool | None = None
    mute_until: str | None = None
    receive_typing_indicators: bool | None = None
    receipt_sharing: bool | None = Field(
        None, description="Overrides PresenceStatus.receiptSharing."
    )
    message_expiry_seconds: int | None = None


class ChatCreate(JMAPInput):
    """``Chat/set`` create, for ``direct`` and ``group`` chats.

    Use `ChatCreate.direct` / `ChatCreate.group`. Channels are created through
    ``SpaceUpdate(add_channels=...)``, so ``kind="channel"`` is rejected here.
    A duplicate direct chat comes back either in ``updated`` (draft) or as a
    ``notCreated`` ``alreadyExists`` SetError with ``existing_id`` (some servers).
    """

    kind: str
    contact_id: Id | NotGiven = NOT_GIVEN
    name: str | NotGiven = NOT_GIVEN
    member_ids: list[Id] | NotGiven = NOT_GIVEN
    description: str | NotGiven = NOT_GIVEN
    avatar_blob_id: Id | NotGiven = NOT_GIVEN
    message_expiry_seconds: int | NotGiven = NOT_GIVEN

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind == "direct":
            if isinstance(self.contact_id, NotGiven) or not self.contact_id:
                raise InvalidInputError("a direct chat needs contact_id")
            extra = [
                n
                for n in ("name", "member_ids", "description", "avatar_blob_id")
                if not isinstance(getattr(self, n), NotGiven)
            ]
            if extra:
                raise InvalidInputError(f"a direct chat does not take {', '.join(extra)}")
        elif self.kind == "group":
            if isinstance(self.name, NotGiven):
                raise InvalidInputError("a group chat needs a name")
            require_non_empty(self.name, "group chat name")
            if isinstance(self.member_ids, NotGiven):
                raise InvalidInputError("a group chat needs member_ids")
            if not isinstance(self.contact_id, NotGiven):
                raise InvalidInputError("a group chat does not take contact_id")
        elif self.kind == "channel":
            raise InvalidInputError(
                "channels are created with SpaceUpdate(add_channels=[ChannelAdd(...)])"
            )
        return self

    @classmethod
    def direct(cls, contact_id: str) -> ChatCreate:
        """A one-to-one chat with ``contact_id`` (remote/unknown contacts are accepted)."""
        return cls(kind="direct", contact_id=contact_id)

    @classmethod
    def group(
        cls,
        name: str,
        member_ids: list[str],
        *,
        description: str | NotGiven = NOT_GIVEN,
        avatar_blob_id: str | NotGiven = NOT_GIVEN,
        message_expiry_seconds: int | NotGiven = NOT_GIVEN,
    ) -> ChatCreate:
        """A group chat; ``member_ids`` are the *other* initial members."""
        return cls(
            kind="group",
            name=name,
            member_ids=list(member_ids),
            description=description,
            avatar_blob_id=avatar_blob_id,
            message_expiry_seconds=message_expiry_seconds,
        )


class ChatMemberAdd(JMAPInput):
    """An ``addMembers`` item; ``role`` defaults server-side to ``"member"``."""

    id: Id
    role: str | NotGiven = NOT_GIVEN


class ChatMemberRoleUpdate(JMAPInput):
    """An ``updateMemberRoles`` item."""

    id: Id
    role: str


class ChatUpdate(JMAPInput):
    """``Chat/set`` update. Owner preferences apply to all kinds; ``name``,
    ``description``, ``avatar_blob_id`` and the member keys are group-admin operations.

    ``None`` sends ``null`` (clears, e.g. ``mute_until=None``); not-given is omitted.
    """

    muted: bool | NotGiven = NOT_GIVEN
    mute_until: UTCDateInput | None | NotGiven = NOT_GIVEN
    receive_typing_indicators: bool | NotGiven = NOT_GIVEN
    pinned_message_ids: list[Id] | NotGiven = NOT_GIVEN
    message_expiry_seconds: int | None | NotGiven = NOT_GIVEN
    receipt_sharing: bool | None | NotGiven = NOT_GIVEN
    name: str | NotGiven = NOT_GIVEN
    description: str | None | NotGiven = NOT_GIVEN
    avatar_blob_id: Id | None | NotGiven = NOT_GIVEN
    add_members: list[ChatMemberAdd] | NotGiven = NOT_GIVEN
    remove_members: list[Id] | NotGiven = NOT_GIVEN
    update_member_roles: list[ChatMemberRoleUpdate] | NotGiven = NOT_GIVEN

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_non_empty(self.name, "chat name")
        return self


class ChatFilter(JMAPInput):
    """``Chat/query`` FilterCondition."""

    kind: str | NotGiven = NOT_GIVEN
    muted: bool | NotGiven = NOT_GIVEN


class ChatTypingResponse(JMAPModel):
    """``Chat/typing`` response (the request is ``{accountId, chatId, typing}``)."""

    account_id: str


class DirectChatResponse(SetResponse[Chat]):
    """The ``Chat/set`` answer to ``chat.open_direct``: ``chat_id`` whether the direct
    chat was created now or already existed.

    Servers say "already exists" two ways (the draft: the chat's id as a key of
    ``updated``; the compliance suite: SetError ``alreadyExists`` with ``existingId``);
    both are read.
    """

    @property
    def chat_id(self) -> str:
        """The direct chat's id."""
        if len(self.created) == 1:
            return next(iter(self.created.values())).id
        if len(self.updated) == 1:
            return next(iter(self.updated))
        for err in self.not_created.values():
            if err.type == "alreadyExists" and err.existing_id:
                return err.existing_id
        raise RemoteProtocolError(
            "Chat/set: the server neither created the direct chat nor named the existing one"
        )

    @property
    def was_created(self) -> bool:
        """True if this call created the chat, False if it already existed."""
        return bool(self.created)
