"""Capability objects of JMAP Chat in the Session (account-level values).

The session-level values of ``urn:ietf:params:jmap:chat`` and ``…:chat:push`` are
``{}``; the account-level values are below. Unknown fields are kept.
"""

from __future__ import annotations

from pydantic import Field

from jmapchat._core import JMAPModel

__all__ = [
    "ChatCapability",
    "ChatPushCapability",
    "ChatWebSocketCapability",
    "QuotaCapability",
]


class ChatCapability(JMAPModel):
    """``accountCapabilities["urn:ietf:params:jmap:chat"]``."""

    max_body_bytes: int | None = Field(None, description="Limit on the body's UTF-8 byte length.")
    max_attachment_bytes: int | None = None
    max_attachments_per_message: int | None = None
    supported_body_types: list[str] = Field(
        default_factory=lambda: ["text/plain"], description="Always includes text/plain."
    )
    supports_threads: bool = False
    role: str | None = Field(None, description='Federation: "owner" or "peer".')


class ChatPushCapability(JMAPModel):
    """``accountCapabilities["urn:ietf:params:jmap:chat:push"]``."""

    max_snippet_bytes: int | None = None
    supported_urgency_values: list[str] = Field(default_factory=lambda: ["normal", "high"])
    max_messages_per_push: int | None = None


class ChatWebSocketCapability(JMAPModel):
    """``capabilities["urn:ietf:params:jmap:chat:websocket"]``: ``{}`` (presence is the signal)."""


class QuotaCapability(JMAPModel):
    """``urn:ietf:params:jmap:quota`` capability value: ``{}`` (RFC 9425)."""
