"""ChatContact (a remote user known to this mailbox) and its Endpoint sub-type."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pydantic import Field

from jmapchat._core import NOT_GIVEN, JMAPInput, JMAPModel, NotGiven

__all__ = [
    "ChatContact",
    "ChatContactFilter",
    "ChatContactProperty",
    "ChatContactSortProperty",
    "ChatContactUpdate",
    "Endpoint",
]


class Endpoint(JMAPModel):
    """An out-of-band capability (video call, payment, …). Untrusted: never act automatically.

    Ignore endpoints whose ``type`` you do not recognise (see `EndpointType`).
    """

    type: str
    uri: str
    label: str | None = None
    metadata: dict[str, Any] | None = Field(None, description="Type-specific; ignore unknown keys.")


ChatContactProperty: TypeAlias = Literal[
    "id",
    "login",
    "displayName",
    "firstSeenAt",
    "lastSeenAt",
    "presence",
    "lastActiveAt",
    "statusText",
    "statusEmoji",
    "endpoints",
    "blocked",
    "serverUrl",
    "directAddress",
]

ChatContactSortProperty: TypeAlias = Literal["lastSeenAt", "login", "lastActiveAt"]


class ChatContact(JMAPModel):
    """A remote user. ``id`` *is* the auth-layer userId (opaque: ``user@host``, a DID, …).

    Only ``id`` is required (partial ``/get`` results parse); absent fields are ``None``
    and not in ``model_fields_set``. No create/destroy: the server manages contacts.
    """

    id: str
    login: str | None = None
    display_name: str | None = None
    first_seen_at: str | None = None
    last_seen_at: str | None = None
    presence: str | None = Field(
        None, description="online|away|busy|invisible|offline; absent = unknown."
    )
    last_active_at: str | None = None
    status_text: str | None = None
    status_emoji: str | None = None
    endpoints: list[Endpoint] | None = None
    blocked: bool | None = None
    server_url: str | None = Field(None, description="Federation draft.")
    direct_address: str | None = Field(None, description="Federation draft.")

    @property
    def best_name(self) -> str:
        """What to display: displayName, else login, else id."""
        return self.display_name or self.login or self.id


class ChatContactUpdate(JMAPInput):
    """``ChatContact/set`` update: only ``blocked`` and ``displayName`` are writable."""

    blocked: bool | NotGiven = NOT_GIVEN
    display_name: str | None | NotGiven = NOT_GIVEN


class ChatContactFilter(JMAPInput):
    """``ChatContact/query`` FilterCondition."""

    blocked: bool | NotGiven = NOT_GIVEN
    presence: str | NotGiven = NOT_GIVEN
