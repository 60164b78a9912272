# ruff: noqa: PT018
"""`AsyncImporter` against the in-process reference server: packing, exactly-once after an
unknown outcome, rate limits, failures, reply and chat mapping, and the sources."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jmapchat import AsyncClient, Client, RetryPolicy
from jmapchat.bulk import (
    AsyncImporter,
    ImportAborted,
    Importer,
    Journal,
    Progress,
    Record,
    Report,
    SourceError,
    async_export_jsonl,
    export_jsonl,
    read_jsonl,
    read_slack_export,
)
from jmapchat.models import (
    ChannelAdd,
    ChannelUpdate,
    ChatCreate,
    MessageCreate,
    MessageFilter,
    SpaceCreate,
    SpaceMemberAdd,
    SpaceUpdate,
)
from jmapchat.server import ChatServer, ServerLimits, serve_in_thread
from jmapchat.testing import NO_BACKOFF as FAST
from jmapchat.testing import AsyncFaultTransport
from jmapchat.testing import Wire as Log

pytestmark = pytest.mark.anyio

LIMITS = ServerLimits(max_objects_in_set=10, max_calls_in_request=2)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    srv = ChatServer(users=["alice", "bob", "carol"], limits=LIMITS)
    try:
        yield srv
    finally:
        srv.close()


def connect(
    server: ChatServer, log: Log | None = None, user: str = "alice", **kw: Any
) -> AsyncClient:
    transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=server.app)
    if log is not None:
        transport = AsyncFaultTransport(transport, log)
    kw.setdefault("retries", FAST)
    return AsyncClient.connect(
        "http://testserver", token=server.tokens[user], transport=transport, **kw
    )


def jsonl(n: int, *, chat: str = "C1") -> list[str]:
    lines: list[dict[str, Any]] = [
        {"type": "contact", "id": "U2", "login": "bob"},
        {"type": "chat", "id": chat, "kind": "group", "name": "team", "members": ["U2"]},
    ]
    for i in range(n):
        line: dict[str, Any] = {
            "type": "message",
            "id": f"m{i}",
            "chat": chat,
            "body": f"message {i}",
            "sentAt": f"2024-01-02T03:{i // 60 % 60:02d}:{i % 60:02d}Z",
        }
        if i % 7 == 3:
            line["replyTo"] = f"m{i - 1}"
        if i == 4:
            line["reactions"] = ["👍", "🎉"]
        lines.append(line)
    return [json.dumps(x, ensure_ascii=False) for x in lines]


async def import_once(client: AsyncClient, journal: Path, records: Any, **kw: Any) -> Report:
    """One run with a fresh importer, its journal closed afterwards."""
    async with AsyncImporter(client, journal, **kw) as importer:
        return await importer.run(records)


async def all_messages(client: AsyncClient, chat_id: str) -> list[Any]:
    return [m async for m in client.query_iter("Message", filter=MessageFilter(chat_id=chat_id))]


async def test_import_packs_by_limits_maps_replies_and_skips_on_rerun(
    server: ChatServer, tmp_path: Path
) -> None:
    log = Log()
    seen: list[Progress] = []
    async with connect(server, log) as client:
        async with AsyncImporter(client, tmp_path / "j.sqlite", progress=seen.append) as importer:
            report = await importer.run(read_jsonl(jsonl(45)), total=45)
        assert (report.written, report.skipped, report.failed) == (45, 0, {})
        # 10 objects per set, half kept for reactions: 5 per call, 2 calls: 10 per envelope
        creates = [
            len(call[1]["create"])
            for body in log.api_bodies
            for call in body["methodCalls"]
            if call[0] == "Message/set"
        ]
        assert max(creates) <= LIMITS.max_objects_in_set
        assert all(len(b["methodCalls"]) <= LIMITS.max_calls_in_request for b in log.api_bodies)
        assert report.envelopes >= 5
        # replies whose parent is in the same envelope refer to it by creation id
        assert any(
            str(c[1]["create"][k].get("replyTo", "")).startswith("#")
            for b in log.api_bodies
            for c in b["methodCalls"]
            if c[0] == "Message/set"
            for k in c[1]["create"]
        )
        assert seen and seen[-1].done == 45 and seen[-1].total == 45 and seen[-1].eta == 0.0
        (chat,) = (await client.chat.get(None)).list
        assert chat.name == "team" and {m.id for m in chat.members or []} == {"alice", "bob"}
        msgs = await all_messages(client, chat.id)
        by_body = {m.body: m for m in msgs}
        assert len(msgs) == 45 and len(by_body) == 45
        assert by_body["message 3"].reply_to == by_body["message 2"].id
        assert by_body["message 10"].reply_to == by_body["message 9"].id
        assert {r.emoji for r in (by_body["message 4"].reactions or {}).values()} == {"👍", "🎉"}
        # a re-run writes nothing, and sends no Message/set at all
        log.reset()
        again = await import_once(client, tmp_path / "j.sqlite", read_jsonl(jsonl(45)))
        assert (again.written, again.skipped) == (0, 45)
        assert not any("Message/set" in json.dumps(b) for b in log.api_bodies)
        assert len(await all_messages(client, chat.id)) == 45


async def test_lost_reply_is_reconciled_not_resent(server: ChatServer, tmp_path: Path) -> None:
    """The server ran the envelope but the reply was lost: found by fingerprint, not resent."""
    log = Log()
    lost = 0

    def drop_reply(request: httpx.Request, response: httpx.Response, body: bytes) -> Any:
        nonlocal lost
        if b"Message/set" in request.content and lost < 2:
            lost += 1
            return httpx.ReadError("connection reset", request=request)
        return None

    log.after.append(drop_reply)
    async with connect(server, log) as client:
        report = await import_once(client, tmp_path / "j.sqlite", read_jsonl(jsonl(30)))
        assert lost == 2
        assert report.reconciled == 20 and report.written == 10 and not report.failed
        (chat,) = (await client.chat.get(None)).list
        bodies = [m.body for m in await all_messages(client, chat.id)]
        assert sorted(bodies) == sorted(f"message {i}" for i in range(30))
        # only the first two envelopes were ever sent: nothing was sent twice
        sets = [b for b in log.api_bodies if "Message/set" in json.dumps(b)]
        sent = [k for b in sets for c in b["methodCalls"] for k in c[1].get("create", {})]
        assert len(sent) == 30


async def test_http_429_is_waited_out_then_resent(server: ChatServer, tmp_path: Path) -> None:
    log = Log()
    refused = 0

    def too_many(request: httpx.Request) -> Any:
        nonlocal refused
        if b"Message/set" in request.content and refused < 1:
            refused += 1
            return httpx.Response(429, headers={"Retry-After": "0.2"})
        return None

    log.before.append(too_many)
    async with connect(server, log, retries=RetryPolicy(retries=0)) as client:
        report = await import_once(client, tmp_path / "j.sqlite", read_jsonl(jsonl(8)))
        assert refused == 1 and report.waits == [0.2] and report.written == 8


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_slow_mode_waits_and_resends_only_refused(server: ChatServer, tmp_path: Path) -> None:
    """A channel in slow mode (1 s) accepts one message per wait and refuses the rest with
    rateLimited + serverRetryAfter: the importer waits it out and resends only those."""
    async with connect(server) as alice:
        made = await alice.space.set(create={"s": SpaceCreate(name="Acme")})
        sid = made.created["s"].id
        await alice.space.set(
            update={
                sid: SpaceUpdate(
                    add_channels=[ChannelAdd(name="general")],
                    add_members=[SpaceMemberAdd(id="bob")],
                )
            }
        )
        (space,) = (await alice.space.get([sid])).list
        channel = (space.uncategorized_channel_ids or [])[0]
        await alice.space.set(
            update={
                sid: SpaceUpdate(update_channels=[ChannelUpdate(id=channel, slow_mode_seconds=1)])
            }
        )
    log = Log()
    records = [
        Record(source_id=f"s{i}", create=MessageCreate(chat_id=channel, body=f"slow {i}"))
        for i in range(3)
    ]
    seen: list[Progress] = []
    async with connect(server, log, user="bob") as bob:
        report = await import_once(bob, tmp_path / "j.sqlite", records, progress=seen.append)
        assert report.written == 3 and not report.failed
        # the progress callback shows the waits as they happen (a wait is 0 when a loaded
        # machine only got round to it after the server's serverRetryAfter had passed)
        assert [p.waiting for p in seen if p.waiting] == [w for w in report.waits if w]
        assert report.rate_limited == 3  # 2 refused in the first envelope, 1 in the second
        assert len(report.waits) == 2
        assert all(0 <= w <= 1.0 for w in report.waits)
        sent = [
            sorted(c[1]["create"][k]["body"] for k in c[1]["create"])
            for b in log.api_bodies
            for c in b["methodCalls"]
            if c[0] == "Message/set"
        ]
        assert sent == [["slow 0", "slow 1", "slow 2"], ["slow 1", "slow 2"], ["slow 2"]]
        assert sorted(m.body for m in await all_messages(bob, channel)) == [
            "slow 0",
            "slow 1",
            "slow 2",
        ]
        journal = Journal(tmp_path / "j.sqlite")
        assert journal.counts() == {"done": 3}
        journal.close()


async def test_per_record_failures_are_kept_with_their_set_error(
    server: ChatServer, tmp_path: Path
) -> None:
    async with connect(server) as client:
        chat = (await client.chat.set(create={"c": ChatCreate.direct("bob")})).created["c"]
        records = [
            Record(source_id="ok", create=MessageCreate(chat_id=chat.id, body="fine")),
            Record(source_id="bad", create=MessageCreate(chat_id="nosuchchat", body="lost")),
        ]
        async with AsyncImporter(client, tmp_path / "j.sqlite") as importer:
            report = await importer.run(records)
            assert report.written == 1 and list(report.failed) == ["bad"]
            error = report.failed["bad"]
            assert error.type in {"notFound", "invalidProperties", "forbidden"}
            assert importer.journal.failures() == {"bad": error}
        assert report.to_dict()["failed"]["bad"]["type"] == error.type


async def test_export_then_import_round_trips(tmp_path: Path) -> None:
    """Server A -> JSON Lines -> server B -> JSON Lines: the same chats and messages."""
    with (
        ChatServer(users=["alice", "bob"], limits=LIMITS) as a,
        ChatServer(users=["alice", "bob"], limits=LIMITS) as b,
    ):
        async with connect(a) as client:
            await import_once(client, tmp_path / "a.sqlite", read_jsonl(jsonl(25)))
            first = io.StringIO()
            assert await async_export_jsonl(client, first) == 25
            (chat,) = (await client.chat.get(None)).list
            only = io.StringIO()
            assert await async_export_jsonl(client, only, chat_ids=[chat.id]) == 25
            assert only.getvalue() == first.getvalue()
            assert await async_export_jsonl(client, io.StringIO(), chat_ids=["nosuch"]) == 0
        async with connect(b) as client:
            report = await import_once(
                client, tmp_path / "b.sqlite", read_jsonl(first.getvalue().splitlines())
            )
            assert report.written == 25
            second = io.StringIO()
            await async_export_jsonl(client, second)

    def canonical(text: str) -> list[Any]:
        lines = [json.loads(x) for x in text.splitlines()]
        ids = {x["id"]: f"#{n}" for n, x in enumerate(lines)}
        out = []
        for x in lines:
            x = {k: ids.get(v, v) if k in ("id", "chat", "replyTo") else v for k, v in x.items()}
            out.append(x)
        return out

    assert canonical(first.getvalue()) == canonical(second.getvalue())
    assert any("replyTo" in x for x in canonical(second.getvalue()))


def slack_export(root: Path) -> None:
    root.mkdir()
    users = [
        {"id": "UA", "name": "alice", "real_name": "Alice A"},
        {"id": "UB", "name": "bob", "profile": {"display_name": "Bobby"}},
        {"id": "UZ", "name": "zed"},  # not on the server: skipped as a member
    ]
    channels = [{"id": "C1", "name": "general", "members": ["UA", "UB", "UZ"]}]
    day = [
        {"type": "message", "user": "UA", "text": "hello <@UB>", "ts": "1704164645.000100"},
        {
            "type": "message",
            "user": "UB",
            "text": "thread root",
            "ts": "1704164700.000200",
            "thread_ts": "1704164700.000200",
            "reactions": [{"name": "+1", "users": ["UA"], "count": 1}],
        },
        {"type": "message", "subtype": "channel_join", "user": "UZ", "ts": "1704164701.0"},
        {
            "type": "message",
            "user": "UA",
            "text": "a reply",
            "ts": "1704164800.000300",
            "thread_ts": "1704164700.000200",
        },
    ]
    (root / "users.json").write_text(json.dumps(users))
    (root / "channels.json").write_text(json.dumps(channels))
    (root / "general").mkdir()
    (root / "general" / "2024-01-02.json").write_text(json.dumps(day))
    # a DM lists both people: the chat goes to whichever is a contact of the importer
    (root / "dms.json").write_text(json.dumps([{"id": "D1", "members": ["UA", "UB"]}]))
    (root / "D1").mkdir()
    dm = [{"type": "message", "user": "UB", "text": "psst", "ts": "1704164900.000400"}]
    (root / "D1" / "2024-01-02.json").write_text(json.dumps(dm))


@pytest.mark.parametrize("as_zip", [False, True])
async def test_slack_export_directory_or_zip(
    server: ChatServer, tmp_path: Path, as_zip: bool
) -> None:
    root = tmp_path / "slack"
    slack_export(root)
    source: Path = root
    if as_zip:
        source = tmp_path / "slack.zip"
        with zipfile.ZipFile(source, "w") as z:
            for file in root.rglob("*.json"):
                z.write(file, f"export/{file.relative_to(root)}")
    async with connect(server) as client:
        report = await import_once(client, tmp_path / "j.sqlite", read_slack_export(source))
        assert report.written == 4
        chats = {c.kind: c for c in (await client.chat.get(None)).list}
        assert set(chats) == {"group", "direct"}
        assert chats["direct"].contact_id == "bob"
        assert [m.body for m in await all_messages(client, chats["direct"].id)] == ["Bobby: psst"]
        chat = chats["group"]
        assert chat.name == "general" and {m.id for m in chat.members or []} == {"alice", "bob"}
        by_body = {m.body: m for m in await all_messages(client, chat.id)}
        assert set(by_body) == {"Alice A: hello @Bobby", "Bobby: thread root", "Alice A: a reply"}
        root_msg = by_body["Bobby: thread root"]
        assert by_body["Alice A: a reply"].reply_to == root_msg.id
        assert [r.emoji for r in (root_msg.reactions or {}).values()] == ["👍"]
        assert by_body["Alice A: hello @Bobby"].sent_at == "2024-01-02T03:04:05Z"


def test_bad_sources_say_where() -> None:
    with pytest.raises(SourceError, match=r"<input>:2: not JSON"):
        list(read_jsonl(io.StringIO('{"type": "contact", "id": "U1"}\n{oops\n')))
    with pytest.raises(SourceError, match=r":1: missing 'body'|:1: 'chat' must be"):
        list(read_jsonl(['{"type": "message", "id": "m1"}']))
    with pytest.raises(SourceError, match="unknown type 'bogus'"):
        list(read_jsonl(['{"type": "bogus"}']))
    with pytest.raises(SourceError, match="No such file"):
        list(read_jsonl("/nonexistent/file.jsonl"))
    with pytest.raises(SourceError, match="not a Slack export"):
        list(read_slack_export("/nonexistent/export"))


def test_blocking_importer_over_a_socket(tmp_path: Path) -> None:
    """The generated `Importer` (threads for the envelopes in flight) and `export_jsonl`."""
    with (
        ChatServer(users=["alice", "bob"], limits=LIMITS) as srv,
        serve_in_thread(srv) as url,
        Client.connect(url, token=srv.tokens["alice"]) as client,
    ):
        with Importer(client, tmp_path / "j.sqlite", concurrency=3) as importer:
            report = importer.run(read_jsonl(jsonl(40)))
            assert report.written == 40 and report.envelopes >= 4
            assert importer.run(read_jsonl(jsonl(40))).skipped == 40
        out = io.StringIO()
        assert export_jsonl(client, out) == 40


async def test_async_iterable_source(server: ChatServer, tmp_path: Path) -> None:
    async def records() -> AsyncIterator[Record]:
        for record in read_jsonl(jsonl(300)):
            yield record

    async with connect(server) as client:
        report = await import_once(client, tmp_path / "j.sqlite", records())
        assert report.written == 300


async def test_identical_messages_are_reconciled_one_for_one(
    server: ChatServer, tmp_path: Path
) -> None:
    """Same chat, sentAt and body three times: after a lost reply each record gets its own
    message, none is resent, and a later run of the same source skips them all."""
    log = Log()
    lost: list[bool] = []

    def drop_first_set(request: httpx.Request, response: httpx.Response, body: bytes) -> Any:
        if b"Message/set" in request.content and not lost:
            lost.append(True)
            return httpx.ReadError("connection reset", request=request)
        return None

    log.after.append(drop_first_set)
    async with connect(server, log) as client:
        chat = (await client.chat.set(create={"c": ChatCreate.direct("bob")})).created["c"]
        same = {"chat_id": chat.id, "body": "ok", "sent_at": "2024-02-02T02:02:02Z"}
        records = [Record(source_id=f"dup{i}", create=MessageCreate(**same)) for i in range(3)]
        report = await import_once(client, tmp_path / "j.sqlite", records)
        assert (report.reconciled, report.written) == (3, 0)
        again = await import_once(client, tmp_path / "j.sqlite", records)
        assert again.skipped == 3
        msgs = await all_messages(client, chat.id)
        assert [m.body for m in msgs] == ["ok", "ok", "ok"]
        journal = Journal(tmp_path / "j.sqlite")
        ids = {journal.state(f"dup{i}") for i in range(3)}
        journal.close()
        assert ids == {("done", m.id) for m in msgs}


async def test_envelopes_fit_max_size_request_and_an_oversize_record_fails_alone(
    tmp_path: Path,
) -> None:
    log = Log()
    with ChatServer(users=["alice", "bob"], limits=ServerLimits(max_size_request=8000)) as srv:
        async with connect(srv, log) as client:
            chat = (await client.chat.set(create={"c": ChatCreate.direct("bob")})).created["c"]
            bodies = ["y" * 900] * 20 + ["x" * 9000, "small"]
            records = [
                Record(
                    source_id=f"r{i}",
                    create=MessageCreate(
                        chat_id=chat.id, body=body, sent_at=f"2024-01-01T00:00:{i:02d}Z"
                    ),
                    reactions=("👍",) if i % 2 else (),
                )
                for i, body in enumerate(bodies)
            ]
            report = await import_once(client, tmp_path / "j.sqlite", records)
            assert report.written == 21
            assert list(report.failed) == ["r20"]
            assert report.failed["r20"].type == "tooLarge"
            sets = [b for b in log.api_bodies if "Message/set" in json.dumps(b)]
            assert len(sets) >= 3  # 20 x ~1 kB do not fit one 8 kB request
            assert all(len(json.dumps(b).encode()) <= 8000 for b in sets)
            assert report.envelopes == len(sets)  # never split by the executor


async def test_a_journal_belongs_to_one_account(server: ChatServer, tmp_path: Path) -> None:
    async with connect(server) as alice:
        await import_once(alice, tmp_path / "j.sqlite", read_jsonl(jsonl(3)))
    async with connect(server, user="bob") as bob:
        with pytest.raises(ImportAborted, match="belongs to account"):
            await import_once(bob, tmp_path / "j.sqlite", read_jsonl(jsonl(3)))
