"""Blob results: the upload response (with ``sha256``), Blob/lookup and Blob/convert."""

from __future__ import annotations

import builtins

from pydantic import Field

from jmapchat._core import JMAPModel, SetError

__all__ = [
    "BlobConvertResponse",
    "BlobInfo",
    "BlobLookupItem",
    "BlobLookupResponse",
    "UploadResponse",
]


class UploadResponse(JMAPModel):
    """Reply to a POST on ``uploadUrl``: RFC 8620 §6.1 plus ``sha256`` (draft-atwood-jmap-cid).

    ``account_id`` is optional because the chat draft's example omits it.
    """

    account_id: str | None = None
    blob_id: str
    type: str
    size: int
    sha256: str | None = Field(None, description="Lowercase hex; verify against your bytes.")


class BlobLookupItem(JMAPModel):
    """One ``Blob/lookup`` result: which objects (by type name) reference the blob."""

    id: str = Field(description="The blobId.")
    matched_ids: dict[str, list[str]] = Field(default_factory=dict)


class BlobLookupResponse(JMAPModel):
    """``Blob/lookup`` response (JMAP blob extension; ``Message`` is a registered type)."""

    account_id: str
    list: list[BlobLookupItem]
    not_found: builtins.list[str] = Field(default_factory=builtins.list)


class BlobInfo(JMAPModel):
    """A blob produced by ``Blob/convert`` (e.g. a thumbnail)."""

    id: str = Field(description="The new blobId.")
    type: str | None = None
    size: int | None = None


class BlobConvertResponse(JMAPModel):
    """``Blob/convert`` response: created blobs keyed by creation id, failures as SetErrors."""

    account_id: str
    created: dict[str, BlobInfo] | None = None
    not_created: dict[str, SetError] | None = None
