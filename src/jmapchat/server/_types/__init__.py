"""One module per JMAP Chat data type; `register_all` wires them into a `Core`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._engine import Core

__all__ = ["register_all"]


def register_all(core: Core) -> None:
    from . import account, blob, chat, contact, emoji, message, misc, space

    contact.register(core)
    account.register(core)
    chat.register(core)
    message.register(core)
    space.register(core)
    emoji.register(core)
    misc.register(core)
    blob.register(core)
