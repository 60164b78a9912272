"""What `AsyncMirror` and `Mirror` share that does no I/O: setup and local, typed reads."""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from jmapchat._core import JMAPModel
from jmapchat.models import (
    Chat,
    ChatContact,
    CustomEmoji,
    Message,
    PresenceStatus,
    ReadPosition,
    Space,
    SpaceBan,
    SpaceInvite,
)

from ._plan import MirrorCore, OrderedView
from ._store import MirrorStore, ViewWrite, open_store
from ._types import MirrorError, TypeSpec, iter_types, spec_of

if TYPE_CHECKING:
    from jmapchat import Request

__all__ = ["DEFAULT_TYPES", "MirrorBase", "Objects"]

M = TypeVar("M", bound=JMAPModel)
C = TypeVar("C")

DEFAULT_TYPES = ("ChatContact", "Chat", "Message")


class Objects(Mapping[str, M]):
    """``mirror.objects(type)``: a read-only mapping id → object over the store (live)."""

    def __init__(self, store: MirrorStore, type: str) -> None:
        self._store = store
        self._type = type

    def __getitem__(self, id: str) -> M:
        obj = self._store.get(self._type, id)
        if obj is None:
            raise KeyError(id)
        return obj  # type: ignore[return-value]

    def __iter__(self) -> Iterator[str]:
        return iter(self._store.ids(self._type))

    def __len__(self) -> int:
        return len(self._store.ids(self._type))

    def __repr__(self) -> str:
        return f"<Objects {self._type}: {len(self)}>"


