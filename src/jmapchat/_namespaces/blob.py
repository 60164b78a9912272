"""``req.blob``: ``Blob/lookup`` and ``Blob/convert`` (JMAP blob extension).

Both declare ``urn:ietf:params:jmap:blob2`` (draft-ietf-jmap-blobext, which the chat
draft recommends and which obsoletes RFC 9404). For a server that only advertises the
RFC 9404 capability ``urn:ietf:params:jmap:blob``, pass ``capability=BLOB`` to
``lookup``. Uploads and downloads are HTTP, not methods: see the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from jmapchat._core import (
    BLOB,
    BLOB2,
    NOT_GIVEN,
    Call,
    Id,
    IdsArg,
    LocalProtocolError,
    NotGiven,
    Ref,
)
from jmapchat.models import BlobConvertResponse, BlobInfo, BlobLookupResponse
from jmapchat.models import ids as _idgen

from ._base import Namespace, check_ids, require_text

__all__ = ["BlobMethods"]


class BlobMethods(Namespace):
    """Blob extension methods (``urn:ietf:params:jmap:blob2``)."""

    type_name = "Blob"
    capability = BLOB2
    model = BlobInfo

    def lookup(
        self,
        ids: IdsArg,
        *,
        type_names: Sequence[str] = ("Message",),
        capability: Literal[
            "urn:ietf:params:jmap:blob2", "urn:ietf:params:jmap:blob"
        ] = "urn:ietf:params:jmap:blob2",
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[BlobLookupResponse]:
        """``Blob/lookup``: which objects of ``type_names`` (default ``["Message"]``)
        reference each blob. Inaccessible blobs come back with empty ``matchedIds``."""
        if not isinstance(ids, Ref):
            ids = check_ids(ids, "Blob/lookup", "ids")
        names = check_ids(type_names, "Blob/lookup", "type_names")
        if capability not in (BLOB, BLOB2):
            raise LocalProtocolError(f"Blob/lookup: unknown blob capability {capability!r}")
        args = self._args(account_id, type_names=names, ids=ids)
        return self._request.add_call(
            Call,
            method="Blob/lookup",
            args=args,
            response=BlobLookupResponse,
            using=(capability,),
            call_id=call_id,
        )

    def convert(
        self,
        blob_id: Id,
        type: str,
        *,
        width: int | NotGiven = NOT_GIVEN,
        height: int | NotGiven = NOT_GIVEN,
        creation_id: str | None = None,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[BlobConvertResponse]:
        """``Blob/convert`` with an ``imageConvert`` recipe (e.g. a thumbnail).

        One conversion, keyed by ``creation_id`` (default: a fresh ULID); the new
        blob is ``result.created[key]``, a failure ``result.not_created[key]``.
        """
        require_text(blob_id, "Blob/convert", "blob_id")
        require_text(type, "Blob/convert", "type")
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, NotGiven) and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                raise LocalProtocolError(
                    f"Blob/convert: {name} must be a positive int, not {value!r}"
                )
        recipe: dict[str, Any] = {"blobId": blob_id, "type": type}
        if not isinstance(width, NotGiven):
            recipe["width"] = width
        if not isinstance(height, NotGiven):
            recipe["height"] = height
        key = creation_id if creation_id is not None else _idgen.creation_id()
        require_text(key, "Blob/convert", "creation_id")
        args = self._args(account_id, create={key: {"imageConvert": recipe}})
        return self._add(Call, "convert", args, BlobConvertResponse, call_id)
