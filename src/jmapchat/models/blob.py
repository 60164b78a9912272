"""Blob results: the upload response (with ``sha256``), Blob/upload, Blob/get, Blob/copy,
Blob/lookup and Blob/convert."""

from __future__ import annotations

import base64
import builtins
from typing import Literal

from pydantic import Field

from jmapchat._core import NOT_GIVEN, JMAPInput, JMAPModel, ListOrNull, NotGiven, SetError

__all__ = [
    "BlobConvertResponse",
    "BlobCopyResponse",
    "BlobData",
    "BlobGetResponse",
    "BlobInfo",
    "BlobLookupItem",
    "BlobLookupResponse",
    "BlobProperty",
    "BlobSlice",
    "BlobUploadResponse",
    "UploadResponse",
]

BlobProperty = Literal[
    "data", "data:asText", "data:asBase64", "size", "digest:sha", "digest:sha-256"
]
"""What ``Blob/get`` can return (RFC 9404 §4.2); the default is ``data`` and ``size``."""


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
    list: ListOrNull[BlobLookupItem]
    not_found: ListOrNull[str] = Field(default_factory=builtins.list)


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


class BlobSlice(JMAPInput):
    """A ``Blob/upload`` data source taken from an existing blob (optionally a byte range).

    ``blob_id`` may be ``"#key"`` of a blob created earlier in the same ``Blob/upload``.
    """

    blob_id: str
    offset: int | NotGiven = NOT_GIVEN
    length: int | NotGiven = NOT_GIVEN


class BlobUploadResponse(JMAPModel):
    """``Blob/upload`` response (RFC 9404): new blobs (``id``, ``type``, ``size``) by key."""

    account_id: str
    created: dict[str, BlobInfo] | None = None
    not_created: dict[str, SetError] | None = None


class BlobData(JMAPModel):
    """One ``Blob/get`` result: the (ranged) data as text and/or base64, size, digests.

    ``is_encoding_problem`` is true when text was asked for but the bytes are not UTF-8
    (``data_as_text`` is then None); ``is_truncated`` when the range ran past the end.
    """

    id: str
    data_as_text: str | None = Field(None, alias="data:asText")
    data_as_base64: str | None = Field(None, alias="data:asBase64")
    is_encoding_problem: bool = False
    is_truncated: bool = False
    size: int | None = None
    digest_sha: str | None = Field(None, alias="digest:sha")
    digest_sha256: str | None = Field(None, alias="digest:sha-256")

    @property
    def content(self) -> bytes | None:
        """The returned bytes, from whichever form the server sent (None if neither)."""
        if self.data_as_base64 is not None:
            return base64.b64decode(self.data_as_base64)
        if self.data_as_text is not None:
            return self.data_as_text.encode("utf-8")
        return None


class BlobGetResponse(JMAPModel):
    """``Blob/get`` response (RFC 9404)."""

    account_id: str
    list: ListOrNull[BlobData]
    not_found: ListOrNull[str] = Field(default_factory=builtins.list)


class BlobCopyResponse(JMAPModel):
    """``Blob/copy`` response (RFC 8620 §6.3): old id → new id, or a SetError."""

    from_account_id: str
    account_id: str
    copied: dict[str, str] | None = None
    not_copied: dict[str, SetError] | None = None
