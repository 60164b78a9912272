"""The server's configuration: the RFC 8620 core limits it advertises and enforces
(`ServerLimits`) and the JMAP Chat limits and features (`ChatSettings`). A leaf module:
everything else in the server may import it."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from .._core import CoreCapability

__all__ = ["COLLATIONS", "ChatSettings", "ServerLimits"]


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


@dataclass
class ChatSettings:
    max_body_bytes: int = 100_000
    max_attachment_bytes: int = 50_000_000
    max_attachments_per_message: int = 20
    supported_body_types: tuple[str, ...] = (
        "text/plain",
        "text/markdown",
        "application/jmap-chat-rich",
        "application/mls-ciphertext",
    )
    supports_threads: bool = True
    max_group_members: int = 256
    max_space_members: int = 10_000
    max_space_roles: int = 250
    max_space_channels: int = 500
    max_space_categories: int = 100
    max_snippet_bytes: int = 200
