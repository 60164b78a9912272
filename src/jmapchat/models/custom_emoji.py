"""CustomEmoji: server-global or Space-scoped emoji images for reactions."""

from __future__ import annotations

from typing import Literal, Self, TypeAlias

from pydantic import model_validator

from jmapchat._core import NOT_GIVEN, Id, JMAPInput, JMAPModel, NotGiven

from ._common import check_emoji_name

__all__ = [
    "CustomEmoji",
    "CustomEmojiCreate",
    "CustomEmojiFilter",
    "CustomEmojiProperty",
    "CustomEmojiSortProperty",
    "CustomEmojiUpdate",
]

CustomEmojiProperty: TypeAlias = Literal[
    "id", "name", "blobId", "spaceId", "createdBy", "createdAt"
]
CustomEmojiSortProperty: TypeAlias = Literal["name"]


class CustomEmoji(JMAPModel):
    """A custom emoji; ``space_id`` absent means server-global. Only ``id`` is required."""

    id: str
    name: str | None = None
    blob_id: str | None = None
    space_id: str | None = None
    created_by: str | None = None
    created_at: str | None = None


class CustomEmojiCreate(JMAPInput):
    """``CustomEmoji/set`` create. ``name``: lowercase letters, digits, ``-``, ``_``; no colons.

    A duplicate name in scope may fail with ``alreadyExists`` (+ ``existingId``).
    """

    name: str
    blob_id: Id
    space_id: Id | NotGiven = NOT_GIVEN

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_emoji_name(self.name)
        return self


class CustomEmojiUpdate(JMAPInput):
    """``CustomEmoji/set`` update: ``name`` and ``blob_id``."""

    name: str | NotGiven = NOT_GIVEN
    blob_id: Id | NotGiven = NOT_GIVEN

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_emoji_name(self.name)
        return self


class CustomEmojiFilter(JMAPInput):
    """``CustomEmoji/query`` FilterCondition (no ``space_id``: all, including global)."""

    space_id: Id | NotGiven = NOT_GIVEN
