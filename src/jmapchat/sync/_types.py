"""Which data types a mirror can hold, and the typed diff it reports.

Sans-IO and shared by `AsyncMirror` and its generated blocking twin `Mirror`.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias, TypeVar, overload

from jmapchat._core import JMAPError, JMAPModel, LocalProtocolError
from jmapchat.models import (
    Chat,
    ChatContact,
    ChatDataType,
    CustomEmoji,
    Message,
    PresenceStatus,
    ReadPosition,
    Space,
    SpaceBan,
    SpaceInvite,
)

if TYPE_CHECKING:
    from jmapchat._core import Response

__all__ = [
    "TYPES",
    "Diff",
    "DiffBuilder",
    "IncompatibleStore",
    "MirrorError",
    "TypeName",
    "TypeSpec",
    "Updated",
    "spec_of",
]

M = TypeVar("M", bound=JMAPModel)

TypeName: TypeAlias = ChatDataType
"""The data types a mirror can keep (every JMAP Chat type with ``/changes``)."""


class MirrorError(JMAPError):
    """A mirror cannot do what was asked (bad configuration, closed store, …)."""


class IncompatibleStore(MirrorError):
    """The store file was written by another schema version, account or program."""


@dataclass(frozen=True)
class TypeSpec:
    """How to reach one data type through the request builder."""

    name: str
    namespace: str
    model: type[JMAPModel]
    queryable: bool


TYPES: dict[str, TypeSpec] = {
    s.name: s
    for s in (
        TypeSpec("ChatContact", "chat_contact", ChatContact, True),
        TypeSpec("Chat", "chat", Chat, True),
        TypeSpec("Message", "message", Message, True),
        TypeSpec("Space", "space", Space, True),
        TypeSpec("SpaceInvite", "space_invite", SpaceInvite, False),
        TypeSpec("CustomEmoji", "custom_emoji", CustomEmoji, True),
        TypeSpec("SpaceBan", "space_ban", SpaceBan, False),
        TypeSpec("ReadPosition", "read_position", ReadPosition, False),
        TypeSpec("PresenceStatus", "presence_status", PresenceStatus, False),
    )
}
_BY_MODEL = {s.model: s for s in TYPES.values()}


def spec_of(type: str | type[JMAPModel]) -> TypeSpec:
    """The spec of a type given by name (``"Message"``) or model class (`Message`)."""
    spec = _BY_MODEL.get(type) if isinstance(type, builtins.type) else TYPES.get(type)
    if spec is None:
        raise LocalProtocolError(f"a mirror keeps one of {', '.join(TYPES)}; not {type!r}")
    return spec


@dataclass(frozen=True)
class Updated(Generic[M]):
    """One updated object: as the mirror had it, and as it is now."""

    old: M
    new: M

    @property
    def id(self) -> str:
        """The object's id."""
        return str(self.new.id)  # type: ignore[attr-defined]


@dataclass
class _TypeDiff:
    created: list[Any] = field(default_factory=list)
    updated: list[Updated[Any]] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)


