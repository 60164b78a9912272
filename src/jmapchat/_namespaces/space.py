"""``req.space``: Space/get, /changes, /set, /query, /queryChanges and ``Space/join``.

``Space/set`` updates use the draft's semantic keys (`SpaceUpdate`: ``add_members``,
``add_channels``, …), not JSON-pointer patches.
"""

from __future__ import annotations

from typing import overload

from jmapchat._core import (
    CHAT,
    NOT_GIVEN,
    Call,
    ChangesMethods,
    GetMethods,
    Id,
    LocalProtocolError,
    NotGiven,
    SetMethods,
)
from jmapchat.models import (
    Space,
    SpaceCreate,
    SpaceFilter,
    SpaceJoin,
    SpaceJoinResponse,
    SpaceProperty,
    SpaceSortProperty,
    SpaceUpdate,
)

from ._base import QueryChangesMethods, QueryMethods, require_text

__all__ = ["SpaceMethods"]


class SpaceMethods(
    GetMethods[Space, SpaceProperty],
    ChangesMethods,
    SetMethods[Space, SpaceCreate, SpaceUpdate],
    QueryMethods[SpaceFilter, SpaceSortProperty],
    QueryChangesMethods[SpaceFilter, SpaceSortProperty],
):
    """Methods of the Space type (``urn:ietf:params:jmap:chat``)."""

    type_name = "Space"
    capability = CHAT
    model = Space

    @overload
    def join(
        self,
        spec: SpaceJoin,
        *,
        account_id: str | NotGiven = ...,
        call_id: str | None = ...,
    ) -> Call[SpaceJoinResponse]: ...

    @overload
    def join(
        self,
        *,
        invite_code: str,
        account_id: str | NotGiven = ...,
        call_id: str | None = ...,
    ) -> Call[SpaceJoinResponse]: ...

    @overload
    def join(
        self,
        *,
        space_id: Id,
        account_id: str | NotGiven = ...,
        call_id: str | None = ...,
    ) -> Call[SpaceJoinResponse]: ...

    def join(
        self,
        spec: SpaceJoin | None = None,
        *,
        invite_code: str | NotGiven = NOT_GIVEN,
        space_id: Id | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[SpaceJoinResponse]:
        """``Space/join``: join by invite ``code`` (not the invite's id) or a public Space id.

        Exactly one of: a `SpaceJoin` (``SpaceJoin.by_invite(code)`` /
        ``SpaceJoin.by_space_id(id)``), ``invite_code=`` or ``space_id=``. Giving both or
        neither is a type error and, at run time, a `LocalProtocolError`. A bad, expired
        or used-up code → ``invalidArguments``; a non-public Space → ``notPermitted``.
        """
        given = [
            name
            for name, value in (
                ("a SpaceJoin", spec),
                ("invite_code", invite_code),
                ("space_id", space_id),
            )
            if value is not None and not isinstance(value, NotGiven)
        ]
        if len(given) != 1:
            raise LocalProtocolError(
                "Space/join takes exactly one of a SpaceJoin, invite_code= or space_id=; "
                + (f"got {' and '.join(given)}" if given else "got none")
            )
        if spec is not None:
            if not isinstance(spec, SpaceJoin):
                raise LocalProtocolError(
                    f"Space/join: expected a SpaceJoin, not {type(spec).__name__}"
                )
            invite_code, space_id = spec.invite_code, spec.space_id
        if not isinstance(invite_code, NotGiven):
            require_text(invite_code, "Space/join", "invite_code")
        if not isinstance(space_id, NotGiven):
            require_text(space_id, "Space/join", "space_id")
        args = self._args(account_id, invite_code=invite_code, space_id=space_id)
        return self._add(Call, "join", args, SpaceJoinResponse, call_id)
