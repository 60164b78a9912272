"""Push: PushSubscription with the ``chatPush`` extension, push payloads, EventSource events.

Payloads delivered to a push URL carry an ``@type``: `parse_push_payload` picks
`ChatMessagePush`, `StateChange` or `PushVerification` (others stay a generic
`PushPayload`). EventSource ``typing`` / ``presence`` events have no ``@type``: parse
their ``data`` with `TypingEvent` / `PresenceEvent` according to the event name.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pydantic import Field

from jmapchat._core import NOT_GIVEN, GetList, Id, JMAPInput, JMAPModel, NotGiven, SetOutcome

from ._common import UTCDateInput

__all__ = [
    "ChatDataType",
    "ChatMessageEntry",
    "ChatMessageEntryProperty",
    "ChatMessagePush",
    "ChatPushConfig",
    "PingEvent",
    "PresenceEvent",
    "PushKeys",
    "PushPayload",
    "PushSubscription",
    "PushSubscriptionCreate",
    "PushSubscriptionGetResponse",
    "PushSubscriptionProperty",
    "PushSubscriptionSetResponse",
    "PushSubscriptionUpdate",
    "PushUrgency",
    "PushVerification",
    "StateChange",
    "TypingEvent",
    "parse_push_payload",
]

PushUrgency: TypeAlias = Literal["very-low", "low", "normal", "high"]

ChatDataType: TypeAlias = Literal[
    "ChatContact",
    "Chat",
    "Message",
    "Space",
    "SpaceInvite",
    "CustomEmoji",
    "SpaceBan",
    "ReadPosition",
    "PresenceStatus",
]
"""The JMAP Chat data types with a state (``/changes``): what a `StateChange` names, a
PushSubscription's ``types`` lists, and a `jmapchat.sync` mirror can keep."""

ChatMessageEntryProperty: TypeAlias = Literal[
    "messageId",
    "chatId",
    "chatKind",
    "chatName",
    "spaceId",
    "spaceName",
    "senderId",
    "senderDisplayName",
    "sentAt",
    "hasMention",
    "mentionScopes",
    "encrypted",
    "bodySnippet",
]

PushSubscriptionProperty: TypeAlias = Literal[
    "id", "deviceClientId", "url", "keys", "verificationCode", "expires", "types", "chatPush"
]


class PushKeys(JMAPModel):
    """Web Push encryption keys (RFC 8291). Secret: left out of ``repr``."""

    p256dh: str = Field(alias="p256dh", repr=False)
    auth: str = Field(repr=False)


class ChatPushConfig(JMAPModel):
    """Per-account inline-push settings (``PushSubscription.chatPush[accountId]``).

    Used both as sent and as received; only the fields you set are sent.
    """

    kinds: list[str] | None = Field(None, description="Chat kinds; absent/null = all.")
    chat_ids: list[str] | None = Field(None, description="AND-ed with kinds; absent/null = all.")
    properties: list[str] | None = Field(
        None, description="Exact ChatMessageEntry fields to include (see ChatMessageEntryProperty)."
    )
    urgency: str | None = Field(None, description="Default normal; see PushUrgency.")
    mention_urgency: str | None = Field(None, description="Used when any entry mentions you.")


class PushSubscription(JMAPModel):
    """RFC 8620 §7.2 PushSubscription (+ ``chatPush``). ``url`` and ``keys`` are never
    returned by ``/get``. Only ``id`` is required."""

    id: str
    device_client_id: str | None = None
    url: str | None = None
    keys: PushKeys | None = Field(None, repr=False)
    verification_code: str | None = Field(None, repr=False)
    expires: str | None = None
    types: list[str] | None = None
    chat_push: dict[str, ChatPushConfig] | None = Field(
        None, description="accountId -> ChatPushConfig."
    )


class PushSubscriptionCreate(JMAPInput):
    """``PushSubscription/set`` create. The server then POSTs a `PushVerification`."""

    device_client_id: str
    url: str
    keys: PushKeys | NotGiven = Field(NOT_GIVEN, repr=False)
    expires: UTCDateInput | NotGiven = NOT_GIVEN
    types: list[str] | None | NotGiven = NOT_GIVEN
    chat_push: dict[Id, ChatPushConfig] | NotGiven = NOT_GIVEN


