"""Blob/upload and Blob/get (RFC 9404, advertised as ``urn:ietf:params:jmap:blob2``),
Blob/convert (``imageConvert``, draft-ietf-jmap-blobext; images via Pillow) and Blob/copy
(RFC 8620 §6.3).

Blobs are content addressed (``B`` + 48 hex digits of the sha256) and readable by the
accounts granted access (the uploader, message recipients, …). Each user has exactly one
account, so Blob/copy can only name the caller's own account on both sides: it answers
with the same ids, as every blob the caller can read is already in that account.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._core_caps import BLOB2, CORE
from .._util import MethodErr, SetErr, check_args

if TYPE_CHECKING:
    from .._context import Core, Ctx

__all__ = ["DIGESTS", "MAX_DATA_SOURCES", "register"]

MAX_DATA_SOURCES = 64  # RFC 9404: servers MUST allow at least 64 DataSourceObjects
DIGESTS = {"sha": hashlib.sha1, "sha-256": hashlib.sha256}
_MIME_RE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}$")
_GET_PROPS = frozenset({"data", "data:asText", "data:asBase64", "size"}) | {
    f"digest:{name}" for name in DIGESTS
}


def _account(ctx: Ctx, args: dict[str, Any], key: str = "accountId") -> None:
    if args.get(key, ctx.account_id) != ctx.account_id:
        raise MethodErr(
            "fromAccountNotFound" if key == "fromAccountId" else "accountNotFound",
            "no such account",
        )


def _bad(description: str) -> SetErr:
    return SetErr("invalidProperties", description, properties=["data"])


def _source_bytes(ctx: Ctx, src: Any) -> bytes:
    """One DataSourceObject: literal text, literal base64, or a (range of a) blob."""
    if not isinstance(src, dict):
        raise _bad("a DataSourceObject must be an object")
    keys = set(src)
    if keys == {"data:asText"}:
        text = src["data:asText"]
        if not isinstance(text, str):
            raise _bad("data:asText must be a string")
        return text.encode("utf-8", "surrogatepass")
    if keys == {"data:asBase64"}:
        raw = src["data:asBase64"]
        if not isinstance(raw, str):
            raise _bad("data:asBase64 must be a string")
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise _bad("data:asBase64 is not valid base64") from None
    if "blobId" in keys and keys <= {"blobId", "offset", "length"}:
        blob_id = src["blobId"]
        if not isinstance(blob_id, str):
            raise _bad("blobId must be a string")
        blob_id = ctx.ref(blob_id)
        data = (
            ctx.store.blob_data(blob_id) if ctx.store.blob_meta(ctx.account_id, blob_id) else None
        )
        if data is None:
            raise _bad(f"blob {blob_id!r} not found")
        offset, length = src.get("offset"), src.get("length")
        for name, value in (("offset", offset), ("length", length)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise _bad(f"{name} must be an UnsignedInt")
        start = offset or 0
        end = len(data) if length is None else start + length
        if end > len(data):
            raise _bad("offset and length go beyond the end of the blob")
        return data[start:end]
    raise _bad("a DataSourceObject has exactly one of data:asText, data:asBase64 or blobId")


def _create_blobs(
    ctx: Ctx, args: dict[str, Any], build: Callable[[Ctx, Any], tuple[bytes, str]]
) -> dict[str, Any]:
    """The /set-like frame of Blob/upload and Blob/convert: each creation builds
    (data, type), becomes a content-addressed blob readable by the caller, and maps its
    creation id; a failure is a SetError in ``notCreated``."""
    args = check_args(args, {"accountId": "str", "create": "obj"}, ("create",))
    _account(ctx, args)
    create = args["create"]
    if len(create) > ctx.limits.max_objects_in_set:
        raise MethodErr("requestTooLarge", "more than maxObjectsInSet objects")
    created: dict[str, Any] = {}
    not_created: dict[str, Any] = {}
    for cid, obj in create.items():
        try:
            data, ctype = build(ctx, obj)
            sha = hashlib.sha256(data).hexdigest()
            blob_id = "B" + sha[:48]
            ctx.store.put_blob(blob_id, ctype, data, sha, ctx.now)
            ctx.store.grant_blob(ctx.account_id, blob_id)
            ctx.created_ids[cid] = blob_id
            created[cid] = {"id": blob_id, "type": ctype, "size": len(data)}
        except SetErr as exc:
            not_created[cid] = exc.to_json()
    return {
        "accountId": ctx.account_id,
        "created": created or None,
        "notCreated": not_created or None,
    }


def _upload_one(ctx: Ctx, obj: Any) -> tuple[bytes, str]:
    if not isinstance(obj, dict) or set(obj) - {"data", "type"}:
        raise SetErr("invalidProperties", "an UploadObject has data and type")
    sources = obj.get("data")
    if not isinstance(sources, list):
        raise _bad("data must be an array of DataSourceObjects")
    if len(sources) > MAX_DATA_SOURCES:
        raise SetErr(
            "tooLarge", f"more than maxDataSources ({MAX_DATA_SOURCES})", properties=["data"]
        )
    ctype = obj.get("type") or "application/octet-stream"
    if not isinstance(ctype, str) or not _MIME_RE.match(ctype):
        raise SetErr("invalidProperties", "type must be a media type", properties=["type"])
    data = b"".join(_source_bytes(ctx, src) for src in sources)
    if len(data) > ctx.limits.max_size_upload:
        raise SetErr("tooLarge", "larger than maxSizeBlobSet")
    return data, ctype


def blob_upload(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """``Blob/upload``: build blobs from literal data and (ranges of) existing blobs."""
    return _create_blobs(ctx, args, _upload_one)


def blob_get(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """``Blob/get``: a blob's data (as text, base64 or either), size and digests, for an
    optional byte range."""
    args = check_args(
        args,
        {
            "accountId": "str",
            "ids": "strs?",
            "properties": "strs?",
            "offset": "uint?",
            "length": "uint?",
        },
    )
    _account(ctx, args)
    ids = args.get("ids")
    if ids is None:
        raise MethodErr("invalidArguments", "Blob/get needs ids (blobs cannot be listed)")
    if len(ids) > ctx.limits.max_objects_in_get:
        raise MethodErr("requestTooLarge", "more than maxObjectsInGet ids")
    props = args.get("properties")
    props = ["data", "size"] if props is None else props
    unknown = [p for p in props if p not in _GET_PROPS]
    if unknown:
        raise MethodErr("invalidArguments", f"unknown Blob properties {unknown}")
    offset = args.get("offset") or 0
    length = args.get("length")
    found, not_found = [], []
    for raw_id in ids:
        blob_id = ctx.ref(raw_id)
        meta = ctx.store.blob_meta(ctx.account_id, blob_id)
        data = ctx.store.blob_data(blob_id) if meta else None
        if data is None:
            not_found.append(blob_id)
            continue
        end = len(data) if length is None else offset + length
        part = data[offset:end]
        out: dict[str, Any] = {"id": blob_id}
        if end > len(data) or offset > len(data):
            out["isTruncated"] = True
        text: str | None = None
        if any(p in ("data", "data:asText") for p in props):
            try:
                text = part.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        for prop in props:
            if prop == "size":
                out["size"] = len(data)
            elif prop == "data:asText":
                out["data:asText"] = text
                if text is None:
                    out["isEncodingProblem"] = True
            elif prop == "data:asBase64" or (prop == "data" and text is None):
                out["data:asBase64"] = base64.b64encode(part).decode("ascii")
            elif prop == "data":
                out["data:asText"] = text
            else:
                algo = DIGESTS[prop.removeprefix("digest:")]
                out[prop] = base64.b64encode(algo(part).digest()).decode("ascii")
        found.append(out)
    return {"accountId": ctx.account_id, "list": found, "notFound": not_found}


def blob_copy(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """``Blob/copy`` (RFC 8620 §6.3). One account per user: both accounts are the caller's,
    so a readable blob is "copied" to itself (same id); anything else is ``notFound``."""
    args = check_args(
        args,
        {"fromAccountId": "str", "accountId": "str", "blobIds": "strs"},
        ("fromAccountId", "accountId", "blobIds"),
    )
    _account(ctx, args, "fromAccountId")
    _account(ctx, args)
    if len(args["blobIds"]) > ctx.limits.max_objects_in_set:
        raise MethodErr("requestTooLarge", "more than maxObjectsInSet blobs")
    copied: dict[str, str] = {}
    not_copied: dict[str, Any] = {}
    for raw_id in args["blobIds"]:
        blob_id = ctx.ref(raw_id)
        if ctx.store.blob_meta(ctx.account_id, blob_id) is None:
            not_copied[blob_id] = {"type": "notFound", "description": "no such blob"}
        else:
            copied[blob_id] = blob_id
    return {
        "fromAccountId": ctx.account_id,
        "accountId": ctx.account_id,
        "copied": copied or None,
        "notCopied": not_copied or None,
    }


# Blob/convert ---------------------------------------------------------------------------

# media type -> Pillow format name: the image types this server converts to and from
IMAGE_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
_MAX_PIXELS = 50_000_000  # refuse decompression bombs well before they cost memory


def _convert_image(data: bytes, target: str, width: int | None, height: int | None) -> bytes:
    """Decode an image, fit it inside ``width`` x ``height`` (aspect ratio kept, never
    enlarged) and encode it as ``target`` (Pillow does the work)."""
    from PIL import Image  # optional: only Blob/convert needs Pillow

    with Image.open(io.BytesIO(data)) as img:
        if img.format not in IMAGE_FORMATS.values():
            raise SetErr("invalidProperties", "the blob is not a supported image")
        if img.width * img.height > _MAX_PIXELS:
            raise SetErr("tooLarge", "the image has too many pixels")
        img.load()
        out = img.copy()
    if width or height:
        out.thumbnail((width or out.width, height or out.height))
    fmt = IMAGE_FORMATS[target]
    if fmt == "JPEG" and out.mode not in ("RGB", "L"):
        out = out.convert("RGB")
    buf = io.BytesIO()
    out.save(buf, format=fmt)
    return buf.getvalue()


def _convert_one(ctx: Ctx, obj: Any) -> tuple[bytes, str]:
    if not isinstance(obj, dict) or set(obj) != {"imageConvert"}:
        raise SetErr(
            "invalidProperties",
            "this server converts with the imageConvert recipe only",
            properties=sorted(obj) if isinstance(obj, dict) else None,
        )
    recipe = obj["imageConvert"]
    if not isinstance(recipe, dict) or set(recipe) - {"blobId", "type", "width", "height"}:
        raise _bad_recipe("imageConvert has blobId, type, width and height")
    target, blob_id = recipe.get("type"), recipe.get("blobId")
    if not isinstance(target, str) or target not in IMAGE_FORMATS:
        raise _bad_recipe(f"type must be one of {sorted(IMAGE_FORMATS)}")
    box: dict[str, int | None] = {}
    for key in ("width", "height"):
        v = recipe.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise _bad_recipe(f"{key} must be a positive integer")
        box[key] = v
    source = ctx.ref(blob_id) if isinstance(blob_id, str) else None
    data = (
        ctx.store.blob_data(source)
        if source is not None and ctx.store.blob_meta(ctx.account_id, source)
        else None
    )
    if data is None:
        raise _bad_recipe("no such blob")
    try:
        return _convert_image(data, target, box["width"], box["height"]), target
    except SetErr:
        raise
    except Exception:  # Pillow raises many types for undecodable input
        raise _bad_recipe("the blob is not a readable image") from None


def _bad_recipe(description: str) -> SetErr:
    return SetErr("invalidProperties", description, properties=["imageConvert"])


def blob_convert(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """``Blob/convert`` with the ``imageConvert`` recipe (the chat draft's MAY: server-side
    thumbnails): ``{blobId, type, width?, height?}`` → a new blob of ``type``."""
    return _create_blobs(ctx, args, _convert_one)


def register(core: Core) -> None:
    core.method("Blob/upload", BLOB2, blob_upload)
    core.method("Blob/get", BLOB2, blob_get)
    core.method("Blob/copy", CORE, blob_copy)
    core.method("Blob/convert", BLOB2, blob_convert)
