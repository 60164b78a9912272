"""Re-export of the capability URIs the server uses (from the core)."""

from __future__ import annotations

from .._core import BLOB2, CHAT, CHAT_PUSH, CORE, QUOTA

__all__ = ["BLOB2", "CHAT", "CHAT_PUSH", "CORE", "QUOTA"]
