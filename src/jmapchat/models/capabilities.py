"""Capability objects of JMAP Chat in the Session (account-level values).

The session-level values of ``urn:ietf:params:jmap:chat`` and ``…:chat:push`` are
``{}``; the account-level values are below. Unknown fields are kept.
"""

from __future__ import annotations

from pydantic import Field

from jmapchat._core import ChatAccountCapability, JMAPModel

__all__ = [
    "ChatCapability",
    "ChatPushCapability",
    "ChatWebSocketCapability",
    "QuotaCapability",
]


class ChatCapability(ChatAccountCapability):
    """``accountCapabilities["urn:ietf:params:jmap:chat"]`` (the session's
    `ChatAccountCapability`, under its models name)."""


class ChatPushCapability(JMAPModel):
    """``accountCapabilities["urn:ietf:params:jmap:chat:push"]``."""

    max_snippet_bytes: int | None = None
    supported_urgency_values: list[str] = Field(default_factory=lambda: ["normal", "high"])
    max_messages_per_push: int | None = None


class ChatWebSocketCapability(JMAPModel):
    """``capabilities["urn:ietf:params:jmap:chat:websocket"]``: ``{}`` (presence is the signal)."""


class QuotaCapability(JMAPModel):
    """``urn:ietf:params:jmap:quota`` capability value: ``{}`` (RFC 9425)."""
