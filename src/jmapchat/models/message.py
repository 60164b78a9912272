"""Message and its sub-types, plus the Message/set create and update inputs and the filter."""

from __future__ import annotations

from typing import Any, Literal, Self, TypeAlias

from pydantic import Field, model_validator

from jmapchat._core import (
    NOT_GIVEN,
    Id,
    JMAPInput,
    JMAPModel,
    NotGiven,
    escape_token,
    unescape_token,
)

from ._common import SELF, InvalidInputError, UTCDateInput, utc_now
from .mention import BroadcastMention, Mention, check_mention_ranges

__all__ = [
    "RICH_BODY_TYPE",
    "Attachment",
    "DeliveryReceipt",
    "Message",
    "MessageAction",
    "MessageCreate",
    "MessageFilter",
    "MessageProperty",
    "MessageRevision",
    "MessageSortProperty",
    "MessageUpdate",
    "Reaction",
    "ReactionInput",
]

RICH_BODY_TYPE = "application/jmap-chat-rich"

_REACTIONS_PREFIX = "reactions/"


class Attachment(JMAPModel):
    """File metadata for a blob attached to a Message (upload first, then reference)."""

    blob_id: str
    filename: str = Field(description="Must not contain '/', '\\\\' or NUL.")
    content_type: str
    size: int = Field(ge=0, description="Blob size in bytes; servers verify it.")
    sha256: str = Field(description="Lowercase hex SHA-256 of the blob (upload returns it).")


class MessageAction(JMAPModel):
    """An out-of-band action invitation (call, payment, …). Untrusted; never auto-act."""

    type: str = Field(description="URI in the Endpoint type namespace (see EndpointType).")
    uri: str
    label: str | None = None
    expires_at: str | None = Field(None, description="Not enforced by the server.")
    metadata: dict[str, Any] | None = None


class Reaction(JMAPModel):
    """A value of ``Message.reactions``; the map key is the ``senderReactionId`` (a ULID)."""

    emoji: str
    custom_emoji_id: str | None = Field(None, description="When set, ``emoji`` is a fallback.")
    sender_id: str | None = Field(
        None, description='``"self"`` for the owner, else ChatContact.id.'
    )
    sent_at: str | None = None

    @property
    def is_own(self) -> bool:
        """Whether the current user sent this reaction."""
        return self.sender_id == SELF


class ReactionInput(JMAPInput):
    """A reaction to add via ``MessageUpdate(add_reactions={reaction_id: ...})``."""

    emoji: str
    sent_at: UTCDateInput = Field(default_factory=utc_now)
    custom_emoji_id: Id | NotGiven = NOT_GIVEN

    @model_validator(mode="after")
    def _check_emoji(self) -> Self:
        if not self.emoji:
            raise InvalidInputError("reaction emoji must be a non-empty string")
        return self


class MessageRevision(JMAPModel):
    """One prior version of a message body (``Message.editHistory``, oldest first)."""

    body: str | None = None
    body_type: str | None = None
    edited_at: str | None = Field(None, description="When this version was superseded.")


class DeliveryReceipt(JMAPModel):
    """Per-recipient entry of ``Message.deliveryReceipts`` (own group messages only)."""

    delivered_at: str | None = None
    device_delivered_at: str | None = Field(None, description="Absent if the platform can't tell.")
    read_at: str | None = None
    read_disposition: str | None = Field(None, description="Absent when readAt is null.")


MessageProperty: TypeAlias = Literal[
    "id",
    "senderMsgId",
    "chatId",
    "senderId",
    "body",
    "bodyType",
    "attachments",
    "mentions",
    "broadcastMentions",
    "actions",
    "reactions",
    "replyTo",
    "threadRootId",
    "replyCount",
    "unreadReplyCount",
    "sentAt",
    "receivedAt",
    "senderExpiresAt",
    "burnOnRead",
    "deliveryState",
    "deliveryReceipts",
    "deliveredAt",
    "readAt",
    "readDisposition",
    "editedAt",
    "editHistory",
    "deletedAt",
    "deletedForAll",
]

MessageSortProperty: TypeAlias = Literal["receivedAt"]
"""The draft only defines ``receivedAt`` (default: ascending with chatId, else descending)."""


