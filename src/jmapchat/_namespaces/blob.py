"""``req.blob``: ``Blob/upload``, ``Blob/get``, ``Blob/lookup``, ``Blob/convert`` (JMAP
blob extension) and ``Blob/copy`` (RFC 8620 §6.3).

The extension methods declare ``urn:ietf:params:jmap:blob2`` (draft-ietf-jmap-blobext,
which the chat draft recommends and which obsoletes RFC 9404); for a server that only
advertises the RFC 9404 capability ``urn:ietf:params:jmap:blob``, pass ``capability=BLOB``.
``Blob/copy`` is core JMAP. HTTP uploads and downloads are on the client.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from jmapchat._core import (
    BLOB,
    BLOB2,
    CORE,
    NOT_GIVEN,
    Call,
    Id,
    IdsArg,
    JMAPModel,
    LocalProtocolError,
    NotGiven,
    Ref,
)
from jmapchat.models import (
    BlobConvertResponse,
    BlobCopyResponse,
    BlobGetResponse,
    BlobInfo,
    BlobLookupResponse,
    BlobProperty,
    BlobSlice,
    BlobUploadResponse,
)
from jmapchat.models import ids as _idgen

from ._base import Namespace, check_ids, expect_success, require_text

__all__ = ["BlobMethods"]


R = TypeVar("R", bound=JMAPModel)

BlobCapability = Literal["urn:ietf:params:jmap:blob2", "urn:ietf:params:jmap:blob"]


def _blob_capability(method: str, capability: str) -> str:
    if capability not in (BLOB, BLOB2):
        raise LocalProtocolError(f"{method}: unknown blob capability {capability!r}")
    return capability


def _uint(method: str, name: str, value: Any) -> None:
    if not isinstance(value, NotGiven) and (
        isinstance(value, bool) or not isinstance(value, int) or value < 0
    ):
        raise LocalProtocolError(f"{method}: {name} must be an int >= 0, not {value!r}")


class BlobMethods(Namespace):
    """Blob extension methods (``urn:ietf:params:jmap:blob2``) and ``Blob/copy``."""

    type_name = "Blob"
    capability = BLOB2
    model = BlobInfo

    def _call(
        self,
        method: str,
        args: dict[str, Any],
        response: type[R],
        capability: str,
        call_id: str | None,
    ) -> Call[R]:
        """One call that declares ``capability`` (blob, blob2 or core for Blob/copy)."""
        return self._request.add_call(
            Call, method=method, args=args, response=response, using=(capability,), call_id=call_id
        )

    def upload(
        self,
        data: Sequence[str | bytes | BlobSlice],
        *,
        type: str | None = None,
        creation_id: str | None = None,
        capability: BlobCapability = "urn:ietf:params:jmap:blob2",
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[BlobUploadResponse]:
        """``Blob/upload``: one blob made of ``data`` in order -- ``str`` (sent as
        ``data:asText``), ``bytes`` (``data:asBase64``) and `BlobSlice` (a range of an
        existing blob). Keyed by ``creation_id`` (default: a fresh ULID), so later calls
        can use ``"#<key>"`` as the blob id; the blob is ``result.created[key]``; a
        failure raises `SetErrors` when ``.result`` is read.
        """
        method = "Blob/upload"
        if isinstance(data, str | bytes) or not isinstance(data, Sequence) or not data:
            raise LocalProtocolError(f"{method}: data must be a non-empty list of sources")
        sources: list[dict[str, Any]] = []
        for item in data:
            if isinstance(item, str):
                sources.append({"data:asText": item})
            elif isinstance(item, bytes | bytearray):
                sources.append({"data:asBase64": base64.b64encode(item).decode("ascii")})
            elif isinstance(item, BlobSlice):
                require_text(item.blob_id, method, "blob_id")
                _uint(method, "offset", item.offset)
                _uint(method, "length", item.length)
                sources.append(item.to_wire())
            else:
                raise LocalProtocolError(
                    f"{method}: a data source is str, bytes or BlobSlice, not {item!r}"
                )
        upload: dict[str, Any] = {"data": sources}
        if type is not None:
            upload["type"] = require_text(type, method, "type")
        key = creation_id if creation_id is not None else _idgen.creation_id()
        require_text(key, method, "creation_id")
        return expect_success(
            self._call(
                method,
                self._args(account_id, create={key: upload}),
                BlobUploadResponse,
                _blob_capability(method, capability),
                call_id,
            )
        )

    def get(
        self,
        ids: IdsArg,
        *,
        properties: Sequence[BlobProperty] | NotGiven = NOT_GIVEN,
        offset: int | NotGiven = NOT_GIVEN,
        length: int | NotGiven = NOT_GIVEN,
        capability: BlobCapability = "urn:ietf:params:jmap:blob2",
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[BlobGetResponse]:
        """``Blob/get``: the blobs' data (``properties`` default: ``data`` and ``size``),
        optionally only ``length`` bytes from ``offset``. ``item.content`` gives bytes."""
        method = "Blob/get"
        if not isinstance(ids, Ref):
            ids = check_ids(ids, method, "ids")
        _uint(method, "offset", offset)
        _uint(method, "length", length)
        props = NOT_GIVEN if isinstance(properties, NotGiven) else list(properties)
        return self._call(
            method,
            self._args(account_id, ids=ids, properties=props, offset=offset, length=length),
            BlobGetResponse,
            _blob_capability(method, capability),
            call_id,
        )

    def copy(
        self,
        from_account_id: str,
        blob_ids: IdsArg,
        *,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[BlobCopyResponse]:
        """``Blob/copy`` (RFC 8620 §6.3, core): copy blobs from another account into this
        one; ``result.copied`` maps each old id to its new id."""
        require_text(from_account_id, "Blob/copy", "from_account_id")
        if not isinstance(blob_ids, Ref):
            blob_ids = check_ids(blob_ids, "Blob/copy", "blob_ids")
        return self._call(
            "Blob/copy",
            self._args(account_id, from_account_id=from_account_id, blob_ids=blob_ids),
            BlobCopyResponse,
            CORE,
            call_id,
        )

    def lookup(
        self,
        ids: IdsArg,
        *,
        type_names: Sequence[str] = ("Message",),
        capability: BlobCapability = "urn:ietf:params:jmap:blob2",
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[BlobLookupResponse]:
        """``Blob/lookup``: which objects of ``type_names`` (default ``["Message"]``)
        reference each blob. Inaccessible blobs come back with empty ``matchedIds``."""
        if not isinstance(ids, Ref):
            ids = check_ids(ids, "Blob/lookup", "ids")
        names = check_ids(type_names, "Blob/lookup", "type_names")
        _blob_capability("Blob/lookup", capability)
        args = self._args(account_id, type_names=names, ids=ids)
        return self._call("Blob/lookup", args, BlobLookupResponse, capability, call_id)

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
        blob is ``result.created[key]``; a failure raises `SetErrors` when ``.result``
        is read.
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
        return expect_success(self._add(Call, "convert", args, BlobConvertResponse, call_id))
