"""One module per JMAP Chat data type; `register_all` wires them into a `Core`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import (
    account,
    blob,
    chat,
    contact,
    emoji,
    message,
    misc,
    space,
    space_ban,
    space_invite,
)

if TYPE_CHECKING:
    from .._context import Core

__all__ = ["register_all"]


def register_all(core: Core) -> None:
    contact.register(core)
    account.register(core)
    chat.register(core)
    message.register(core)
    space.register(core)
    space_invite.register(core)
    space_ban.register(core)
    emoji.register(core)
    misc.register(core)
    blob.register(core)
