"""Mentions, whose ``offset``/``length`` are **UTF-8 byte** counts, and helpers for them.

Python strings index code points, the wire counts bytes: ``"hi bøb"`` has the mention
``bøb`` at code point 3 but byte offset 3 and byte length 4. Build mentions with
`MessageText` or `mention_in` rather than by hand, and read them with `Mention.slice`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from pydantic import Field

from jmapchat._core import JMAPModel

from ._common import InvalidInputError

if TYPE_CHECKING:
    from .message import MessageCreate

__all__ = [
    "BroadcastMention",
    "Mention",
    "MentionRangeError",
    "MessageText",
    "broadcast_mention_in",
    "byte_offset",
    "check_mention_ranges",
    "mention_in",
    "utf8_len",
]


class MentionRangeError(InvalidInputError):
    """A mention's byte range does not fit the body (or splits a UTF-8 character)."""


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes (what ``maxBodyBytes`` and offsets count)."""
    return len(text.encode("utf-8"))


def byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of the code point at Python index ``index`` of ``text``."""
    return utf8_len(text[:index])


def _slice_bytes(body: str, offset: int, length: int) -> str:
    raw = body.encode("utf-8")
    if offset < 0 or length < 0 or offset + length > len(raw):
        raise MentionRangeError(
            f"mention bytes [{offset}, {offset + length}) exceed the body's {len(raw)} bytes"
        )
    try:
        # Decoding the prefix too checks that ``offset`` is on a character boundary.
        raw[:offset].decode("utf-8")
        return raw[offset : offset + length].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MentionRangeError(
            f"mention bytes [{offset}, {offset + length}) split a UTF-8 character"
        ) from exc


class _Ranged(JMAPModel):
    offset: int = Field(ge=0, description="Byte offset into the UTF-8 encoded body.")
    length: int = Field(ge=0, description="Length in UTF-8 bytes (not code points).")

    def slice(self, body: str) -> str:
        """The mentioned text in ``body``; `MentionRangeError` if the range does not fit."""
        return _slice_bytes(body, self.offset, self.length)

    def char_span(self, body: str) -> tuple[int, int]:
        """The ``(start, stop)`` Python string indices of the mention in ``body``."""
        start = len(_slice_bytes(body, 0, self.offset))
        return start, start + len(self.slice(body))


class Mention(_Ranged):
    """A per-user @mention: ``id`` is the mentioned ChatContact.id; offsets are bytes."""

    id: str = Field(description="ChatContact.id (userId) of the mentioned participant.")


class BroadcastMention(_Ranged):
    """``@everyone`` / ``@here`` / ``@admins``; ``scope`` stays ``str`` (see BroadcastScope)."""

    scope: str = Field(description="everyone | here | admins (unknown values are kept).")


def check_mention_ranges(body: str, ranged: list[Any] | None) -> None:
    """Raise `MentionRangeError` unless every mention fits inside ``body``."""
    for item in ranged or ():
        _slice_bytes(body, item.offset, item.length)


def _find(body: str, text: str, start: int) -> int:
    if not text:
        raise InvalidInputError("mention text must not be empty")
    index = body.find(text, start)
    if index < 0:
        raise InvalidInputError(f"{text!r} does not occur in the body")
    return index


def mention_in(body: str, text: str, contact_id: str, *, start: int = 0) -> Mention:
    """A `Mention` of ``contact_id`` for the first occurrence of ``text`` in ``body``.

    ``start`` is a Python (code point) index to search from, to pick a later occurrence.
    """
    index = _find(body, text, start)
    return Mention(id=contact_id, offset=byte_offset(body, index), length=utf8_len(text))


def broadcast_mention_in(body: str, text: str, scope: str, *, start: int = 0) -> BroadcastMention:
    """A `BroadcastMention` for the first occurrence of ``text`` (e.g. ``"@here"``)."""
    index = _find(body, text, start)
    return BroadcastMention(scope=scope, offset=byte_offset(body, index), length=utf8_len(text))


class MessageText:
    """Builder for a plain-text body plus correctly-offset mentions::

    t = MessageText().text("hi ").mention("@bøb", id="bob@example.com").text(" 👋")
    MessageCreate(chat_id=cid, body=t.body, mentions=t.mentions)
    # or: t.to_create(chat_id=cid)
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._bytes = 0
        self.mentions: list[Mention] = []
        self.broadcast_mentions: list[BroadcastMention] = []

    def _append(self, text: str) -> int:
        offset = self._bytes
        self._parts.append(text)
        self._bytes += utf8_len(text)
        return offset

    def text(self, text: str) -> Self:
        """Append plain ``text``."""
        self._append(text)
        return self

    def mention(self, text: str, *, id: str) -> Self:
        """Append ``text`` (e.g. ``"@bob"``) and a `Mention` of contact ``id`` covering it."""
        if not text:
            raise InvalidInputError("mention text must not be empty")
        offset = self._append(text)
        self.mentions.append(Mention(id=id, offset=offset, length=utf8_len(text)))
        return self

    def broadcast(self, scope: str, text: str | None = None) -> Self:
        """Append ``@<scope>`` (or ``text``) and a `BroadcastMention` covering it."""
        text = text if text is not None else "@" + scope
        offset = self._append(text)
        self.broadcast_mentions.append(
            BroadcastMention(scope=scope, offset=offset, length=utf8_len(text))
        )
        return self

    @property
    def body(self) -> str:
        """The message body built so far."""
        return "".join(self._parts)

    def to_create(self, *, chat_id: str, **kwargs: Any) -> MessageCreate:
        """A `MessageCreate` (``text/plain``) carrying this body and its mentions."""
        from .message import MessageCreate

        if self.mentions:
            kwargs.setdefault("mentions", list(self.mentions))
        if self.broadcast_mentions:
            kwargs.setdefault("broadcast_mentions", list(self.broadcast_mentions))
        return MessageCreate(chat_id=chat_id, body=self.body, **kwargs)