class Diff:
    """What one `sync()` (or `send()`) changed in the mirror, per type.

    Relative to the mirror, not to the server's log: an object the mirror already had
    that comes back unchanged is no change, and a ``created`` for an object it had is an
    update. ``reloaded`` names the types fetched in full (``cannotCalculateChanges``);
    ``requeried`` the chats whose ordered view was re-queried (``tooManyChanges`` …).
    """

    def __init__(
        self,
        types: Mapping[str, _TypeDiff] | None = None,
        *,
        reloaded: frozenset[str] = frozenset(),
        requeried: frozenset[str] = frozenset(),
        steps: int = 0,
    ) -> None:
        self._types = dict(types or {})
        self.reloaded = reloaded
        self.requeried = requeried
        self.steps = steps
        self.response: Response | None = None
        """For `send()`: the response to the request sent (the user's calls and ours)."""

    def __bool__(self) -> bool:
        return any(d.created or d.updated or d.destroyed for d in self._types.values()) or bool(
            self.reloaded or self.requeried
        )

    def __repr__(self) -> str:
        parts = [
            f"{t}: +{len(d.created)} ~{len(d.updated)} -{len(d.destroyed)}"
            for t, d in sorted(self._types.items())
        ]
        extra = f", reloaded={sorted(self.reloaded)}" if self.reloaded else ""
        return f"<Diff {'; '.join(parts) or 'empty'}{extra}>"

    @property
    def types(self) -> frozenset[str]:
        """The types with at least one created, updated or destroyed object."""
        return frozenset(t for t, d in self._types.items() if d.created or d.updated or d.destroyed)

    # fmt: off
    @overload
    def created(self, type: Literal["ChatContact"]) -> list[ChatContact]: ...
    @overload
    def created(self, type: Literal["Chat"]) -> list[Chat]: ...
    @overload
    def created(self, type: Literal["Message"]) -> list[Message]: ...
    @overload
    def created(self, type: Literal["Space"]) -> list[Space]: ...
    @overload
    def created(self, type: Literal["SpaceInvite"]) -> list[SpaceInvite]: ...
    @overload
    def created(self, type: Literal["CustomEmoji"]) -> list[CustomEmoji]: ...
    @overload
    def created(self, type: Literal["SpaceBan"]) -> list[SpaceBan]: ...
    @overload
    def created(self, type: Literal["ReadPosition"]) -> list[ReadPosition]: ...
    @overload
    def created(self, type: Literal["PresenceStatus"]) -> list[PresenceStatus]: ...
    @overload
    def created(self, type: builtins.type[M]) -> list[M]: ...
    # fmt: on
    def created(self, type: str | builtins.type[JMAPModel]) -> list[Any]:
        """Objects new to the mirror."""
        d = self._types.get(spec_of(type).name)
        return list(d.created) if d else []

    # fmt: off
    @overload
    def updated(self, type: Literal["ChatContact"]) -> list[Updated[ChatContact]]: ...
    @overload
    def updated(self, type: Literal["Chat"]) -> list[Updated[Chat]]: ...
    @overload
    def updated(self, type: Literal["Message"]) -> list[Updated[Message]]: ...
    @overload
    def updated(self, type: Literal["Space"]) -> list[Updated[Space]]: ...
    @overload
    def updated(self, type: Literal["SpaceInvite"]) -> list[Updated[SpaceInvite]]: ...
    @overload
    def updated(self, type: Literal["CustomEmoji"]) -> list[Updated[CustomEmoji]]: ...
    @overload
    def updated(self, type: Literal["SpaceBan"]) -> list[Updated[SpaceBan]]: ...
    @overload
    def updated(self, type: Literal["ReadPosition"]) -> list[Updated[ReadPosition]]: ...
    @overload
    def updated(self, type: Literal["PresenceStatus"]) -> list[Updated[PresenceStatus]]: ...
    @overload
    def updated(self, type: builtins.type[M]) -> list[Updated[M]]: ...
    # fmt: on
    def updated(self, type: str | builtins.type[JMAPModel]) -> list[Updated[Any]]:
        """Objects that changed: ``.old`` (as the mirror had it) and ``.new``."""
        d = self._types.get(spec_of(type).name)
        return list(d.updated) if d else []

    def destroyed(self, type: str | builtins.type[JMAPModel]) -> list[str]:
        """Ids of objects gone from the mirror."""
        d = self._types.get(spec_of(type).name)
        return list(d.destroyed) if d else []


class DiffBuilder:
    """Collects every object a sync touches: its value before the first touch and after
    the last. Several steps (``hasMoreChanges``, a reload) fold into one `Diff`."""

    def __init__(self) -> None:
        self._before: dict[tuple[str, str], Any] = {}
        self._after: dict[tuple[str, str], Any] = {}
        self.reloaded: set[str] = set()
        self.requeried: set[str] = set()
        self.steps = 0

    def touch(self, type: str, id: str, before: Any, after: Any) -> None:
        key = (type, id)
        if key not in self._before:
            self._before[key] = before
        self._after[key] = after

    def build(self) -> Diff:
        out: dict[str, _TypeDiff] = {}
        for key, before in self._before.items():
            after = self._after[key]
            if before == after:
                continue
            d = out.setdefault(key[0], _TypeDiff())
            if before is None:
                d.created.append(after)
            elif after is None:
                d.destroyed.append(key[1])
            else:
                d.updated.append(Updated(before, after))
        return Diff(
            out,
            reloaded=frozenset(self.reloaded),
            requeried=frozenset(self.requeried),
            steps=self.steps,
        )


def iter_types(types: Any) -> Iterator[TypeSpec]:
    """Validate a ``types=`` argument: names or model classes, no repeats."""
    if isinstance(types, str):
        raise LocalProtocolError("types must be a list of type names, not one string")
    seen: set[str] = set()
    for t in types:
        spec = spec_of(t)
        if spec.name in seen:
            raise LocalProtocolError(f"type {spec.name!r} given twice")
        seen.add(spec.name)
        yield spec