class PushSubscriptionUpdate(JMAPInput):
    """``PushSubscription/set`` update: verify, extend, retarget types or chatPush."""

    verification_code: str | NotGiven = Field(NOT_GIVEN, repr=False)
    expires: UTCDateInput | None | NotGiven = NOT_GIVEN
    types: list[str] | None | NotGiven = NOT_GIVEN
    chat_push: dict[Id, ChatPushConfig] | None | NotGiven = NOT_GIVEN


class PushSubscriptionGetResponse(GetList[PushSubscription]):
    """``PushSubscription/get`` response: a /get without accountId or state (RFC 8620 §7.2)."""


class PushSubscriptionSetResponse(SetOutcome[PushSubscription]):
    """``PushSubscription/set`` response: a /set without accountId or states."""


class PushPayload(JMAPModel):
    """Any push object; ``type_`` is the wire ``@type``."""

    type_: str = Field(alias="@type")


class StateChange(PushPayload):
    """``{"@type": "StateChange", "changed": {accountId: {TypeName: state}}}``."""

    type_: str = Field("StateChange", alias="@type")
    changed: dict[str, dict[str, str]]
    push_state: str | None = Field(None, description="WebSocket (RFC 8887) only.")

    def model_post_init(self, context: Any, /) -> None:
        """Mark the type discriminator as set, so ``to_wire()`` always sends it."""
        self.__pydantic_fields_set__.add("type_")


class PushVerification(PushPayload):
    """Sent to a new subscription's URL; echo ``verification_code`` back via update."""

    type_: str = Field("PushVerification", alias="@type")
    push_subscription_id: str
    verification_code: str = Field(repr=False)

    def model_post_init(self, context: Any, /) -> None:
        """Mark the type discriminator as set, so ``to_wire()`` always sends it."""
        self.__pydantic_fields_set__.add("type_")


class ChatMessageEntry(JMAPModel):
    """One message in a `ChatMessagePush`; fields present depend on ``properties``."""

    message_id: str | None = None
    chat_id: str | None = None
    chat_kind: str | None = None
    chat_name: str | None = Field(None, description="Absent for direct chats.")
    space_id: str | None = None
    space_name: str | None = None
    sender_id: str | None = Field(None, description="Authoritative sender identity.")
    sender_display_name: str | None = Field(None, description="Snapshot; display only.")
    sent_at: str | None = None
    has_mention: bool | None = None
    mention_scopes: list[str] | None = Field(None, description="A set of broadcast scopes.")
    encrypted: bool | None = None
    body_snippet: str | None = Field(None, description="Absent when encrypted.")


class ChatMessagePush(PushPayload):
    """Inline message push. ``state`` is the Message state *after* these messages: use it
    as ``sinceState``. Retries are identical; dedupe on ``message_id``."""

    type_: str = Field("ChatMessagePush", alias="@type")
    account_id: str
    state: str
    messages: list[ChatMessageEntry]

    def model_post_init(self, context: Any, /) -> None:
        """Mark the type discriminator as set, so ``to_wire()`` always sends it."""
        self.__pydantic_fields_set__.add("type_")


_PAYLOADS: dict[str, type[PushPayload]] = {
    "StateChange": StateChange,
    "PushVerification": PushVerification,
    "ChatMessagePush": ChatMessagePush,
}


def parse_push_payload(data: dict[str, Any]) -> PushPayload:
    """Parse a push body by its ``@type``; unknown types give a generic `PushPayload`."""
    cls = _PAYLOADS.get(str(data.get("@type")), PushPayload)
    return cls.model_validate(data)


class TypingEvent(JMAPModel):
    """EventSource ``typing`` event data. Ephemeral; hide after ~10 s without a refresh."""

    chat_id: str
    sender_id: str
    typing: bool


class PresenceEvent(JMAPModel):
    """EventSource ``presence`` event data; ``None`` status fields mean "no status"."""

    contact_id: str
    presence: str | None = None
    last_active_at: str | None = None
    status_text: str | None = None
    status_emoji: str | None = None


class PingEvent(JMAPModel):
    """EventSource ``ping`` event data (RFC 8620 §7.3)."""

    interval: int | None = None
