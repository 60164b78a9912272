"""Core/echo, Quota/get+changes, Blob/lookup and PushSubscription (RFC 8620 §7.2 + chatPush)."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, get_args
from urllib.parse import urlsplit

from jmapchat.models import ChatDataType, ChatMessageEntryProperty, PushUrgency

from .._bounds import check_object
from .._core_caps import BLOB2, CHAT, CHAT_PUSH, CORE, QUOTA
from .._generic import DataType
from .._query import QUERY_CHANGES_ARGS, run_query, std_query
from .._store import GLOBAL
from .._util import MethodErr, SetErr, check_args, is_jmap_id, new_id, parse_utc

if TYPE_CHECKING:
    from .._context import Core, Ctx

__all__ = ["is_loopback_url", "register"]

URGENCIES = get_args(PushUrgency)
PUSH_PROPERTIES = frozenset(get_args(ChatMessageEntryProperty))
PUSH_TYPES: tuple[str, ...] = get_args(ChatDataType)


def core_echo(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    return args


def _account(ctx: Ctx, args: dict[str, Any]) -> None:
    if args.get("accountId", ctx.account_id) != ctx.account_id:
        raise MethodErr("accountNotFound", "no such account")


# --- Quota -------------------------------------------------------------------------------


def _quotas(ctx: Ctx) -> list[dict[str, Any]]:
    msgs = ctx.store.count(ctx.account_id, "Message")
    chats = ctx.store.count(ctx.account_id, "Chat")
    octets = ctx.store.blob_usage(ctx.account_id)
    return [
        {
            "id": "messages",
            "resourceType": "count",
            "used": msgs,
            "hardLimit": 10_000_000,
            "scope": "account",
            "name": "Messages",
            "types": ["Message"],
            "description": "Messages stored in this account",
        },
        {
            "id": "chats",
            "resourceType": "count",
            "used": chats,
            "hardLimit": 100_000,
            "scope": "account",
            "name": "Chats",
            "types": ["Chat"],
        },
        {
            "id": "storage",
            "resourceType": "octets",
            "used": octets,
            "hardLimit": 10_000_000_000,
            "scope": "account",
            "name": "Blob storage",
            "types": ["Message", "CustomEmoji", "Space"],
        },
    ]


def _quota_state(quotas: list[dict[str, Any]]) -> str:
    raw = ",".join(f"{q['id']}={q['used']}" for q in quotas)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def quota_get(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(args, {"accountId": "str", "ids": "strs?", "properties": "strs?"})
    _account(ctx, args)
    quotas = _quotas(ctx)
    by_id = {q["id"]: q for q in quotas}
    ids = args.get("ids")
    props = args.get("properties")
    lst, not_found = [], []
    for qid in ids if ids is not None else list(by_id):
        q = by_id.get(qid)
        if q is None:
            not_found.append(qid)
            continue
        lst.append({k: v for k, v in q.items() if props is None or k == "id" or k in props})
    return {
        "accountId": ctx.account_id,
        "state": _quota_state(quotas),
        "list": lst,
        "notFound": not_found,
    }


def quota_changes(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(
        args, {"accountId": "str", "sinceState": "str", "maxChanges": "uint?"}, ("sinceState",)
    )
    _account(ctx, args)
    quotas = _quotas(ctx)
    state = _quota_state(quotas)
    changed = [] if args["sinceState"] == state else [q["id"] for q in quotas]
    return {
        "accountId": ctx.account_id,
        "oldState": args["sinceState"],
        "newState": state,
        "hasMoreChanges": False,
        "created": [],
        "updated": changed,
        "destroyed": [],
        "updatedProperties": ["used"] if changed else None,
    }


class _QuotaType(DataType):
    """Filter and sort rules of ``Quota/query`` (RFC 9425 §4.4); quotas are computed."""

    name = "Quota"
    filter_spec: ClassVar[dict[str, str]] = {
        "name": "str",
        "scope": "str",
        "resourceType": "str",
        "type": "str",
    }
    sort_props = frozenset({"name", "used"})
    default_sort: ClassVar[list[tuple[str, bool]]] = [("name", True)]

    def query_candidates(self, ctx: Ctx, flt: dict[str, Any] | None) -> list[dict[str, Any]]:
        return _quotas(ctx)

    def match(self, ctx: Ctx, obj: dict[str, Any], cond: dict[str, Any]) -> bool:
        for key, value in cond.items():
            if key == "name":
                if value.casefold() not in str(obj.get("name") or "").casefold():
                    return False
            elif key == "type":
                if value not in (obj.get("types") or []):
                    return False
            elif obj.get(key) != value:
                return False
        return True


_QUOTA = _QuotaType()


def quota_query(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """``Quota/query``: the standard /query over the computed quotas; the query state is
    the quota state (it changes whenever a ``used`` value does)."""
    out = std_query(_QUOTA, ctx, args)
    out["queryState"] = _quota_state(_quotas(ctx))
    return out


def quota_query_changes(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """``Quota/queryChanges``: nothing when the state is unchanged; otherwise every result
    is reported removed and re-added at its index (RFC 8620 §5.6 allows the extra ids)."""
    args = check_args(args, QUERY_CHANGES_ARGS, ("sinceQueryState",))
    _account(ctx, args)
    state = _quota_state(_quotas(ctx))
    ids = run_query(_QUOTA, ctx, args.get("filter"), args.get("sort"))
    changed = args["sinceQueryState"] != state
    max_changes = args.get("maxChanges")
    if changed and max_changes is not None and len(ids) > max_changes:
        raise MethodErr("tooManyChanges", f"more than {max_changes} changes")
    out: dict[str, Any] = {
        "accountId": ctx.account_id,
        "oldQueryState": args["sinceQueryState"],
        "newQueryState": state,
        "removed": list(ids) if changed else [],
        "added": [{"id": oid, "index": i} for i, oid in enumerate(ids)] if changed else [],
    }
    if args.get("calculateTotal"):
        out["total"] = len(ids)
    return out


# --- Blob/lookup ---------------------------------------------------------------------------


def blob_lookup(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(
        args, {"accountId": "str", "typeNames": "strs", "ids": "strs"}, ("typeNames", "ids")
    )
    _account(ctx, args)
    supported = ("Message", "CustomEmoji", "Space", "Chat")
    for t in args["typeNames"]:
        if t not in supported:
            raise MethodErr("unknownDataType", f"Blob/lookup does not support {t!r}")
    lst, not_found = [], []
    for blob_id in args["ids"]:
        if ctx.store.blob_meta(ctx.account_id, blob_id) is None:
            not_found.append(blob_id)
            continue
        matched: dict[str, list[str]] = {}
        for t in args["typeNames"]:
            ids: list[str] = []
            if t == "Message":
                rows = ctx.store.execute(
                    "SELECT o.id FROM objects o, json_each(o.data, '$.attachments') a "
                    "WHERE o.scope=? AND o.type='Message' AND json_extract(a.value, '$.blobId')=?",
                    (ctx.account_id, blob_id),
                ).fetchall()
                ids = sorted({str(r[0]) for r in rows})
            elif t == "CustomEmoji":
                ids = [
                    o["id"]
                    for o in ctx.type("CustomEmoji").all_visible(ctx)
                    if o.get("blobId") == blob_id
                ]
            elif t == "Space":
                ids = [
                    o["id"]
                    for o in ctx.type("Space").all_visible(ctx)
                    if o.get("iconBlobId") == blob_id
                ]
            elif t == "Chat":
                ids = [
                    o["id"]
                    for o in ctx.store.all(ctx.account_id, "Chat")
                    if o.get("avatarBlobId") == blob_id
                ]
            matched[t] = ids
        lst.append({"id": blob_id, "matchedIds": matched})
    return {"accountId": ctx.account_id, "list": lst, "notFound": not_found}


# --- PushSubscription ----------------------------------------------------------------------


def is_loopback_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _subs(ctx: Ctx) -> list[dict[str, Any]]:
    return list(ctx.store.by_k1(GLOBAL, "PushSubscription", ctx.user))


def _present_sub(obj: dict[str, Any], props: list[str] | None) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if not k.startswith("_") and k not in ("url", "keys")}
    if props is not None:
        out = {k: v for k, v in out.items() if k == "id" or k in props}
    return out


def _check_chat_push(ctx: Ctx, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SetErr("invalidProperties", "chatPush must be an object", properties=["chatPush"])
    for acc, cfg in value.items():
        if acc != ctx.account_id:
            raise SetErr(
                "invalidProperties", "chatPush may only name your account", properties=["chatPush"]
            )
        if not isinstance(cfg, dict):
            raise SetErr(
                "invalidProperties", "a ChatPushConfig must be an object", properties=["chatPush"]
            )
        bad = set(cfg) - {"kinds", "chatIds", "properties", "urgency", "mentionUrgency"}
        if bad:
            raise SetErr(
                "invalidProperties",
                f"unknown ChatPushConfig fields {sorted(bad)}",
                properties=["chatPush"],
            )
        for key in ("urgency", "mentionUrgency"):
            if key in cfg and cfg[key] is not None and cfg[key] not in URGENCIES:
                # push draft: an unsupported urgency is invalidArguments
                raise SetErr(
                    "invalidArguments", f"unsupported {key} {cfg[key]!r}", properties=["chatPush"]
                )
        for key in ("kinds", "chatIds", "properties"):
            v = cfg.get(key)
            if v is not None and (
                not isinstance(v, list) or not all(isinstance(x, str) for x in v)
            ):
                raise SetErr(
                    "invalidProperties",
                    f"{key} must be an array of strings",
                    properties=["chatPush"],
                )
        if cfg.get("kinds") and any(k not in ("direct", "group", "channel") for k in cfg["kinds"]):
            raise SetErr(
                "invalidProperties",
                "kinds must be direct, group or channel",
                properties=["chatPush"],
            )
    return value


def push_get(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(args, {"ids": "strs?", "properties": "strs?", "accountId": "str"})
    subs = {o["id"]: o for o in _subs(ctx)}
    ids = args.get("ids")
    lst, not_found = [], []
    for sid in ids if ids is not None else list(subs):
        sid = ctx.ref(sid)
        if sid in subs:
            lst.append(_present_sub(subs[sid], args.get("properties")))
        else:
            not_found.append(sid)
    return {"list": lst, "notFound": not_found}


def push_set(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    args = check_args(
        args,
        {
            "create": "obj?",
            "update": "obj?",
            "destroy": "strs?",
            "ifInState": "str?",
            "accountId": "str",
        },
    )
    create, update, destroy = (
        args.get("create") or {},
        args.get("update") or {},
        args.get("destroy") or [],
    )
    if len(create) + len(update) + len(destroy) > ctx.limits.max_objects_in_set:
        raise MethodErr("requestTooLarge", "more than maxObjectsInSet objects")
    subs = {o["id"]: o for o in _subs(ctx)}
    out: dict[str, Any] = {
        "created": {},
        "updated": {},
        "destroyed": [],
        "notCreated": {},
        "notUpdated": {},
        "notDestroyed": {},
    }
    for cid, data in create.items():
        try:
            if not isinstance(data, dict):
                raise SetErr("invalidProperties", "a create must be an object")
            check_object(data)
            bad = sorted(
                set(data) - {"deviceClientId", "url", "keys", "expires", "types", "chatPush"}
            )
            if bad:
                raise SetErr(
                    "invalidProperties", "unknown or server-set properties", properties=bad
                )
            if not isinstance(data.get("deviceClientId"), str) or not isinstance(
                data.get("url"), str
            ):
                raise SetErr(
                    "invalidProperties",
                    "deviceClientId and url are required",
                    properties=["deviceClientId", "url"],
                )
            if not data["url"].startswith(("http://", "https://")):
                raise SetErr("invalidProperties", "url must be http(s)", properties=["url"])
            types = data.get("types")
            if types is not None and (
                not isinstance(types, list) or not all(isinstance(t, str) for t in types)
            ):
                raise SetErr(
                    "invalidProperties",
                    "types must be an array of type names",
                    properties=["types"],
                )
            keys = data.get("keys")
            if keys is not None and (
                not isinstance(keys, dict)
                or not all(isinstance(keys.get(k), str) for k in ("p256dh", "auth"))
            ):
                raise SetErr("invalidProperties", "keys needs p256dh and auth", properties=["keys"])
            expires = data.get("expires")
            if expires is not None and parse_utc(expires) is None:
                raise SetErr(
                    "invalidProperties", "expires must be a UTCDate", properties=["expires"]
                )
            sub = {
                "id": new_id(),
                "deviceClientId": data["deviceClientId"],
                "url": data["url"],
                "keys": keys,
                "verificationCode": None,
                "expires": expires,
                "types": types,
                "chatPush": _check_chat_push(ctx, data.get("chatPush")),
                "_user": ctx.user,
                "_code": secrets.token_urlsafe(16),
                "_createdAt": ctx.now_ts,
            }
            ctx.store.put(GLOBAL, "PushSubscription", sub, k1=ctx.user)
            ctx.created_ids[cid] = sub["id"]
            out["created"][cid] = {"id": sub["id"], "expires": expires}
            if is_loopback_url(sub["url"]):
                payload = {
                    "@type": "PushVerification",
                    "pushSubscriptionId": sub["id"],
                    "verificationCode": sub["_code"],
                }
                ctx.after_commit.append(partial(ctx.core.pusher.post, sub["url"], payload))
        except SetErr as exc:
            out["notCreated"][cid] = exc.to_json()
    for key, patch in update.items():
        sid = ctx.ref(key)
        try:
            found = subs.get(sid)
            if found is None:
                raise SetErr("notFound", "no such push subscription")
            if not isinstance(patch, dict):
                raise SetErr("invalidPatch", "a patch must be an object")
            check_object(patch)
            for k, v in patch.items():
                if k == "verificationCode":
                    if not isinstance(v, str) or v != found["_code"]:
                        raise SetErr("invalidProperties", "wrong verificationCode", properties=[k])
                elif k == "expires":
                    if v is not None and parse_utc(v) is None:
                        raise SetErr(
                            "invalidProperties", "expires must be a UTCDate", properties=[k]
                        )
                elif k == "types":
                    if v is not None and (
                        not isinstance(v, list) or not all(isinstance(t, str) for t in v)
                    ):
                        raise SetErr("invalidProperties", "types must be an array", properties=[k])
                elif k == "chatPush":
                    v = _check_chat_push(ctx, v)
                else:
                    raise SetErr("invalidProperties", f"{k} cannot be updated", properties=[k])
                found[k] = v
            ctx.store.put(GLOBAL, "PushSubscription", found, k1=ctx.user)
            out["updated"][sid] = None
        except SetErr as exc:
            out["notUpdated"][sid] = exc.to_json()
    for key in destroy:
        sid = ctx.ref(key)
        if sid in subs:
            ctx.store.delete(GLOBAL, "PushSubscription", sid)
            out["destroyed"].append(sid)
        else:
            out["notDestroyed"][sid] = {"type": "notFound"}
    return {k: (v or None) for k, v in out.items()}


def register(core: Core) -> None:
    core.method("Core/echo", CORE, core_echo)
    core.method("Quota/get", QUOTA, quota_get)
    core.method("Quota/changes", QUOTA, quota_changes)
    core.method("Quota/query", QUOTA, quota_query)
    core.method("Quota/queryChanges", QUOTA, quota_query_changes)
    core.method("Blob/lookup", BLOB2, blob_lookup)
    core.method("PushSubscription/get", CORE, push_get)
    core.method("PushSubscription/set", CORE, push_set)
    _ = (CHAT, CHAT_PUSH, is_jmap_id)
