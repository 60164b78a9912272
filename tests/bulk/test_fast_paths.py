"""The importer's cheaper per-record paths give the results of the general ones.

- ``normalise_date`` spells a whole-second UTC date without ``strftime``;
- a `Pending` computes its creation id and fingerprint once;
- `envelope_request` (``Message/set`` typed `CreatedIds`) sends the bytes that
  ``req.message.set`` sends;
- an import whose calls are large enough for the bulk paths (creates of raw wire dicts,
  created ids read from the typed result) writes what it should, replies and reactions
  included, against the in-process reference server.

No timing here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jmapchat import AsyncClient, Request
from jmapchat._core import NOT_GIVEN, CreationRef, _wire, dumps
from jmapchat.bulk import AsyncImporter, read_jsonl
from jmapchat.bulk._plan import (
    Packer,
    Pending,
    creation_key,
    envelope_request,
    fingerprint,
    normalise_date,
    reaction_id,
)
from jmapchat.models import MessageCreate, MessageFilter
from jmapchat.server import ChatServer, ServerLimits
from jmapchat.testing import NO_BACKOFF as FAST
from jmapchat.testing import AsyncFaultTransport
from jmapchat.testing import Wire as Log

from .test_importer import jsonl

STRFTIME = "%Y-%m-%dT%H:%M:%S.%f"


def strftime_path(value: str) -> str:
    """What ``normalise_date`` gave for every date before the whole-second shortcut."""
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    return when.astimezone(UTC).strftime(STRFTIME)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_whole_second_dates_normalise_as_strftime_did(when: datetime) -> None:
    text = when.replace(microsecond=0).isoformat() + "Z"
    assert normalise_date(text) == strftime_path(text)


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05.5Z",
        "2024-01-02T03:04:05+02:00",
        "2024-01-02T03:04:05",
        "0999-01-02T03:04:05Z",  # strftime writes 999: the shortcut leaves it alone
        "2024-W01-1T03:04:05Z",  # an ISO week date of the same length
        "2024-01-02",
    ],
)
def test_other_spellings_keep_the_general_path(value: str) -> None:
    assert normalise_date(value) == strftime_path(value)


def test_unreadable_dates_are_kept_as_they_are() -> None:
    assert normalise_date("2024-02-30T00:00:00Z") == "2024-02-30T00:00:00Z"
    assert normalise_date("yesterday") == "yesterday"


def pending(source_id: str, **kw: Any) -> Pending:
    create = MessageCreate(chat_id="C", body=f"body of {source_id} é", **kw)
    return Pending.of(source_id, create, ("👍", "👍", "🎉") if source_id == "r2" else (), "CHAT")


def test_pending_computes_key_and_fingerprint_once_and_replies_keep_them() -> None:
    item = pending("r1", sent_at="2024-01-02T03:04:05Z")
    assert item.key == creation_key("r1")
    expected = fingerprint("CHAT", "2024-01-02T03:04:05Z", "body of r1 é")
    assert item.fingerprint == expected
    assert item.fingerprint is item.fingerprint  # cached
    reply = item.replying_to("#" + creation_key("r0"))
    assert (reply.key, reply.fingerprint) == (item.key, expected)
    assert reply.wire["replyTo"] == "#" + creation_key("r0")
    assert item.replying_to(None).wire.get("replyTo") is None
    # the size is the compact JSON the envelope carries, plus room for the creation id
    assert item.size == len(dumps(item.wire)) + 40


def general_request(items: list[Pending], known: dict[str, str], packer: Packer) -> Request:
    """The envelope as the importer built it before: ``req.message.set`` per chunk."""
    wanted = {str(it.wire.get("replyTo", ""))[1:] for it in items}
    req = Request(account_id="A", created_ids={k: v for k, v in known.items() if k in wanted})
    for chunk in packer.calls(items):
        create: dict[str, Any] = {}
        update: dict[str, Any] = {}
        for item in chunk:
            key = creation_key(item.source_id)
            create[key] = item.wire
            if item.reactions:
                update[f"#{key}"] = {
                    f"reactions/{reaction_id(e)}": {"emoji": e, "sentAt": item.wire["sentAt"]}
                    for e in dict.fromkeys(item.reactions)
                }
        req.message.set(create=create, update=update or NOT_GIVEN)
    return req


@pytest.mark.parametrize("n", [5, 90])
def test_envelope_request_sends_what_message_set_sends(n: int) -> None:
    items = [pending(f"r{i}", sent_at="2024-01-02T03:04:05Z") for i in range(n)]
    items[3] = items[3].replying_to("#" + items[2].key)  # parent in the same envelope
    items[4] = items[4].replying_to("#" + creation_key("gone"))  # parent sent earlier
    items[1] = items[1].replying_to("M-existing")
    packer = Packer(max_objects=80, max_calls=4, max_bytes=10_000_000, envelope_size=500)
    known = {creation_key("gone"): "M-gone", creation_key("unrelated"): "M-x"}
    for given_known in (known, {}):
        req, calls = envelope_request(items, given_known, "A", packer)
        assert req.build() == general_request(items, given_known, packer).build()
        assert [list(keys.values()) for _, keys in calls] == packer.calls(items)
    body = envelope_request(items, known, "A", packer)[0].to_dict()
    assert body["createdIds"] == {creation_key("gone"): "M-gone"}


def test_envelope_request_still_checks_creation_refs() -> None:
    item = pending("r1")
    item.wire["replyTo"] = CreationRef("nowhere")
    packer = Packer(max_objects=80, max_calls=4, max_bytes=10_000_000, envelope_size=500)
    with pytest.raises(Exception, match="unknown creation id 'nowhere'"):
        envelope_request([item], {}, "A", packer)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_an_import_in_large_calls_maps_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 100 creates per call: the raw-dict bulk path is taken (and the typed created ids)
    copied: list[int] = []
    real = _wire._copy_flat_dict_map

    def spy(value: Any) -> Any:
        out = real(value)
        copied.append(0 if out is None else len(out))
        return out

    monkeypatch.setattr(_wire, "_copy_flat_dict_map", spy)
    limits = ServerLimits(max_objects_in_set=200, max_calls_in_request=4)
    with ChatServer(users=["alice", "bob"], limits=limits) as srv:
        log = Log()
        transport = AsyncFaultTransport(httpx.ASGITransport(app=srv.app), log)
        async with AsyncClient.connect(
            "http://testserver", token=srv.tokens["alice"], transport=transport, retries=FAST
        ) as client:
            async with AsyncImporter(client, tmp_path / "j.sqlite") as importer:
                report = await importer.run(read_jsonl(jsonl(700)))
                journal_ids = {f"m{i}": importer.journal.state(f"m{i}") for i in range(700)}
            assert (report.written, report.failed) == (700, {})
            sets = [c for b in log.api_bodies for c in b["methodCalls"] if c[0] == "Message/set"]
            assert max(len(c[1]["create"]) for c in sets) == 100
            assert copied.count(100) == 7  # every full create map was copied in C
            (chat,) = (await client.chat.get(None)).list
            msgs = [
                m async for m in client.query_iter("Message", filter=MessageFilter(chat_id=chat.id))
            ]
            by_body = {m.body: m for m in msgs}
            assert len(by_body) == 700
            for i in range(700):
                assert journal_ids[f"m{i}"] == ("done", by_body[f"message {i}"].id)
                if i % 7 == 3:
                    assert by_body[f"message {i}"].reply_to == by_body[f"message {i - 1}"].id
            reactions = by_body["message 4"].reactions or {}
            assert {r.emoji for r in reactions.values()} == {"👍", "🎉"}
            sent_at = datetime.fromisoformat(by_body["message 5"].sent_at or "")
            assert sent_at - datetime(2024, 1, 2, 3, tzinfo=UTC) == timedelta(seconds=5)