class MirrorBase(Generic[C]):
    """Setup and local reads of a mirror (no I/O). ``C``: the client it drives."""

    _new_lock: Callable[[], Any]
    """The lock serialising steps (anyio's for the async mirror, threading's otherwise)."""

    def __init__(
        self,
        client: C,
        *,
        types: Sequence[str | type[JMAPModel]] = DEFAULT_TYPES,
        store: MirrorStore | str | os.PathLike[str] | None = None,
        properties: Mapping[str, Sequence[str]] | None = None,
        max_changes: int | None = None,
        view_max_changes: int = 256,
    ) -> None:
        self._client: Any = client
        self._lock = self._new_lock()
        self._specs: list[TypeSpec] = list(iter_types(types))
        if not self._specs:
            raise MirrorError("a mirror needs at least one type")
        props = dict(properties or {})
        for name in props:
            if spec_of(name).name not in {s.name for s in self._specs}:
                raise MirrorError(f"properties given for {name!r}, which is not mirrored")
        self._properties = props
        if max_changes is not None and max_changes < 1:
            raise MirrorError("max_changes must be a positive integer")
        if view_max_changes < 1:
            raise MirrorError("view_max_changes must be a positive integer")
        self._max_changes = max_changes
        self._view_max_changes = view_max_changes
        self._store_arg = store
        self._store: MirrorStore | None = None
        self._owns_store = False
        self._mirror: MirrorCore | None = None

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self._specs)
        return f"<{type(self).__name__} [{names}] {'open' if self._mirror else 'closed'}>"

    def _bind(self) -> None:
        """Open the store and attach it to the client's account (no I/O but the store)."""
        store, owned = open_store(self._store_arg)
        try:
            store.bind(self._client.account_id, {s.name: s.model for s in self._specs})
        except BaseException:
            if owned:
                store.close()
            raise
        self._store, self._owns_store = store, owned
        self._mirror = MirrorCore(
            specs=self._specs,
            store=store,
            new_request=self._new_request,
            properties={spec_of(k).name: v for k, v in self._properties.items()},
            max_objects_in_get=self._client.session.core.max_objects_in_get,
            max_changes=self._max_changes,
            view_max_changes=self._view_max_changes,
        )

    def _new_request(self) -> Request:
        req: Request = self._client.request()
        return req

    def _unbind(self) -> None:
        store, self._store, self._mirror = self._store, None, None
        if store is not None and self._owns_store:
            store.close()

    def _core(self) -> MirrorCore:
        if self._mirror is None:
            raise MirrorError("the mirror is not open (use it as a context manager, or open())")
        return self._mirror

    @property
    def types(self) -> tuple[str, ...]:
        """The mirrored data types."""
        return tuple(s.name for s in self._specs)

    @property
    def store(self) -> MirrorStore:
        """The store holding the mirrored objects and their states."""
        return self._core().store

    def state(self, type: str | builtins.type[JMAPModel]) -> str | None:
        """The server state the mirror of ``type`` is at (None before the first sync)."""
        return self._core().store.state(self._mirrored(type))

    def _mirrored(self, type: str | builtins.type[JMAPModel]) -> str:
        name = spec_of(type).name
        if name not in self._core().specs:
            raise MirrorError(
                f"{name} is not mirrored; this mirror keeps {', '.join(self._core().specs)}"
            )
        return name

    def _view(self, chat_id: str) -> tuple[OrderedView, bool]:
        """The view of ``chat_id``, and whether it was just registered (it needs a step)."""
        core = self._core()
        if "Message" not in core.specs:
            raise MirrorError("ordered message views need 'Message' in the mirror's types")
        if not isinstance(chat_id, str) or not chat_id:
            raise MirrorError(f"chat_id must be a non-empty id, not {chat_id!r}")
        view = core.views.get(chat_id)
        if view is None:
            view = core.views[chat_id] = OrderedView(chat_id, core.store)
            stored = core.store.view(chat_id)  # kept from an earlier run: resume it
            if stored is not None:
                view._set(ViewWrite(chat_id, *stored))
            return view, True
        return view, False

    def _concerns(self, event: Any) -> bool:
        """Does a pushed event (a StateChange) announce a state the mirror is not at?"""
        changed = getattr(event, "changed", None)
        if not isinstance(changed, Mapping):
            return False
        ours = changed.get(self._client.account_id)
        if not isinstance(ours, Mapping):
            return False
        core = self._core()
        return any(t in core.specs and core.store.state(t) != s for t, s in ours.items())

    # --- typed local reads -------------------------------------------------------------

    # fmt: off
    @overload
    def get(self, type: Literal["ChatContact"], id: str) -> ChatContact | None: ...
    @overload
    def get(self, type: Literal["Chat"], id: str) -> Chat | None: ...
    @overload
    def get(self, type: Literal["Message"], id: str) -> Message | None: ...
    @overload
    def get(self, type: Literal["Space"], id: str) -> Space | None: ...
    @overload
    def get(self, type: Literal["SpaceInvite"], id: str) -> SpaceInvite | None: ...
    @overload
    def get(self, type: Literal["CustomEmoji"], id: str) -> CustomEmoji | None: ...
    @overload
    def get(self, type: Literal["SpaceBan"], id: str) -> SpaceBan | None: ...
    @overload
    def get(self, type: Literal["ReadPosition"], id: str) -> ReadPosition | None: ...
    @overload
    def get(self, type: Literal["PresenceStatus"], id: str) -> PresenceStatus | None: ...
    @overload
    def get(self, type: builtins.type[M], id: str) -> M | None: ...
    # fmt: on
    def get(self, type: str | builtins.type[JMAPModel], id: str) -> Any:
        """The local copy of one object, or None. No I/O."""
        return self._core().store.get(self._mirrored(type), id)

    # fmt: off
    @overload
    def objects(self, type: Literal["ChatContact"]) -> Objects[ChatContact]: ...
    @overload
    def objects(self, type: Literal["Chat"]) -> Objects[Chat]: ...
    @overload
    def objects(self, type: Literal["Message"]) -> Objects[Message]: ...
    @overload
    def objects(self, type: Literal["Space"]) -> Objects[Space]: ...
    @overload
    def objects(self, type: Literal["SpaceInvite"]) -> Objects[SpaceInvite]: ...
    @overload
    def objects(self, type: Literal["CustomEmoji"]) -> Objects[CustomEmoji]: ...
    @overload
    def objects(self, type: Literal["SpaceBan"]) -> Objects[SpaceBan]: ...
    @overload
    def objects(self, type: Literal["ReadPosition"]) -> Objects[ReadPosition]: ...
    @overload
    def objects(self, type: Literal["PresenceStatus"]) -> Objects[PresenceStatus]: ...
    @overload
    def objects(self, type: builtins.type[M]) -> Objects[M]: ...
    # fmt: on
    def objects(self, type: str | builtins.type[JMAPModel]) -> Objects[Any]:
        """Every local object of ``type``: a read-only mapping id → object. No I/O."""
        return Objects(self._core().store, self._mirrored(type))
