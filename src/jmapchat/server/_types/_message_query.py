"""Message/query in SQLite (one chat, or every visible chat for ``hasMention: true``
alone): the filter as an SQL condition (``k5`` = senderId is indexed too), the order
from an index (``k3`` = receivedAt, ``k4`` = sentAt, then id), Python only for what SQL
cannot decide exactly (``text`` on a non-ASCII body, ``hasMention``), on the few
properties those read.

The results are the Python path's exactly (`_query._python_query`; the tests compare
both): a time comparator orders by (epoch or 0, id), so its ties go by id in the same
direction, and the stored keys are those epochs; an ``id`` comparator under a case-map
collation is the binary order of the server's ids (uppercase Crockford ULIDs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from .._query import SqlPlan
from .._util import epoch_of
from ._content import RICH
from ._messages import chat_of

if TYPE_CHECKING:
    from .._context import Ctx

__all__ = ["message_query_plan"]

# The JSON properties `MessageType.match` reads for a condition (for the Python check).
_FIELDS = {
    "chatId": ("chatId",),
    "text": ("body",),
    "threadRootId": ("threadRootId",),
    "hasAttachment": ("attachments",),
    "hasMention": ("mentions", "bodyType", "body"),
    "senderId": ("senderId",),
    "after": ("receivedAt",),
    "before": ("receivedAt",),
}
_KEYS = {"receivedAt": "k3", "sentAt": "k4"}
_ID_ORDERS = frozenset({"i;unicode-casemap", "i;ascii-casemap", "i;octet"})
# ``text`` narrowed in SQL: on an ASCII body (as many characters as bytes, no NUL)
# Python's casefold is SQLite's lower(); any other body is left to Python. The subquery
# reads the body once per row.
_TEXT = (
    "(SELECT instr(lower(b), ?) > 0 OR length(b) != length(CAST(b AS BLOB))"
    " FROM (SELECT coalesce(json_extract(data, '$.body'), '') AS b))"
)


def _leaf(ctx: Ctx, key: str, value: Any, top: bool) -> tuple[str, list[Any]] | None:
    """One condition property as an SQL expression, or None when SQL cannot decide it
    exactly. Never NULL, but for ``top`` (a condition all results must meet, where NULL
    and false both drop the row): there ``k5 = ?`` lets SQLite use the senderId index."""
    if key == "chatId":
        return "k1 = ?", [ctx.ref(value)]
    if key == "senderId":
        return ("k5 = ?" if top else "k5 IS ?"), [value]
    if key == "threadRootId":
        root = ctx.ref(value)
        return "(json_extract(data, '$.threadRootId') IS ? OR id = ?)", [root, root]
    if key == "hasAttachment":
        return "((coalesce(json_array_length(data, '$.attachments'), 0) > 0) = ?)", [int(value)]
    if key == "after":  # receivedAt >= after; k3 is receivedAt's epoch (0 when unreadable)
        return "k3 >= ?", [epoch_of(value) or 0]
    if key == "before":
        return "k3 < ?", [epoch_of(value) or 0]
    return None


def _all(sqls: list[str]) -> str:
    return "1" if not sqls else sqls[0] if len(sqls) == 1 else "(" + " AND ".join(sqls) + ")"


def _exact(ctx: Ctx, flt: dict[str, Any], top: bool = False) -> tuple[str, list[Any]] | None:
    """A whole filter tree in SQL, or None if any property of it is not exact."""
    if "operator" in flt:
        parts = [_exact(ctx, c) for c in flt["conditions"]]
        if any(p is None for p in parts):
            return None
        sqls = [p[0] for p in parts if p is not None]
        params = [x for p in parts if p is not None for x in p[1]]
        op = flt["operator"]
        if op == "AND":
            return _all(sqls), params
        either = "(" + " OR ".join(sqls) + ")" if sqls else "0"
        return (either if op == "OR" else f"(NOT {either})"), params
    sqls, params = [], []
    for key, value in flt.items():
        leaf = _leaf(ctx, key, value, top)
        if leaf is None:
            return None
        sqls.append(leaf[0])
        params += leaf[1]
    return _all(sqls), params


def _conjuncts(flt: dict[str, Any]) -> list[dict[str, Any]]:
    """The filter as a list of conditions that must all hold (top-level ANDs flattened,
    a condition split per property)."""
    if "operator" not in flt:
        return [{k: v} for k, v in flt.items()]
    if flt["operator"] == "AND":
        return [c for sub in flt["conditions"] for c in _conjuncts(sub)]
    return [flt]


def _fields(flt: dict[str, Any]) -> list[str]:
    if "operator" in flt:
        return [f for c in flt["conditions"] for f in _fields(c)]
    return [f for key in flt for f in _FIELDS.get(key, ())]


def _order(spec: list[tuple[str, bool, str]]) -> tuple[str | None, bool] | None:
    """(index column or None for id alone, ascending) of the first comparator, which
    decides the whole order; None when SQL cannot order like Python."""
    prop, asc, coll = spec[0]
    if prop in _KEYS:
        return _KEYS[prop], asc
    if prop == "id" and coll in _ID_ORDERS:
        return None, asc
    return None


# ``hasMention: true`` narrowed on the stored bytes: a Mention's id is the user's name as
# JSON (the store's own encoding), and a rich body is left to Python.
_MENTION = "(instr(data, ?) > 0 OR instr(data, ?) > 0)"
_RICH_BYTES = orjson.dumps({"bodyType": RICH})[1:-1]


def message_query_plan(
    ctx: Ctx,
    chat_id: str | None,
    mention: bool,
    flt: dict[str, Any] | None,
    spec: list[tuple[str, bool, str]],
) -> SqlPlan | None:
    """The SQL plan of a Message/query: one chat's, or every visible chat's when only
    ``hasMention: true`` names none. None: neither (the Python path's
    ``unsupportedFilter``), or an order SQL cannot give (``id`` under ``i;ascii-numeric``)."""
    if flt is None or not spec or (chat_id is None and not mention):
        return None
    order = _order(spec)
    if order is None:
        return None
    key, asc = order
    where: list[str] = []
    params: list[Any] = []
    if chat_id is not None:
        if chat_of(ctx, ctx.ref(chat_id)) is None:
            return SqlPlan("0", (), key, asc)
    else:
        chats = [c["id"] for c in ctx.type("Chat").all_visible(ctx)]
        where.append(f"k1 IN ({','.join('?' * len(chats))})" if chats else "0")
        params += chats
    residual: list[dict[str, Any]] = []
    for cond in _conjuncts(flt):
        exact = _exact(ctx, cond, top=True)
        if exact is not None:
            where.append(exact[0])
            params += exact[1]
            continue
        residual.append(cond)
        text = cond.get("text")
        if isinstance(text, str):
            # narrows, never widens: exact on ASCII rows; Python checks the rest
            where.append(_TEXT)
            params.append(text.casefold())
        if cond.get("hasMention") is True:
            where.append(_MENTION)
            params += [orjson.dumps(ctx.user), _RICH_BYTES]
    counter = None
    if where == ["k1 = ?"] and not residual:
        counter = params[0]
    fields = tuple(dict.fromkeys(f for c in residual for f in _fields(c)))
    return SqlPlan(
        " AND ".join(where) or "1",
        tuple(params),
        key,
        asc,
        residual=tuple(residual),
        fields=fields,
        counter=counter,
    )
