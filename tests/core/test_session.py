"""Session parsing: capabilities, accounts, limits, URL templates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jmapchat._core import (
    WEBSOCKET,
    AccountNotFound,
    CapabilityNotSupported,
    RemoteProtocolError,
    Session,
    SessionURLError,
    expand_template,
    websocket_url,
)
from jmapchat._core._capabilities import CHAT, CHAT_PUSH, CORE

SESSION: dict[str, Any] = {
    "capabilities": {
        CORE: {"maxCallsInRequest": 4, "maxObjectsInSet": 500, "maxSizeUpload": 1000},
        CHAT: {},
        "urn:example:vendor": {"x": 1},
    },
    "accounts": {
        "A1": {
            "name": "alice",
            "isPersonal": True,
            "isReadOnly": False,
            "accountCapabilities": {
                CHAT: {
                    "maxBodyBytes": 4096,
                    "supportedBodyTypes": ["text/plain"],
                    "supportsThreads": True,
                },
            },
        }
    },
    "primaryAccounts": {CHAT: "A1", CORE: "A1"},
    "username": "alice",
    "apiUrl": "/jmap/api/",
    "downloadUrl": "/dl/{accountId}/{blobId}/{name}?type={type}",
    "uploadUrl": "/up/{accountId}/",
    "eventSourceUrl": "/es/?types={types}&closeafter={closeafter}&ping={ping}",
    "state": "st1",
    "ownerUserId": "alice@example",
}


def test_parse_resolves_relative_urls_and_keeps_unknowns() -> None:
    s = Session.parse(json.dumps(SESSION).encode(), base_url="https://h.example/.well-known/jmap")
    assert s.api_url == "https://h.example/jmap/api/"
    assert s.upload_url_for("A1") == "https://h.example/up/A1/"
    assert s.owner_user_id == "alice@example"
    assert s.model_extra == {}
    assert s.capabilities["urn:example:vendor"] == {"x": 1}


def test_limits_with_rfc_defaults() -> None:
    core = Session.parse(SESSION).core
    assert core.max_calls_in_request == 4
    assert core.max_objects_in_get == 500  # default, not advertised
    assert core.max_size_upload == 1000


def test_primary_account_and_chat_capability() -> None:
    s = Session.parse(SESSION)
    assert s.primary_account(CHAT) == "A1"
    chat = s.chat_capability("A1")
    assert chat.max_body_bytes == 4096
    assert chat.supports_threads is True
    with pytest.raises(CapabilityNotSupported) as info:
        s.primary_account(CHAT_PUSH)
    assert info.value.capability == CHAT_PUSH
    with pytest.raises(AccountNotFound):
        s.chat_capability("nope")


def test_primary_account_falls_back_to_the_only_capable_account() -> None:
    doc = dict(SESSION, primaryAccounts={})
    assert Session.parse(doc).primary_account(CHAT) == "A1"
    doc = dict(doc, accounts={})
    with pytest.raises(AccountNotFound):
        Session.parse(doc).primary_account(CHAT)


def test_url_templates_percent_encode() -> None:
    s = Session.parse(SESSION)
    url = s.download_url_for("A1", "B/1", type="image/png", name="my file ü.png")
    assert url == "/dl/A1/B%2F1/my%20file%20%C3%BC.png?type=image%2Fpng"
    assert s.event_source_url_for("Message,Chat", closeafter="state", ping=30) == (
        "/es/?types=Message%2CChat&closeafter=state&ping=30"
    )


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        ("{a}", {"a": "x y"}, "x%20y"),
        ("/p/{a}/{b}", {"a": "-._~", "b": "%"}, "/p/-._~/%25"),
        ("{missing}", {}, ""),
        ("no vars", {"a": "1"}, "no vars"),
    ],
)
def test_expand_template(template: str, variables: dict[str, str], expected: str) -> None:
    assert expand_template(template, variables) == expected


@pytest.mark.parametrize(
    "doc",
    [
        b"[]",
        b"{bad json",
        json.dumps({"capabilities": {}, "accounts": {}, "apiUrl": "/x"}).encode(),  # no core
        json.dumps({"capabilities": {CORE: {}}, "accounts": {}}).encode(),  # no apiUrl
        json.dumps(dict(SESSION, accounts={"A1": {"isPersonal": "maybe"}})).encode(),
    ],
)
def test_malformed_sessions(doc: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        Session.parse(doc)


def _with_ws_url(url: str, base_url: str | None) -> Session:
    caps = {**SESSION["capabilities"], WEBSOCKET: {"url": url, "supportsPush": True}}
    return Session.parse(dict(SESSION, capabilities=caps), base_url=base_url)


@pytest.mark.parametrize(
    ("base", "url", "advertised", "dialled"),
    [
        # relative: resolved against the session URL, http -> ws, https -> wss
        ("https://h.example/.well-known/jmap", "/jmap/ws/", "wss://h.example/jmap/ws/", None),
        ("http://h.example:8080/jmap/session", "ws", "ws://h.example:8080/jmap/ws", None),
        ("HTTP://h.example/a/", "//other.example/ws", "ws://other.example/ws", None),
        # absolute: kept as advertised
        ("https://h.example/", "wss://ws.example/x", "wss://ws.example/x", None),
        ("https://h.example/", "WS://ws.example/x", "WS://ws.example/x", "http://ws.example/x"),
    ],
)
def test_a_relative_websocket_url_is_resolved_against_the_session_url(
    base: str, url: str, advertised: str, dialled: str | None
) -> None:
    s = _with_ws_url(url, base)
    assert s.capabilities[WEBSOCKET]["url"] == advertised
    expected = dialled or advertised.replace("wss://", "https://").replace("ws://", "http://")
    assert websocket_url(s) == expected


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("/jmap/ws/", None),  # relative, and no session URL to resolve it against
        ("mailto:ops@example.org", "https://h.example/"),
        ("ws://[::1", "https://h.example/"),
        ("wss://h.example:99999/ws", "https://h.example/"),
        ("wss://h.example/a b", "https://h.example/"),
        ("ftp://h.example/ws", "https://h.example/"),
    ],
)
def test_an_unusable_websocket_url_is_a_typed_error_when_a_socket_is_wanted(
    url: str, base: str | None
) -> None:
    s = _with_ws_url(url, base)  # parsing succeeds: a client without websocket=True is fine
    with pytest.raises(SessionURLError, match="urn:ietf:params:jmap:websocket url"):
        websocket_url(s)
