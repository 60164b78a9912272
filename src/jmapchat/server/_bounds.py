"""Input bounds: nesting depth of any JSON value, size of free-form values, string lengths.

Checked before anything is stored, so a stored object can always be served back: an
unbounded value is refused with a method error (``invalidArguments`` for arguments that
nest too deeply) or a per-object ``invalidProperties``. The numbers are documented in
docs/server.md ("Input bounds").
"""

from __future__ import annotations

from typing import Any

import orjson

from ._util import SetErr

__all__ = [
    "MAX_ARGS_DEPTH",
    "MAX_FREEFORM_BYTES",
    "MAX_VALUE_DEPTH",
    "STRING_CAPS",
    "check_object",
    "string_cap",
    "too_deep",
]

MAX_ARGS_DEPTH = 64
"""Nesting levels of one method call's arguments (a reply adds 3: it must stay encodable)."""

MAX_VALUE_DEPTH = 16
"""Nesting levels below one property of a created or updated object."""

MAX_FREEFORM_BYTES = 16_384
"""Encoded size of a free-form value (``MessageAction.metadata``)."""

MAX_PROPERTY_BYTES = 262_144
"""Encoded size of any other structured property value (arrays and objects)."""

FREEFORM = frozenset({"metadata"})

STRING_CAPS: dict[str, int] = {
    "name": 256,
    "displayName": 256,
    "nick": 256,
    "label": 256,
    "statusText": 256,
    "statusEmoji": 64,
    "emoji": 256,
    "filename": 255,
    "color": 32,
    "description": 4096,
    "topic": 4096,
    "url": 2048,
    "uri": 2048,
    "contentType": 255,
    "bodyType": 255,
    "type": 255,
}
"""Maximum length (characters) of a string property, by property name."""

ID_CAP = 255  # RFC 8620 §1.2: an Id is 1-255 octets
DEFAULT_STRING_CAP = 1024
UNBOUNDED = frozenset({"body"})  # bounded by the type itself (maxBodyBytes)


def string_cap(name: str) -> int | None:
    """The length cap of a string under property ``name`` (None: checked elsewhere)."""
    if name in UNBOUNDED:
        return None
    cap = STRING_CAPS.get(name)
    if cap is not None:
        return cap
    if name == "id" or name.endswith(("Id", "Ids")):
        return ID_CAP
    return DEFAULT_STRING_CAP


def too_deep(value: Any, limit: int) -> bool:
    """True if ``value`` nests arrays/objects more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _strings_ok(value: Any, name: str) -> bool:
    """Every string in ``value`` within the cap of the property name it sits under."""
    stack: list[tuple[Any, str]] = [(value, name)]
    while stack:
        node, key = stack.pop()
        if isinstance(node, str):
            cap = string_cap(key)
            if cap is not None and len(node) > cap:
                return False
        elif isinstance(node, dict):
            for k, v in node.items():
                if len(k) > DEFAULT_STRING_CAP:
                    return False
                stack.append((v, k))
        elif isinstance(node, list):
            stack.extend((v, key) for v in node)
    return True


def check_object(data: dict[str, Any]) -> None:
    """Bounds of one /set create or update patch; ``invalidProperties`` names the property.

    A patch key (``reactions/<id>``) is checked under its first path segment."""
    for key, value in data.items():
        name = key.split("/", 1)[0]
        if len(key) > DEFAULT_STRING_CAP:
            raise SetErr("invalidProperties", "property name too long", properties=[name[:255]])
        if isinstance(value, str):
            cap = string_cap(name)
            if cap is not None and len(value) > cap:
                raise SetErr(
                    "invalidProperties",
                    f"{name} is longer than {cap} characters",
                    properties=[name],
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if too_deep(value, MAX_VALUE_DEPTH):
            raise SetErr(
                "invalidProperties",
                f"{name} nests deeper than {MAX_VALUE_DEPTH} levels",
                properties=[name],
            )
        if not _strings_ok(value, name):
            raise SetErr(
                "invalidProperties",
                f"a string in {name} is longer than its maximum (see docs/server.md)",
                properties=[name],
            )
        if len(orjson.dumps(value)) > MAX_PROPERTY_BYTES or not _freeform_ok(value):
            raise SetErr("invalidProperties", f"{name} is too large", properties=[name])


def _freeform_ok(value: Any) -> bool:
    """Every free-form value (``metadata``) inside ``value`` within MAX_FREEFORM_BYTES."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if k in FREEFORM and v is not None:
                    if len(orjson.dumps(v)) > MAX_FREEFORM_BYTES:
                        return False
                elif isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return True
