"""Capability URIs (``jmapchat.capabilities.CHAT`` …)."""

from jmapchat._core import (
    BLOB,
    BLOB2,
    CHAT,
    CHAT_PUSH,
    CHAT_WEBSOCKET,
    CORE,
    QUOTA,
    WEBSOCKET,
)

__all__ = ["BLOB", "BLOB2", "CHAT", "CHAT_PUSH", "CHAT_WEBSOCKET", "CORE", "QUOTA", "WEBSOCKET"]
