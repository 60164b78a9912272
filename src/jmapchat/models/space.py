"""Space (a multi-channel container) with its roles, members, categories, and inputs.

``Space/set`` updates are *not* JSON-pointer patches: the draft defines semantic keys
(``addMembers``, ``updateChannels``, …) whose items are the typed models below.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self, TypeAlias

from pydantic import Field, model_validator

from jmapchat._core import NOT_GIVEN, Id, JMAPInput, JMAPModel, NotGiven

from ._common import InvalidInputError, require_non_empty

__all__ = [
    "Category",
    "CategoryAdd",
    "CategoryUpdate",
    "ChannelAdd",
    "ChannelPermission",
    "ChannelPermissionInput",
    "ChannelUpdate",
    "Space",
    "SpaceCreate",
    "SpaceFilter",
    "SpaceJoin",
    "SpaceJoinResponse",
    "SpaceMember",
    "SpaceMemberAdd",
    "SpaceMemberUpdate",
    "SpaceProperty",
    "SpaceRole",
    "SpaceRoleAdd",
    "SpaceRoleUpdate",
    "SpaceSortProperty",
    "SpaceUpdate",
]


class SpaceRole(JMAPModel):
    """A named permission set; higher ``position`` outranks lower (0 = implicit @everyone)."""

    id: str
    name: str | None = None
    color: str | None = Field(None, description='Hex colour, e.g. "#5865f2".')
    permissions: list[str] | None = Field(None, description="See SpacePermission; unknown kept.")
    position: int | None = None


class SpaceMember(JMAPModel):
    """A Space participant; ``id`` is the ChatContact.id. Empty roleIds = only @everyone."""

    id: str
    role_ids: list[str] | None = None
    nick: str | None = None
    joined_at: str | None = None


class Category(JMAPModel):
    """A named, ordered group of channels."""

    id: str
    name: str | None = None
    position: int | None = None
    channel_ids: list[str] | None = None


class ChannelPermission(JMAPModel):
    """A per-channel override (``Chat.permissionOverrides``) for a role or a member."""

    target_id: str = Field(description="A SpaceRole id or a member's ChatContact.id.")
    target_type: str = Field(description='"role" or "member".')
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)


class ChannelPermissionInput(JMAPInput):
    """A ChannelPermission as sent in ``ChannelUpdate(permission_overrides=[...])``."""

    target_id: Id
    target_type: str
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)


SpaceProperty: TypeAlias = Literal[
    "id",
    "name",
    "description",
    "iconBlobId",
    "roles",
    "members",
    "categories",
    "uncategorizedChannelIds",
    "createdAt",
    "isPublic",
    "isPubliclyPreviewable",
    "memberCount",
]

SpaceSortProperty: TypeAlias = Literal["name"]


class Space(JMAPModel):
    """A Space. Non-members may get a restricted view (id, name, description, iconBlobId,
    memberCount, createdAt, isPublic, isPubliclyPreviewable): everything but ``id`` is
    optional, absent fields are ``None`` and not in ``model_fields_set``.
    """

    id: str
    name: str | None = None
    description: str | None = None
    icon_blob_id: str | None = None
    roles: list[SpaceRole] | None = Field(None, description="position descending; no @everyone.")
    members: list[SpaceMember] | None = None
    categories: list[Category] | None = None
    uncategorized_channel_ids: list[str] | None = None
    created_at: str | None = None
    is_public: bool | None = None
    is_publicly_previewable: bool | None = None
    member_count: int | None = None


class SpaceCreate(JMAPInput):
    """``Space/set`` create: the caller becomes an administrator."""

    name: str
    description: str | NotGiven = NOT_GIVEN
    icon_blob_id: Id | NotGiven = NOT_GIVEN

    @model_validator(mode="after")
    def _check(self) -> Self:
        require_non_empty(self.name, "space name")
        return self


class _Named(JMAPInput):
    """Guards ``name`` (when given) against empty strings."""

    _what: ClassVar[str] = "name"

    @model_validator(mode="after")
    def _check_name(self) -> Self:
        require_non_empty(getattr(self, "name", None), self._what)
        return self


class SpaceRoleAdd(_Named):
    """An ``addRoles`` item (needs ``manage_roles``; position below your own highest)."""

    _what: ClassVar[str] = "role name"
    name: str
    permissions: list[str]
    position: int = Field(gt=0, description="> 0; 0 is the implicit @everyone role.")
    color: str | NotGiven = NOT_GIVEN


class SpaceRoleUpdate(_Named):
    """An ``updateRoles`` item."""

    _what: ClassVar[str] = "role name"
    id: Id
    name: str | NotGiven = NOT_GIVEN
    color: str | None | NotGiven = NOT_GIVEN
    permissions: list[str] | NotGiven = NOT_GIVEN
    position: int | NotGiven = NOT_GIVEN


class SpaceMemberAdd(JMAPInput):
    """An ``addMembers`` item (needs ``manage_members``)."""

    id: Id
    role_ids: list[Id] | NotGiven = NOT_GIVEN


class SpaceMemberUpdate(JMAPInput):
    """An ``updateMembers`` item (role changes need ``manage_roles``)."""

    id: Id
    role_ids: list[Id] | NotGiven = NOT_GIVEN
    nick: str | None | NotGiven = NOT_GIVEN


class ChannelAdd(_Named):
    """An ``addChannels`` item: the server creates a ``kind: "channel"`` Chat."""

    _what: ClassVar[str] = "channel name"
    name: str
    category_id: Id | NotGiven = NOT_GIVEN
    position: int | NotGiven = NOT_GIVEN
    topic: str | NotGiven = NOT_GIVEN


class ChannelUpdate(_Named):
    """An ``updateChannels`` item (``id`` is the channel Chat id)."""

    _what: ClassVar[str] = "channel name"
    id: Id
    name: str | NotGiven = NOT_GIVEN
    topic: str | None | NotGiven = NOT_GIVEN
    category_id: Id | None | NotGiven = NOT_GIVEN
    position: int | NotGiven = NOT_GIVEN
    slow_mode_seconds: int | NotGiven = NOT_GIVEN
    permission_overrides: list[ChannelPermissionInput] | NotGiven = NOT_GIVEN


class CategoryAdd(_Named):
    """An ``addCategories`` item."""

    _what: ClassVar[str] = "category name"
    name: str
    position: int | NotGiven = NOT_GIVEN
    channel_ids: list[Id] | NotGiven = NOT_GIVEN


class CategoryUpdate(_Named):
    """An ``updateCategories`` item."""

    _what: ClassVar[str] = "category name"
    id: Id
    name: str | NotGiven = NOT_GIVEN
    position: int | NotGiven = NOT_GIVEN
    channel_ids: list[Id] | NotGiven = NOT_GIVEN


class SpaceUpdate(_Named):
    """``Space/set`` update with the draft's semantic keys (not JSON pointers).

    ``to_wire()`` gives e.g. ``{"addMembers": [{"id": "bob"}], "removeChannels": ["c1"]}``.
    """

    _what: ClassVar[str] = "space name"
    name: str | NotGiven = NOT_GIVEN
    description: str | None | NotGiven = NOT_GIVEN
    icon_blob_id: Id | None | NotGiven = NOT_GIVEN
    is_public: bool | NotGiven = NOT_GIVEN
    is_publicly_previewable: bool | NotGiven = NOT_GIVEN
    add_roles: list[SpaceRoleAdd] | NotGiven = NOT_GIVEN
    update_roles: list[SpaceRoleUpdate] | NotGiven = NOT_GIVEN
    remove_roles: list[Id] | NotGiven = NOT_GIVEN
    add_members: list[SpaceMemberAdd] | NotGiven = NOT_GIVEN
    update_members: list[SpaceMemberUpdate] | NotGiven = NOT_GIVEN
    remove_members: list[Id] | NotGiven = NOT_GIVEN
    add_channels: list[ChannelAdd] | NotGiven = NOT_GIVEN
    update_channels: list[ChannelUpdate] | NotGiven = NOT_GIVEN
    remove_channels: list[Id] | NotGiven = NOT_GIVEN
    add_categories: list[CategoryAdd] | NotGiven = NOT_GIVEN
    update_categories: list[CategoryUpdate] | NotGiven = NOT_GIVEN
    remove_categories: list[Id] | NotGiven = NOT_GIVEN


class SpaceFilter(JMAPInput):
    """``Space/query`` FilterCondition (``is_public=True`` also finds previewable public
    Spaces you are not a member of)."""

    name: str | NotGiven = NOT_GIVEN
    is_public: bool | NotGiven = NOT_GIVEN


class SpaceJoin(JMAPInput):
    """``Space/join`` arguments (without ``accountId``): exactly one of an invite code or
    a public Space id. Use `SpaceJoin.by_invite` / `SpaceJoin.by_space_id`.

    The invite code is a secret: it is left out of ``repr``.
    """

    invite_code: str | NotGiven = Field(NOT_GIVEN, repr=False)
    space_id: Id | NotGiven = NOT_GIVEN

    @model_validator(mode="after")
    def _check(self) -> Self:
        has_code = not isinstance(self.invite_code, NotGiven)
        has_space = not isinstance(self.space_id, NotGiven)
        if has_code == has_space:
            raise InvalidInputError("Space/join takes exactly one of invite_code or space_id")
        if has_code:
            require_non_empty(self.invite_code, "invite code")
        if has_space:
            require_non_empty(self.space_id, "space id")
        return self

    @classmethod
    def by_invite(cls, invite_code: str) -> SpaceJoin:
        """Join by redeeming a SpaceInvite ``code`` (not its id)."""
        return cls(invite_code=invite_code)

    @classmethod
    def by_space_id(cls, space_id: str) -> SpaceJoin:
        """Join a public Space directly (non-public → ``notPermitted``)."""
        return cls(space_id=space_id)

    def __repr_args__(self) -> Any:
        yield from super().__repr_args__()
        if not isinstance(self.invite_code, NotGiven):
            yield "invite_code", "<redacted>"


class SpaceJoinResponse(JMAPModel):
    """``Space/join`` response."""

    account_id: str
    space_id: str
