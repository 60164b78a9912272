"""Compliance section 3: Session and Capabilities."""

from __future__ import annotations

import pytest

from ._harness import CHAT, CHAT_PUSH, CHAT_WS, CORE, JMAP_WS, Harness


def test_3_1_session_chat_capability_empty(h: Harness) -> None:
    """3.1 Session-level chat capability is empty object."""
    caps = h.session("alice")["capabilities"]
    assert CORE in caps
    assert caps[CHAT] == {}
    assert "maxBodyBytes" in h.account_caps("alice", CHAT)


def test_3_2_session_push_capability_empty(h: Harness) -> None:
    """3.2 Session-level push capability is empty object."""
    caps = h.session("alice")["capabilities"]
    assert CHAT_PUSH in caps, sorted(caps)
    assert caps[CHAT_PUSH] == {}


def test_3_3_account_push_capability_populated(h: Harness) -> None:
    """3.3 Account-level push capability populated."""
    acct_caps = h.session("alice")["accounts"][h.acct("alice")]["accountCapabilities"]
    assert CHAT_PUSH in acct_caps, sorted(acct_caps)
    push = acct_caps[CHAT_PUSH]
    assert isinstance(push["maxSnippetBytes"], int)
    assert push["maxSnippetBytes"] >= 0
    values = push["supportedUrgencyValues"]
    assert isinstance(values, list)
    assert set(values) <= {"very-low", "low", "normal", "high"}, values
    assert {"normal", "high"} <= set(values), values
    if "maxMessagesPerPush" in push:
        assert isinstance(push["maxMessagesPerPush"], int)
        assert push["maxMessagesPerPush"] >= 1


def test_3_4_rfc8887_websocket_capability(h: Harness) -> None:
    """3.4 RFC 8887 WebSocket capability present."""
    caps = h.session("alice")["capabilities"]
    if JMAP_WS not in caps and CHAT_WS not in caps:
        pytest.skip(
            "server does not implement the optional WebSocket transport "
            "(draft-atwood-jmap-chat-wss-00 / RFC 8887): neither capability is advertised"
        )
    ws = caps[JMAP_WS]
    assert isinstance(ws["url"], str), ws
    assert ws["url"].startswith(("ws://", "wss://")), ws
    assert isinstance(ws["supportsPush"], bool)
    if CHAT_WS in caps:
        assert caps[CHAT_WS] == {}


def test_3_5_account_role_field(h: Harness) -> None:
    """3.5 Account-level role field."""
    for user in ("alice", "bob"):
        assert h.account_caps(user, CHAT)["role"] == "owner"


def test_3_6_chat_capability_field_names(h: Harness) -> None:
    """3.6 Chat capability field names."""
    chat = h.account_caps("alice", CHAT)
    for key in ("maxBodyBytes", "maxAttachmentBytes", "maxAttachmentsPerMessage"):
        assert isinstance(chat[key], int), (key, chat)
        assert not isinstance(chat[key], bool), (key, chat)
        assert chat[key] >= 0
    assert isinstance(chat["supportedBodyTypes"], list)
    assert "text/plain" in chat["supportedBodyTypes"]
    assert isinstance(chat["supportsThreads"], bool)
    for wrong in ("maxMessageBodySize", "supportedMediaTypes"):
        assert wrong not in chat


def test_3_7_push_capability_in_primary_accounts(h: Harness) -> None:
    """3.7 Push capability in primaryAccounts."""
    primary = h.session("alice")["primaryAccounts"]
    assert primary.get(CHAT) == h.acct("alice")
    assert primary.get(CHAT_PUSH) == h.acct("alice"), primary
