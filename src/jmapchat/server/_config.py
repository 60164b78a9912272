"""The server's configuration, as the session models the client reads it: the RFC 8620
core limits (`ServerLimits`, a `CoreCapability`), the JMAP Chat account capability and
the limits enforced beside it (`ChatSettings`, a `ChatCapability`) and chat push
(`ChatPushSettings`). A leaf module: everything else in the server may import it."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from jmapchat.models import ChatCapability, ChatPushCapability, PushUrgency

from .._core import CoreCapability

__all__ = ["COLLATIONS", "PRESENCE_INTERVAL", "ChatPushSettings", "ChatSettings", "ServerLimits"]


PRESENCE_INTERVAL = 30.0
"""At most one ChatPresenceEvent per contact per this many seconds per connection (the wss
draft's SHOULD); `ChatServer(presence_interval=...)` sets it per server."""

COLLATIONS = ("i;unicode-casemap", "i;ascii-casemap", "i;octet", "i;ascii-numeric")
_LIMITS = tuple(name for name in CoreCapability.model_fields if name.startswith("max_"))


class ServerLimits(CoreCapability):
    """The RFC 8620 core capability the server advertises and enforces: the client's
    `CoreCapability` (same names, same defaults), frozen, every limit a positive
    integer, and the collations the server implements."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    collation_algorithms: list[str] = Field(default_factory=lambda: list(COLLATIONS))

    @field_validator(*_LIMITS, mode="before")
    @classmethod
    def _positive(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{info.field_name} must be a positive integer")
        return value


class ChatSettings(ChatCapability):
    """The chat account capability the server advertises (the client's `ChatCapability`
    with the server's values), then the limits it enforces without advertising them."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = 100_000
    max_attachment_bytes: int = 50_000_000
    max_attachments_per_message: int = 20
    supported_body_types: list[str] = Field(
        default_factory=lambda: [
            "text/plain",
            "text/markdown",
            "application/jmap-chat-rich",
            "application/mls-ciphertext",
        ]
    )
    supports_threads: bool = True
    role: str | None = "owner"

    max_group_members: int = 256
    max_space_members: int = 10_000
    max_space_roles: int = 250
    max_space_channels: int = 500
    max_space_categories: int = 100

    def advertised(self) -> dict[str, Any]:
        """The ``accountCapabilities`` value: the `ChatCapability` fields only."""
        return self.model_dump(mode="json", by_alias=True, include=set(ChatCapability.model_fields))


class ChatPushSettings(ChatPushCapability):
    """The chat push account capability the server advertises and honours."""

    model_config = ConfigDict(extra="forbid")

    max_snippet_bytes: int = 200
    supported_urgency_values: list[str] = Field(default_factory=lambda: list(get_args(PushUrgency)))
    max_messages_per_push: int = 1

    def advertised(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
