"""Capability URIs used by JMAP core and JMAP Chat."""

from __future__ import annotations

from typing import Final

__all__ = [
    "BLOB",
    "BLOB2",
    "CHAT",
    "CHAT_PUSH",
    "CHAT_WEBSOCKET",
    "CORE",
    "QUOTA",
    "WEBSOCKET",
]

CORE: Final = "urn:ietf:params:jmap:core"
CHAT: Final = "urn:ietf:params:jmap:chat"
CHAT_PUSH: Final = "urn:ietf:params:jmap:chat:push"
CHAT_WEBSOCKET: Final = "urn:ietf:params:jmap:chat:websocket"
WEBSOCKET: Final = "urn:ietf:params:jmap:websocket"
QUOTA: Final = "urn:ietf:params:jmap:quota"
BLOB: Final = "urn:ietf:params:jmap:blob"
BLOB2: Final = "urn:ietf:params:jmap:blob2"