class Message(JMAPModel):
    """A message as the server sends it.

    Only ``id`` is required so that partial objects from ``Message/get`` with
    ``properties`` parse; absent properties are ``None`` and not in ``model_fields_set``
    (and not emitted by ``to_wire()``).
    """

    id: str = Field(description="Receiver-assigned ULID; sort by this, never by sentAt.")
    sender_msg_id: str | None = Field(None, description="Sender-assigned ULID; == id for own.")
    chat_id: str | None = None
    sender_id: str | None = Field(
        None, description='``"self"`` for owner-composed messages, else the sender ChatContact.id.'
    )
    body: str | None = Field(
        None, description='UTF-8 text, or base64url ciphertext; "" if deleted.'
    )
    body_type: str | None = None
    attachments: list[Attachment] | None = None
    mentions: list[Mention] | None = None
    broadcast_mentions: list[BroadcastMention] | None = None
    actions: list[MessageAction] | None = None
    reactions: dict[str, Reaction] | None = Field(None, description="Keyed by senderReactionId.")
    reply_to: str | None = None
    thread_root_id: str | None = None
    reply_count: int | None = None
    unread_reply_count: int | None = None
    sent_at: str | None = Field(None, description="Sender's claim; untrusted, not for ordering.")
    received_at: str | None = Field(None, description="Authoritative for ordering and expiry.")
    sender_expires_at: str | None = None
    burn_on_read: bool | None = None
    delivery_state: str | None = Field(None, description="pending|delivered|failed|received.")
    delivery_receipts: dict[str, DeliveryReceipt] | None = Field(
        None, description="ChatContact.id -> receipt; only on own group messages."
    )
    delivered_at: str | None = None
    read_at: str | None = None
    read_disposition: str | None = None
    edited_at: str | None = None
    edit_history: list[MessageRevision] | None = None
    deleted_at: str | None = Field(None, description="Tombstone marker (body/attachments cleared).")
    deleted_for_all: bool | None = None

    @property
    def is_own(self) -> bool:
        """True for messages the account owner composed (``senderId == "self"``)."""
        return self.sender_id == SELF

    @property
    def is_deleted(self) -> bool:
        """Whether the message was deleted (it has ``deletedAt``)."""
        return self.deleted_at is not None

    def rich_body(self) -> Any:
        """Parse an ``application/jmap-chat-rich`` body into a `RichBody`."""
        from .rich import RichBody

        if self.body_type != RICH_BODY_TYPE or self.body is None:
            raise ValueError(f"message body type is {self.body_type!r}, not {RICH_BODY_TYPE!r}")
        return RichBody.parse(self.body)


def _check_body_and_mentions(
    body: object, body_type: object, mentions: object, broadcast: object
) -> None:
    if not isinstance(body, str):
        return
    if body_type == RICH_BODY_TYPE:
        if mentions or broadcast:
            raise InvalidInputError(
                "rich bodies carry mentions inline: mentions and broadcastMentions must be empty"
            )
        return
    if isinstance(mentions, list):
        check_mention_ranges(body, mentions)
    if isinstance(broadcast, list):
        check_mention_ranges(body, broadcast)


class MessageCreate(JMAPInput):
    """``Message/set`` create. ``body_type`` defaults to ``text/plain``, ``sent_at`` to now.

    Mentions are checked against the body's UTF-8 byte length at construction.
    """

    chat_id: Id
    body: str
    body_type: str = "text/plain"
    sent_at: UTCDateInput = Field(default_factory=utc_now)
    attachments: list[Attachment] | NotGiven = NOT_GIVEN
    mentions: list[Mention] | NotGiven = NOT_GIVEN
    broadcast_mentions: list[BroadcastMention] | NotGiven = NOT_GIVEN
    actions: list[MessageAction] | NotGiven = NOT_GIVEN
    reply_to: Id | NotGiven = NOT_GIVEN
    thread_root_id: Id | NotGiven = NOT_GIVEN
    sender_expires_at: UTCDateInput | NotGiven = NOT_GIVEN
    burn_on_read: bool | NotGiven = NOT_GIVEN

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_body_and_mentions(self.body, self.body_type, self.mentions, self.broadcast_mentions)
        for attachment in self.attachments or ():
            if any(c in attachment.filename for c in "/\\\x00"):
                raise InvalidInputError(
                    f"attachment filename {attachment.filename!r} contains '/', '\\' or NUL"
                )
        return self

    @classmethod
    def rich(cls, *, chat_id: str, body: Any, **kwargs: Any) -> MessageCreate:
        """A message with an ``application/jmap-chat-rich`` body (a `RichBody` or builder)."""
        from .rich import RichBody, RichText

        if isinstance(body, RichText):
            body = body.build()
        text = body.dumps() if isinstance(body, RichBody) else str(body)
        return cls(chat_id=chat_id, body=text, body_type=RICH_BODY_TYPE, **kwargs)


