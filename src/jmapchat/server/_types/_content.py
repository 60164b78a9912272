"""What a Message may say: body and body type, rich-body spans, mentions, broadcast
mentions and attachments (checked on create and on edit), and whether it mentions a user."""

from __future__ import annotations

import hmac
import re
from typing import TYPE_CHECKING, Any, get_args

import orjson

from jmapchat.models import RICH_BODY_TYPE, BroadcastScope, SpanType

from .._util import SetErr, is_uint
from ._access import channel_allows
from ._chats import load_group
from ._common import invalid_props, readable_blob

if TYPE_CHECKING:
    from .._context import Ctx

__all__ = [
    "PLAINTEXT_TYPES",
    "RICH",
    "check_attachments",
    "check_content",
    "mentions_user",
]

# The draft's names (the client's ``BroadcastScope`` and ``SpanType``); the checks are the
# server's own, so it stays an independent oracle for the client.
SCOPES: tuple[str, ...] = get_args(BroadcastScope)
SPAN_TYPES = frozenset(get_args(SpanType))
RICH = RICH_BODY_TYPE
PLAINTEXT_TYPES = ("text/plain", "text/markdown", RICH)
_MIME_RE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}(\s*;.*)?$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def _nbytes(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def _known_contact(ctx: Ctx, user_id: str) -> bool:
    """The draft validates a Mention's (and a mention span's) ChatContact existence: the
    caller themself, or a ChatContact of the caller's account."""
    return user_id == ctx.user or ctx.store.get(ctx.account_id, "ChatContact", user_id) is not None


def _check_rich(ctx: Ctx, body: str) -> list[str]:
    """Validate a rich body; return its broadcast scopes."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SetErr("invalidArguments", "a rich body must be JSON", properties=["body"]) from None
    spans = doc.get("spans") if isinstance(doc, dict) else None
    if not isinstance(spans, list):
        raise SetErr("invalidArguments", "a rich body needs a spans array", properties=["body"])
    scopes = []
    for span in spans:
        if not isinstance(span, dict) or span.get("type") not in SPAN_TYPES:
            raise SetErr("invalidArguments", "unknown span type", properties=["body"])
        if not isinstance(span.get("text"), str):
            raise SetErr("invalidArguments", "every span needs text", properties=["body"])
        t = span["type"]
        if t == "mention" and not isinstance(span.get("userId"), str):
            raise SetErr("invalidArguments", "a mention span needs userId", properties=["body"])
        if t == "mention" and not _known_contact(ctx, span["userId"]):
            raise invalid_props(f"no ChatContact {span['userId']!r}", "body")
        if t == "broadcast":
            if span.get("scope") not in SCOPES:
                raise SetErr("invalidArguments", "unknown broadcast scope", properties=["body"])
            scopes.append(span["scope"])
        if t == "link" and not isinstance(span.get("uri"), str):
            raise SetErr("invalidArguments", "a link span needs uri", properties=["body"])
    return scopes


def check_content(ctx: Ctx, chat: dict[str, Any], msg: dict[str, Any]) -> None:
    """Validate body, bodyType, mentions and broadcastMentions (create and edit)."""
    body, body_type = msg["body"], msg["bodyType"]
    if not isinstance(body, str):
        raise invalid_props("body must be a string", "body")
    if not isinstance(body_type, str) or body_type not in ctx.core.chat.supported_body_types:
        raise invalid_props("bodyType is not in supportedBodyTypes", "bodyType")
    size = _nbytes(body)
    if size > ctx.core.chat.max_body_bytes:
        # draft: invalidArguments (compliance 4.1 expects tooLarge)
        raise SetErr("invalidArguments", "body is longer than maxBodyBytes", properties=["body"])
    mentions, bmentions = msg["mentions"], msg["broadcastMentions"]
    if not isinstance(mentions, list) or not isinstance(bmentions, list):
        raise invalid_props("mentions and broadcastMentions must be arrays", "mentions")
    for m in mentions:
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("id"), str)
            or not is_uint(m.get("offset"))
            or not is_uint(m.get("length"))
        ):
            raise invalid_props("a Mention needs id, offset and length", "mentions")
        if m["offset"] + m["length"] > size:
            raise invalid_props("a mention lies outside the body", "mentions")
        if not _known_contact(ctx, m["id"]):
            raise invalid_props(f"no ChatContact {m['id']!r}", "mentions")
    scopes = []
    for m in bmentions:
        if not isinstance(m, dict):
            raise invalid_props("a BroadcastMention must be an object", "broadcastMentions")
        if m.get("scope") not in SCOPES:
            raise SetErr(
                "invalidArguments", "unknown broadcast scope", properties=["broadcastMentions"]
            )
        if not is_uint(m.get("offset", 0)) or not is_uint(m.get("length", 0)):
            raise invalid_props("offset and length must be UnsignedInts", "broadcastMentions")
        if m.get("offset", 0) + m.get("length", 0) > size:
            raise invalid_props("a broadcast mention lies outside the body", "broadcastMentions")
        scopes.append(m["scope"])
    if body_type == RICH:
        if mentions or bmentions:
            raise invalid_props(
                "rich bodies carry mentions inline", "mentions" if mentions else "broadcastMentions"
            )
        scopes += _check_rich(ctx, body)
    if scopes:
        _check_broadcast(ctx, chat)


def _check_broadcast(ctx: Ctx, chat: dict[str, Any]) -> None:
    if chat["kind"] == "channel":
        if not channel_allows(ctx, chat["spaceId"], chat["id"], ctx.user, "mention_broadcast"):
            raise SetErr("forbidden", "broadcast mentions need the mention_broadcast permission")
    elif chat["kind"] == "group":
        gdef = load_group(ctx, chat["id"])
        if gdef is None or not any(
            m["id"] == ctx.user and m.get("role") == "admin" for m in gdef["members"]
        ):
            raise SetErr("forbidden", "broadcast mentions in groups are for admins")


def check_attachments(ctx: Ctx, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise invalid_props("attachments must be an array", "attachments")
    if len(value) > ctx.core.chat.max_attachments_per_message:
        raise invalid_props("too many attachments", "attachments")
    out = []
    for a in value:
        if not isinstance(a, dict):
            raise invalid_props("an Attachment must be an object", "attachments")
        blob_id, name, ctype = a.get("blobId"), a.get("filename"), a.get("contentType")
        if not isinstance(blob_id, str) or not isinstance(name, str) or not isinstance(ctype, str):
            raise invalid_props(
                "an Attachment needs blobId, filename and contentType", "attachments"
            )
        if not name or any(c in name for c in "/\\\x00"):
            raise invalid_props("filename must not contain /, \\ or NUL", "attachments")
        if not _MIME_RE.match(ctype):
            raise invalid_props("contentType is not a MIME type", "attachments")
        blob_id = ctx.ref(blob_id)
        _, size, sha = readable_blob(ctx, blob_id, "attachments")
        if size > ctx.core.chat.max_attachment_bytes:
            raise SetErr(
                "tooLarge", "attachment larger than maxAttachmentBytes", properties=["attachments"]
            )
        if "size" in a and a["size"] != size:
            raise invalid_props("size does not match the blob", "attachments")
        given = a.get("sha256")
        if given is not None and (
            not isinstance(given, str)
            or not _SHA_RE.match(given)
            or not hmac.compare_digest(given, sha)
        ):
            raise invalid_props("sha256 does not match the blob", "attachments")
        out.append({**a, "blobId": blob_id, "size": size, "sha256": sha})
    return out


def mentions_user(obj: dict[str, Any], user: str) -> bool:
    """Does the message mention ``user`` (a Mention, or a rich body's mention span)?"""
    if any(m.get("id") == user for m in obj.get("mentions") or []):
        return True
    if obj.get("bodyType") == RICH:
        try:
            doc = orjson.loads(obj.get("body") or "{}")
        except orjson.JSONDecodeError:
            return False
        spans = doc.get("spans", []) if isinstance(doc, dict) else []
        return any(
            isinstance(s, dict) and s.get("type") == "mention" and s.get("userId") == user
            for s in spans
        )
    return False
