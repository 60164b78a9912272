"""Capability URIs used by JMAP core and JMAP Chat, and the request-level error URNs
(RFC 8620 §3.6.1) both the client and the reference server speak."""

from __future__ import annotations

from typing import Final

__all__ = [
    "BLOB",
    "BLOB2",
    "CHAT",
    "CHAT_PUSH",
    "CHAT_WEBSOCKET",
    "CORE",
    "ERROR_LIMIT",
    "ERROR_NOT_JSON",
    "ERROR_NOT_REQUEST",
    "ERROR_UNKNOWN_CAPABILITY",
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

ERROR_UNKNOWN_CAPABILITY: Final = "urn:ietf:params:jmap:error:unknownCapability"
ERROR_NOT_JSON: Final = "urn:ietf:params:jmap:error:notJSON"
ERROR_NOT_REQUEST: Final = "urn:ietf:params:jmap:error:notRequest"
ERROR_LIMIT: Final = "urn:ietf:params:jmap:error:limit"