class MessageUpdate(JMAPInput):
    """``Message/set`` update (a PatchObject): edit, delete, mark read, react.

    Every field defaults to not-given (omitted); ``None`` sends ``null`` (clears).
    ``add_reactions`` / ``remove_reactions`` become JSON-pointer keys
    ``"reactions/<id>"`` (RFC 6901-escaped) with the reaction or ``null``.
    """

    body: str | NotGiven = NOT_GIVEN
    body_type: str | NotGiven = NOT_GIVEN
    mentions: list[Mention] | NotGiven = NOT_GIVEN
    broadcast_mentions: list[BroadcastMention] | NotGiven = NOT_GIVEN
    read_at: UTCDateInput | None | NotGiven = NOT_GIVEN
    read_disposition: str | None | NotGiven = NOT_GIVEN
    deleted_at: UTCDateInput | None | NotGiven = NOT_GIVEN
    deleted_for_all: bool | None | NotGiven = NOT_GIVEN
    add_reactions: dict[str, ReactionInput] | NotGiven = Field(NOT_GIVEN, exclude=True)
    remove_reactions: list[str] | NotGiven = Field(NOT_GIVEN, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _from_pointer_keys(cls, data: Any) -> Any:
        # Accept the wire form: "reactions/<id>": {...} | null.
        if not isinstance(data, dict) or not any(
            isinstance(k, str) and k.startswith(_REACTIONS_PREFIX) for k in data
        ):
            return data
        out: dict[str, Any] = {}
        add: dict[str, Any] = {}
        remove: list[str] = []
        for key, value in data.items():
            if isinstance(key, str) and key.startswith(_REACTIONS_PREFIX):
                rid = unescape_token(key[len(_REACTIONS_PREFIX) :])
                if value is None:
                    remove.append(rid)
                else:
                    add[rid] = value
            else:
                out[key] = value
        if add:
            out["add_reactions"] = {**out.get("add_reactions", {}), **add}
        if remove:
            out["remove_reactions"] = [*out.get("remove_reactions", []), *remove]
        return out

    @model_validator(mode="after")
    def _check(self) -> Self:
        if isinstance(self.add_reactions, dict) and isinstance(self.remove_reactions, list):
            both = set(self.add_reactions) & set(self.remove_reactions)
            if both:
                raise InvalidInputError(f"reaction ids both added and removed: {sorted(both)}")
        for rid in [*(self.add_reactions or {}), *(self.remove_reactions or [])]:
            if not rid:
                raise InvalidInputError("reaction ids must not be empty")
        _check_body_and_mentions(
            self.body,
            self.body_type,
            self.mentions,
            self.broadcast_mentions,
        )
        return self

    def to_wire(self) -> dict[str, Any]:
        """The JMAP patch object: not-given fields omitted, reactions as ``reactions/<id>``
        paths.
        """
        out = super().to_wire()
        if isinstance(self.add_reactions, dict):
            for rid, reaction in self.add_reactions.items():
                out[_REACTIONS_PREFIX + escape_token(rid)] = reaction.to_wire()
        if isinstance(self.remove_reactions, list):
            for rid in self.remove_reactions:
                out[_REACTIONS_PREFIX + escape_token(rid)] = None
        return out


class MessageFilter(JMAPInput):
    """``Message/query`` FilterCondition.

    Servers require ``chat_id`` unless ``has_mention=True`` (else ``unsupportedFilter``);
    not enforced here because a condition may be one operand of a FilterOperator.
    ``sender_id``, ``after`` and ``before`` are extensions beyond draft-00 (the reference
    server and the original Rust crate have them); a server without them answers
    ``unsupportedFilter``.
    """

    chat_id: Id | NotGiven = NOT_GIVEN
    text: str | NotGiven = NOT_GIVEN
    thread_root_id: Id | NotGiven = NOT_GIVEN
    has_attachment: bool | NotGiven = NOT_GIVEN
    has_mention: bool | NotGiven = NOT_GIVEN
    sender_id: Id | NotGiven = NOT_GIVEN
    """Only messages from this sender (``"self"`` for your own)."""
    after: UTCDateInput | NotGiven = NOT_GIVEN
    """Only messages received at or after this instant (``receivedAt >= after``)."""
    before: UTCDateInput | NotGiven = NOT_GIVEN
    """Only messages received before this instant (``receivedAt < before``)."""
