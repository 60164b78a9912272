"""What both push transports share: state tokens and the delivery-time rules for ephemeral
events (draft-atwood-jmap-chat-wss §ChatTypingEvent, §ChatPresenceEvent, §Security).

Authorization is checked when an event is about to leave the server, not when it was
emitted: membership, ``receiveTypingIndicators`` and blocks may have changed since
(compliance 8.2–8.4). The EventSource stream and the WebSocket endpoint both call
`typing_allowed` / `presence_allowed` right before writing a frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._config import PRESENCE_INTERVAL
from ._context import Ctx
from ._types._access import channel_allows, load_space, member_of
from ._types._chats import load_group
from ._types._common import is_blocked
from ._types.misc import PUSH_TYPES

if TYPE_CHECKING:
    from ._context import Core

__all__ = [
    "TYPING_INTERVAL",
    "PresenceLimiter",
    "TypingLimiter",
    "encode_states",
    "parse_states",
    "presence_allowed",
    "states",
    "typing_allowed",
]

# At most one ChatTypingEvent(typing=true) per sender per chat per this many seconds.
TYPING_INTERVAL = 3.0


def states(core: Core, acc: str, types: list[str] | tuple[str, ...] = PUSH_TYPES) -> dict[str, str]:
    """The current state string of each of ``types`` in account ``acc``."""
    seqs = core.store.modseqs(acc)
    return {t: str(seqs.get(t, 0)) for t in types}


def encode_states(value: dict[str, str]) -> str:
    """An opaque token for a set of states (the EventSource id and the WS pushState)."""
    return ".".join(f"{t}:{s}" for t, s in value.items())


def parse_states(token: str) -> dict[str, str]:
    """`encode_states` reversed; garbage parts are ignored (so they count as changed)."""
    out = {}
    for part in token.split("."):
        t, _, s = part.partition(":")
        if t and s.isdigit():
            out[t] = s
    return out


def typing_allowed(core: Core, acc: str, data: dict[str, Any]) -> bool:
    """May a typing event ``data`` ({chatId, senderId, typing}) reach account ``acc`` now?

    Only while the owner is still a member (for a channel: may still view it), has not
    turned ``receiveTypingIndicators`` off (direct and group chats only) and has not
    blocked the sender."""
    user = core.users_by_account.get(acc)
    chat_id, sender = data.get("chatId"), data.get("senderId")
    if user is None or not isinstance(chat_id, str) or not isinstance(sender, str):
        return False
    if sender == user:
        return False
    ctx = Ctx(core, user, {})
    copy = core.store.get(acc, "Chat", chat_id)
    if copy is None or is_blocked(ctx, acc, sender):
        return False
    kind = copy.get("kind")
    if kind == "direct":
        return copy.get("receiveTypingIndicators") is not False
    if kind == "group":
        gdef = load_group(ctx, chat_id)
        members = {m.get("id") for m in (gdef or {}).get("members", [])}
        return user in members and copy.get("receiveTypingIndicators") is not False
    if kind == "channel":
        space = load_space(ctx, copy.get("spaceId") or "")
        return (
            space is not None
            and member_of(space, user) is not None
            and channel_allows(ctx, space["id"], chat_id, user, "view")
        )
    return False


def presence_allowed(core: Core, acc: str, data: dict[str, Any]) -> bool:
    """May a presence event about ``data["contactId"]`` reach account ``acc`` now? Only
    for a known contact the owner has not blocked."""
    contact_id = data.get("contactId")
    if not isinstance(contact_id, str) or acc not in core.users_by_account:
        return False
    contact = core.store.get(acc, "ChatContact", contact_id)
    return contact is not None and not contact.get("blocked")


class TypingLimiter:
    """Per-connection outbound typing rate limit (wss draft §ChatTypingEvent).

    ``typing: true`` from one sender in one chat passes at most once per
    `TYPING_INTERVAL`; ``typing: false`` passes only after a delivered ``true`` (so a
    sender alternating true/false cannot flood, and no indicator is left stuck on)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._last_true: dict[tuple[str, str], float] = {}
        self._open: set[tuple[str, str]] = set()

    def allow(self, data: dict[str, Any]) -> bool:
        key = (str(data.get("chatId")), str(data.get("senderId")))
        if not data.get("typing"):
            if key in self._open:
                self._open.discard(key)
                return True
            return False
        now = self._clock()
        last = self._last_true.get(key)
        if last is not None and now - last < TYPING_INTERVAL:
            return False
        self._last_true[key] = now
        self._open.add(key)
        return True


class PresenceLimiter:
    """Per-connection outbound presence rate limit (wss draft §ChatPresenceEvent: at most
    one event per contact per ``interval`` seconds SHOULD be delivered).

    Nothing that matters is lost: an event inside a contact's window is held, a newer one
    replacing it (each event is a full snapshot of the contact's presence), and the held
    one is delivered when the window ends — so the last state always arrives, at most
    ``interval`` seconds late, and a contact flapping between states costs one event per
    window. ``interval`` 0 delivers everything at once.
    """

    def __init__(
        self, interval: float = PRESENCE_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sent: dict[str, float] = {}  # contact -> when its window started
        self._held: dict[str, dict[str, Any]] = {}  # contact -> latest held snapshot

    def offer(self, data: dict[str, Any]) -> bool:
        """True: deliver ``data`` now (its contact's window starts); False: it is held."""
        contact = str(data.get("contactId"))
        now = self._clock()
        last = self._sent.get(contact)
        if self.interval <= 0 or last is None or now - last >= self.interval:
            self._sent[contact] = now
            self._held.pop(contact, None)  # superseded by this newer snapshot
            return True
        self._held[contact] = data
        return False

    def due(self) -> list[dict[str, Any]]:
        """The held events whose window has ended, oldest window first; each restarts
        its contact's window."""
        now = self._clock()
        ready = [c for c in self._held if now - self._sent[c] >= self.interval]
        ready.sort(key=self._sent.__getitem__)
        out = []
        for contact in ready:
            out.append(self._held.pop(contact))
            self._sent[contact] = now
        return out

    def next_due(self) -> float | None:
        """Seconds until the next held event is due (0 if one is), None if none is held."""
        if not self._held:
            return None
        now: float = self._clock()
        return max(0.0, min(self._sent[c] + self.interval - now for c in self._held))
