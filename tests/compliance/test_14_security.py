"""Compliance section 14: Security and Robustness (code-review findings).

Several of these are properties of one implementation's internals (transaction helpers,
migrations, password hashing).  Where a black-box consequence is observable over HTTP the
test checks it; otherwise the case is skipped with the reason.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import unquote

import pytest

from ._harness import Harness, now

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\\r\n]|\\.)*"'
_PARAM = re.compile(rf"\s*;\s*({_TOKEN})\s*=\s*(?:{_TOKEN}|{_QUOTED})")
_DISPOSITION = re.compile(
    rf"^\s*{_TOKEN}(?:\s*;\s*{_TOKEN}\s*=\s*(?:{_TOKEN}|{_QUOTED}))*\s*;?\s*$"
)
PEER_HEADERS = {"X-Peer-Hostname": "victim.example", "X-Peer-Id": "victim.example"}


def test_14_1_peer_auth_header_bypass(h: Harness) -> None:
    """14.1 Peer authentication header bypass."""
    call = {
        "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"],
        "methodCalls": [
            [
                "Peer/deliver",
                {
                    "senderUserId": "mallory@victim.example",
                    "chatId": "01J3XKZQN4MWVT8PPBEHTJ3HXA",
                    "senderMsgId": "01J3YKZQP5MWVT8PPBEHTJ3HXA",
                    "body": "forged",
                    "bodyType": "text/plain",
                    "sentAt": now(),
                },
                "c1",
            ]
        ],
    }
    # No credentials, only a peer-identity header: rejected at the HTTP layer. The draft's
    # authorization section says 401 for non-owners; the compliance doc says 403.
    r = h.post_api(None, json.dumps(call).encode(), PEER_HEADERS)
    assert r.status_code in {401, 403}, (r.status_code, r.text)
    # With owner credentials the header grants nothing: Peer/* stays forbidden.
    resp = h.request("alice", call["methodCalls"], headers=PEER_HEADERS)
    name, args, _ = resp["methodResponses"][0]
    assert name == "error", resp
    assert args["type"] == "forbidden", resp


def test_14_2_transaction_atomicity(h: Harness) -> None:
    """14.2 Transaction atomicity for multi-step writes.

    Black-box consequence: a message create that fails part-way through validation (a bad
    mention after an otherwise valid body and attachment) leaves no trace — no message, no
    state change, no lastMessageAt bump.
    """
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "baseline")
    before_chat = h.get1("alice", "Chat", chat)
    before_state = h.get("alice", "Message", [])["state"]
    err = h.send_error(
        "alice",
        chat,
        "hello",
        attachments=[h.attachment("alice")],
        mentions=[{"id": h.cid("bob"), "offset": 3, "length": 50}],
    )
    assert err["type"] in {"invalidArguments", "invalidProperties"}, err
    assert len(h.message_ids("alice", chat)) == 1
    assert h.get("alice", "Message", [])["state"] == before_state
    after_chat = h.get1("alice", "Chat", chat)
    assert after_chat is not None
    assert before_chat is not None
    assert after_chat.get("lastMessageAt") == before_chat.get("lastMessageAt")
    bob_chat = h.direct_chat_with("bob", "alice")
    assert len(h.message_ids("bob", bob_chat)) == 1


def test_14_3_state_counter_atomicity(h: Harness) -> None:
    """14.3 State counter atomicity."""
    chat = h.direct_chat("alice", "bob")
    start = h.get("alice", "Message", [])["state"]
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    # as many writers as maxConcurrentRequests: requests really run at once now
    n = h.server.limits.max_concurrent_requests
    barrier = threading.Barrier(n)

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(
                h.set(
                    "alice",
                    "Message",
                    create={
                        "m": {
                            "chatId": chat,
                            "body": f"concurrent {i}",
                            "bodyType": "text/plain",
                            "sentAt": now(),
                        }
                    },
                )
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert len(results) == n
    new_states = [r["newState"] for r in results]
    assert len(set(new_states)) == n, f"duplicate state tokens: {new_states}"
    # Each call's oldState -> newState steps form one chain from the starting state.
    chain = {r["oldState"]: r["newState"] for r in results}
    assert len(chain) == n, f"two writes observed the same oldState: {results}"
    state, seen = start, 0
    while state in chain:
        state, seen = chain[state], seen + 1
    assert seen == n, (start, chain)
    changes = h.ok("alice", "Message/changes", {"sinceState": start})
    assert len(changes["created"]) == n, changes
    assert changes["newState"] == state


def test_14_4_like_wildcard_injection(h: Harness) -> None:
    """14.4 LIKE wildcard injection in Chat/query."""
    h.group_chat("alice", ["bob"], "plain name")
    h.group_chat("alice", ["bob"], "100% real")
    h.group_chat("alice", ["bob"], "snake_chat")
    # Chat/query's draft filters are kind and muted; a server may reject `name`.
    for needle, expected in (("%", "100% real"), ("_", "snake_chat")):
        name, res = h.call("alice", "Chat/query", {"filter": {"name": needle}})
        if name == "error":
            assert res["type"] in {"unsupportedFilter", "invalidArguments"}, res
            continue
        got = h.get("alice", "Chat", res["ids"])["list"]
        assert [c["name"] for c in got] == [expected], got
    # Space/query does define a substring `name` filter.
    h.space("alice", "plain space")
    pct = h.space("alice", "50% off")
    under = h.space("alice", "snake_case")
    slash = h.space("alice", "back\\slash")
    assert h.query("alice", "Space", filter={"name": "%"}) == [pct]
    assert h.query("alice", "Space", filter={"name": "_"}) == [under]
    # ... and the escape character itself is literal too.
    assert h.query("alice", "Space", filter={"name": "\\"}) == [slash]
    assert h.query("alice", "Space", filter={"name": "k\\s"}) == [slash]


@pytest.mark.skip(
    reason="internal: nested transaction context-manager semantics are not observable over HTTP "
    "without fault injection inside the server"
)
def test_14_5_nested_transaction_safety(h: Harness) -> None:
    """14.5 Nested transaction safety."""


@pytest.mark.skip(
    reason="federation + internal: needs a channel row with NULL space_id written straight into "
    "the database and a Peer/deliver to it"
)
def test_14_6_channel_null_spaceid(h: Harness) -> None:
    """14.6 Channel with NULL space_id bypasses enforcement."""


def test_14_7_burn_on_read_fresh_database(h: Harness) -> None:
    """14.7 burn_on_read column missing from base schema."""
    # Fresh in-memory database (per-test server): marking a message read must not crash.
    chat = h.direct_chat("alice", "bob")
    h.send("alice", chat, "read me")
    bob_chat = h.direct_chat_with("bob", "alice")
    (copy,) = h.message_ids("bob", bob_chat)
    h.update("bob", "Message", copy, {"readAt": now()})
    got = h.get1("bob", "Message", copy)
    assert got is not None
    assert got["readAt"] is not None
    assert got["readDisposition"] == "displayed"
    # An unknown disposition is stored as-is (draft §ReadDisposition).
    h.send("alice", chat, "listen")
    second = h.message_ids("bob", bob_chat)[-1]
    h.update("bob", "Message", second, {"readAt": now(), "readDisposition": "voice-listened"})
    got = h.get1("bob", "Message", second)
    assert got is not None
    assert got["readDisposition"] == "voice-listened"


@pytest.mark.skip(
    reason="federation: Peer/groupUpdate create is a server-to-server method (owner accounts "
    "get forbidden, see 5.3)"
)
def test_14_8_peer_groupupdate_partial_write(h: Harness) -> None:
    """14.8 Peer/groupUpdate partial write on validation failure."""


def test_14_9_permission_logic_consistent(h: Harness) -> None:
    """14.9 Permission check logic divergence between modules.

    Black-box version: a member holding *several* roles must get the same answer from
    every permission check (channel management and broadcast-mention), and a member lacking
    the permissions must be refused by both.
    """
    sid = h.space("alice", "Consistency")
    r1 = h.add_role("alice", sid, "talkers", ["view", "send"], 2)
    r2 = h.add_role("alice", sid, "mods", ["manage_channels", "mention_broadcast"], 1)
    h.add_space_member("alice", sid, "bob", [r1, r2])
    h.add_space_member("alice", sid, "carol", [r1])
    chan = h.add_channel("bob", sid, "bobs-channel")
    h.send("bob", chan, "@here hi", broadcastMentions=[{"scope": "here", "offset": 0, "length": 5}])
    res = h.set("carol", "Space", update={sid: {"addChannels": [{"name": "carols-channel"}]}})
    assert res["notUpdated"][sid]["type"] == "forbidden", res
    err = h.send_error(
        "carol", chan, "@here hi", broadcastMentions=[{"scope": "here", "offset": 0, "length": 5}]
    )
    assert err["type"] == "forbidden", err


@pytest.mark.skip(
    reason="internal: requires injecting invalid SQL into the server's schema migrations"
)
def test_14_10_migration_error_suppression(h: Harness) -> None:
    """14.10 Migration error suppression too broad."""


@pytest.mark.skip(
    reason="not applicable: the reference server authenticates with bearer tokens (no password "
    "hashing), and timing assertions are excluded from this suite"
)
def test_14_11_password_hash_timing_oracle(h: Harness) -> None:
    """14.11 Password hash timing oracle."""


@pytest.mark.skip(
    reason="not applicable: the reference server stores no passwords (bearer tokens), so there "
    "is no scrypt work factor"
)
def test_14_12_scrypt_work_factor(h: Harness) -> None:
    """14.12 scrypt work factor below OWASP minimum."""


@pytest.mark.skip(
    reason="internal: constant-time comparison of SHA-256 digests is a source property, not "
    "observable over HTTP without timing assertions"
)
def test_14_13_constant_time_sha256_comparison(h: Harness) -> None:
    """14.13 Variable-time comparison for blob SHA256 verification."""


def test_14_14_content_disposition_injection(h: Harness) -> None:
    """14.14 Content-Disposition header injection via filename."""
    data = b"quoted"
    blob = h.upload("alice", data, "text/plain")
    for name in ('"test.txt', 'a"; filename="evil.exe', "naïve\r\nX-Injected: 1.txt"):
        r = h.download("alice", blob["blobId"], "text/plain", name)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.content == data
        assert "x-injected" not in r.headers
        cd = r.headers.get("content-disposition")
        if cd is None:
            continue
        assert "\r" not in cd, cd
        assert "\n" not in cd, cd
        # The whole header must parse as disposition-type *( ";" token "=" value ) with
        # quotes inside quoted-strings backslash-escaped (RFC 6266 / RFC 9110 §5.6), and it
        # must carry at most one `filename` parameter.
        assert _DISPOSITION.match(cd), cd
        names = [m.group(1).lower() for m in _PARAM.finditer(cd)]
        assert names.count("filename") <= 1, cd
        # RFC 8620 §6.2: the name given is *the* filename; an RFC 8187 `filename*` carries it
        # exactly.
        ext = re.search(r"filename\*\s*=\s*UTF-8''([^;\s]*)", cd, re.IGNORECASE)
        if ext:
            assert unquote(ext.group(1)) == name, cd


@pytest.mark.skip(
    reason="internal: requires a database with an injected constraint violation on a schema column"
)
def test_14_15_bare_except_swallowing_db_errors(h: Harness) -> None:
    """14.15 Bare except swallowing real DB errors."""


def test_14_16_update_message_atomic(h: Harness) -> None:
    """14.16 update_message not atomic.

    Black-box consequence: an edit whose new mentions are invalid must change nothing —
    neither body nor mentions — rather than committing the body and failing on mentions.
    """
    chat = h.direct_chat("alice", "bob")
    mention = {"id": h.cid("bob"), "offset": 0, "length": 3}
    msg = h.send("alice", chat, "bob, hi", mentions=[mention])
    err = h.update_error(
        "alice",
        "Message",
        msg,
        {"body": "edited", "mentions": [{"id": h.cid("bob"), "offset": 4, "length": 10}]},
    )
    assert err["type"] in {"invalidArguments", "invalidProperties"}, err
    got = h.get1("alice", "Message", msg)
    assert got is not None
    assert got["body"] == "bob, hi"
    assert got["mentions"] == [mention]
    assert got.get("editedAt") is None
    assert not got.get("editHistory")


@pytest.mark.skip(
    reason="federation: outbound Peer/* connection pooling to a peer server needs a peer"
)
def test_14_17_federation_outbox_connection_pooling(h: Harness) -> None:
    """14.17 Per-request session creation in federation outbox."""
