"""Capability URIs (``jmapchat.capabilities.CHAT`` …) and the request-level error URNs
(``ERROR_LIMIT`` …, RFC 8620 §3.6.1)."""

from jmapchat._core import (
    BLOB,
    BLOB2,
    CHAT,
    CHAT_PUSH,
    CHAT_WEBSOCKET,
    CORE,
    ERROR_LIMIT,
    ERROR_NOT_JSON,
    ERROR_NOT_REQUEST,
    ERROR_UNKNOWN_CAPABILITY,
    QUOTA,
    WEBSOCKET,
)

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
