"""``application/jmap-chat-rich`` bodies: typed spans, a parser and a builder.

The Message ``body`` is a JSON *string* ``{"spans": [...]}``. Every span has ``type``
and ``text``; unknown span types parse as `UnknownSpan` (all fields kept) and render
as their ``text``. Mentions live inline here, so ``Message.mentions`` stays empty::

    body = RichText().text("Hi ").mention("@alice", user_id="alice").bold("now").build()
    MessageCreate.rich(chat_id=cid, body=body)
"""

from __future__ import annotations

import json
from typing import Any, Literal, Self, TypeAlias

from pydantic import Field, SerializeAsAny, field_validator

from jmapchat._core import JMAPModel

from ._common import InvalidInputError

__all__ = [
    "BlockquoteSpan",
    "BoldItalicSpan",
    "BoldSpan",
    "BroadcastSpan",
    "CodeBlockSpan",
    "CodeSpan",
    "ItalicSpan",
    "LinkSpan",
    "MentionSpan",
    "RichBody",
    "RichSpan",
    "RichText",
    "SpanType",
    "TextSpan",
    "UnknownSpan",
]

SpanType: TypeAlias = Literal[
    "text",
    "bold",
    "italic",
    "bold-italic",
    "code",
    "codeblock",
    "blockquote",
    "mention",
    "broadcast",
    "link",
]


class RichSpan(JMAPModel):
    """Base of all spans: ``type`` and ``text`` (always present; the plain rendering)."""

    type: str
    text: str

    def model_post_init(self, context: Any, /) -> None:
        """Mark the type discriminator as set, so ``to_wire()`` always sends it."""
        self.__pydantic_fields_set__.add("type")


class TextSpan(RichSpan):
    """Plain text."""

    type: str = "text"


class BoldSpan(RichSpan):
    """Bold text."""

    type: str = "bold"


class ItalicSpan(RichSpan):
    """Italic text."""

    type: str = "italic"


class BoldItalicSpan(RichSpan):
    """Bold italic text."""

    type: str = "bold-italic"


class CodeSpan(RichSpan):
    """Inline code."""

    type: str = "code"


class CodeBlockSpan(RichSpan):
    """A code block; ``lang`` is a syntax-highlighting hint."""

    type: str = "codeblock"
    lang: str | None = Field(None, description="Syntax-highlighting hint.")


class BlockquoteSpan(RichSpan):
    """A quotation."""

    type: str = "blockquote"


class MentionSpan(RichSpan):
    """A mention of the user ``user_id`` (a ChatContact id)."""

    type: str = "mention"
    user_id: str = Field(description="ChatContact.id of the mentioned user.")


class BroadcastSpan(RichSpan):
    """A broadcast mention: ``scope`` is ``everyone``, ``here`` or ``admins``."""

    type: str = "broadcast"
    scope: str = Field(description="everyone | here | admins.")


class LinkSpan(RichSpan):
    """A link to ``uri`` (untrusted: check it before opening)."""

    type: str = "link"
    uri: str = Field(description="Untrusted.")


class UnknownSpan(RichSpan):
    """A span type this library does not know; rendered as its ``text``."""


_SPAN_CLASSES: dict[str, type[RichSpan]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        TextSpan,
        BoldSpan,
        ItalicSpan,
        BoldItalicSpan,
        CodeSpan,
        CodeBlockSpan,
        BlockquoteSpan,
        MentionSpan,
        BroadcastSpan,
        LinkSpan,
    )
}


def _parse_span(value: Any) -> Any:
    if isinstance(value, RichSpan) or not isinstance(value, dict):
        return value
    cls = _SPAN_CLASSES.get(str(value.get("type")), UnknownSpan)
    try:
        return cls.model_validate(value)
    except ValueError:
        if cls is UnknownSpan:
            raise
        # A known type missing its extra field (e.g. mention without userId): keep it
        # rather than fail the whole body; it still renders as text.
        return UnknownSpan.model_validate(value)


class RichBody(JMAPModel):
    """The parsed body object: ``{"spans": [...]}``."""

    spans: list[SerializeAsAny[RichSpan]] = Field(default_factory=list)

    @field_validator("spans", mode="before")
    @classmethod
    def _typed_spans(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_parse_span(v) for v in value]
        return value

    @classmethod
    def parse(cls, body: str | bytes) -> RichBody:
        """Parse a Message ``body`` string (JSON) into spans."""
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("a rich body must be a JSON object with 'spans'")
        return cls.model_validate(data)

    def dumps(self) -> str:
        """The JSON string for ``Message.body`` (compact, non-ASCII kept)."""
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":"))

    def plain_text(self) -> str:
        """All span texts concatenated: a plaintext rendering (unknown spans included)."""
        return "".join(span.text for span in self.spans)

    @property
    def mentioned_user_ids(self) -> list[str]:
        """The ``user_id`` of every mention span, in order."""
        return [s.user_id for s in self.spans if isinstance(s, MentionSpan)]

    @property
    def broadcast_scopes(self) -> list[str]:
        """The ``scope`` of every broadcast span, in order."""
        return [s.scope for s in self.spans if isinstance(s, BroadcastSpan)]


class RichText:
    """Fluent builder for a `RichBody`."""

    def __init__(self) -> None:
        self._spans: list[RichSpan] = []

    def _add(self, span: RichSpan) -> Self:
        self._spans.append(span)
        return self

    def text(self, text: str) -> Self:
        """Append plain text."""
        return self._add(TextSpan(text=text))

    def bold(self, text: str) -> Self:
        """Append bold text."""
        return self._add(BoldSpan(text=text))

    def italic(self, text: str) -> Self:
        """Append italic text."""
        return self._add(ItalicSpan(text=text))

    def bold_italic(self, text: str) -> Self:
        """Append bold italic text."""
        return self._add(BoldItalicSpan(text=text))

    def code(self, text: str) -> Self:
        """Append inline code."""
        return self._add(CodeSpan(text=text))

    def codeblock(self, text: str, lang: str | None = None) -> Self:
        """Append a code block (``lang``: a highlighting hint)."""
        if lang is None:
            return self._add(CodeBlockSpan(text=text))
        return self._add(CodeBlockSpan(text=text, lang=lang))

    def blockquote(self, text: str) -> Self:
        """Append a quotation."""
        return self._add(BlockquoteSpan(text=text))

    def mention(self, text: str, *, user_id: str) -> Self:
        """Append a mention of ``user_id`` shown as ``text``."""
        if not user_id:
            raise InvalidInputError("a mention span needs a user_id")
        return self._add(MentionSpan(text=text, user_id=user_id))

    def broadcast(self, scope: str, text: str | None = None) -> Self:
        """Append a broadcast mention of ``scope`` (shown as ``@<scope>`` unless ``text``)."""
        return self._add(BroadcastSpan(text=text if text is not None else "@" + scope, scope=scope))

    def link(self, text: str, uri: str) -> Self:
        """Append a link to ``uri`` shown as ``text``."""
        return self._add(LinkSpan(text=text, uri=uri))

    def span(self, span: RichSpan) -> Self:
        """Append any span (including a vendor `UnknownSpan`)."""
        return self._add(span)

    def build(self) -> RichBody:
        """The `RichBody` built so far."""
        return RichBody(spans=list(self._spans))

    def dumps(self) -> str:
        """The `RichBody` as compact JSON (the ``body`` of a rich-text message)."""
        return self.build().dumps()
