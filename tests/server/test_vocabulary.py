"""The reference server speaks the protocol's names from the client models (one
vocabulary), while its checks stay its own: what the models refuse, the server refuses
too, independently (so the server remains an oracle for the client)."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from jmapchat._core import CoreCapability, Session
from jmapchat.capabilities import CHAT, CHAT_PUSH, ERROR_LIMIT, ERROR_NOT_JSON
from jmapchat.models import (
    EMOJI_NAME_MAX,
    BroadcastScope,
    ChatCapability,
    ChatDataType,
    ChatMessageEntryProperty,
    ChatPushCapability,
    CustomEmojiCreate,
    PushUrgency,
    SpacePermission,
    SpanType,
)
from jmapchat.server import ChatServer, ServerLimits
from jmapchat.server._config import ChatSettings
from jmapchat.server._push import DEFAULT_PROPS
from jmapchat.server._session import session_resource
from jmapchat.server._types._access import PERMISSIONS
from jmapchat.server._types._content import SCOPES, SPAN_TYPES
from jmapchat.server._ws import session_capabilities
from tests.compliance import conftest as _raw_http
from tests.compliance._harness import PNG_1X1, Harness
from tests.compliance.test_06_push import DEFAULT_PROPS as DRAFT_DEFAULT_PROPS

# the compliance suite's raw-HTTP fixtures: a fresh server with alice, bob and carol
server = _raw_http.server
client = _raw_http.client
h = _raw_http.h


def test_the_server_names_come_from_the_models() -> None:
    assert set(PERMISSIONS) == set(get_args(SpacePermission))
    assert set(SCOPES) == set(get_args(BroadcastScope))
    assert set(SPAN_TYPES) == set(get_args(SpanType))
    assert ERROR_LIMIT == "urn:ietf:params:jmap:error:limit"
    assert ERROR_NOT_JSON == "urn:ietf:params:jmap:error:notJSON"


def test_server_limits_are_the_core_capability() -> None:
    limits = ServerLimits()
    assert isinstance(limits, CoreCapability)
    assert limits.max_calls_in_request == CoreCapability().max_calls_in_request
    for bad in (0, -1, True, "4", 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            ServerLimits(max_calls_in_request=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ServerLimits(max_calls_in_requests=4)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("a" * EMOJI_NAME_MAX, True),
        ("a" * (EMOJI_NAME_MAX + 1), False),
        ("party_parrot-2", True),
        ("Party", False),
        ("a:b", False),
    ],
)
def test_one_emoji_name_rule_in_the_models_and_the_server(h: Harness, name: str, ok: bool) -> None:
    blob = h.upload("alice", PNG_1X1, "image/png")
    obj = {"name": name, "blobId": blob["blobId"]}
    if ok:
        CustomEmojiCreate(name=name, blob_id=blob["blobId"])
        h.create("alice", "CustomEmoji", obj)
    else:
        with pytest.raises(ValidationError, match="custom emoji name"):
            CustomEmojiCreate(name=name, blob_id=blob["blobId"])
        err = h.create_error("alice", "CustomEmoji", obj)
        assert err["type"] == "invalidProperties", err
        assert err.get("properties") == ["name"], err


def test_the_session_advertises_the_settings_as_the_client_reads_them(h: Harness) -> None:
    doc = h.session("alice")
    session = Session.parse(doc)
    assert session.core.model_dump() == ServerLimits().model_dump()
    account = session.accounts[session.primary_accounts[CHAT]]
    chat = ChatCapability.model_validate(account.account_capabilities[CHAT])
    settings = ChatSettings()
    assert chat.max_body_bytes == settings.max_body_bytes
    assert chat.supported_body_types == settings.supported_body_types
    assert chat.role == "owner"
    assert "maxGroupMembers" not in account.account_capabilities[CHAT]  # enforced, not said
    push = ChatPushCapability.model_validate(account.account_capabilities[CHAT_PUSH])
    assert push.supported_urgency_values == list(get_args(PushUrgency))
    assert push.max_messages_per_push == 1


def test_the_session_resource_is_built_from_the_session_model(
    server: ChatServer, h: Harness
) -> None:
    served = h.session("alice")
    base = served["apiUrl"].removesuffix("/jmap/api/")
    built = session_resource(
        server.core, "alice", base, served["state"], session_capabilities(base)
    )
    assert built == served
    assert list(built) == list(served)  # the same order of members, too


def test_push_entry_properties_come_from_the_models() -> None:
    # the push draft's default set, in the draft's order (as the compliance suite lists it)
    assert list(DEFAULT_PROPS) == DRAFT_DEFAULT_PROPS
    assert set(DEFAULT_PROPS) < set(get_args(ChatMessageEntryProperty))


def test_data_type_names_are_one_list() -> None:
    """Push, EventSource and WebSocket type filters and the sync mirror all name the
    data types from `models.ChatDataType`."""
    from jmapchat.server._types.misc import PUSH_TYPES
    from jmapchat.sync import TypeName

    names = get_args(ChatDataType)
    assert names == PUSH_TYPES
    assert names == get_args(TypeName)
    assert len(names) == 9
