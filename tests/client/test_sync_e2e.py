"""The blocking `Client` end-to-end over a real loopback socket (hypercorn in a thread).

Same flows as the async client; these tests show the blocking driver performs them."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import jmapchat
from jmapchat import Client
from jmapchat.models import ChatCreate, Message, MessageCreate, MessageFilter
from jmapchat.server import ChatServer
from jmapchat.testing import (
    ClientFactory,
    Wire,
    rate_limited,
    reset_after_send,
    reset_before_send,
    status,
)


@pytest.fixture
def client(jmap_client: ClientFactory) -> Iterator[Client]:
    with jmap_client() as c:
        yield c


def new_chat(client: Client, jmap_server: ChatServer) -> str:
    res = client.chat.set(
        create={"c": ChatCreate.direct(contact_id=jmap_server.contact_ids["bob"])}
    )
    assert res.created is not None
    return res.created["c"].id


def count(client: Client, chat_id: str) -> int:
    res = client.message.query(filter=MessageFilter(chat_id=chat_id), calculate_total=True)
    assert res.total is not None
    return res.total


def test_set_then_changes_and_query_then_get_one_request_each(
    client: Client, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    chat_id = new_chat(client, jmap_server)
    state = client.message.get(ids=[]).state
    req = client.request()
    sent = req.message.set(create={"m1": MessageCreate(chat_id=chat_id, body="hi")})
    news = req.message.changes(since_state=state)
    jmap_wire.reset()
    client.send(req)
    assert jmap_wire.api == 1
    assert len(jmap_wire.requests) == 1
    assert sent.result.created is not None
    assert news.result.created == [sent.result.created["m1"].id]

    req = client.request()
    page = req.message.query(filter=MessageFilter(chat_id=chat_id), limit=50)
    msgs = req.message.get(ids=page.ids, properties=["body"])
    jmap_wire.reset()
    client.send(req)
    assert jmap_wire.api == 1
    assert [m.body for m in msgs.result.list] == ["hi"]


@pytest.mark.slow
def test_ten_thousand_messages_blocking(
    client: Client, jmap_server: ChatServer, jmap_wire: Wire, capsys: pytest.CaptureFixture[str]
) -> None:
    chat_id = new_chat(client, jmap_server)
    n = 10_000
    req = client.request()
    sent = req.message.set(
        create={f"m{i}": MessageCreate(chat_id=chat_id, body=f"bulk {i}") for i in range(n)}
    )
    check = req.message.get(ids=[sent.created_id("m0"), sent.created_id(f"m{n - 1}")])
    jmap_wire.reset()
    started = time.perf_counter()
    client.send(req)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n[10k blocking] {jmap_wire.api} HTTP requests, {elapsed:.2f}s", end=" ")
    assert jmap_wire.api == 6
    created = sent.result.created
    assert created is not None
    assert len(created) == n
    assert [m.body for m in check.result.list] == ["bulk 0", f"bulk {n - 1}"]
    everything = client.message.query(filter=MessageFilter(chat_id=chat_id))
    assert sorted(everything.ids) == sorted({m.id for m in created.values()})


def test_connection_resets(client: Client, jmap_server: ChatServer, jmap_wire: Wire) -> None:
    chat_id = new_chat(client, jmap_server)
    # Before the request is written: retried.
    jmap_wire.inject(reset_before_send())
    jmap_wire.reset()
    client.message.set(create={"a": MessageCreate(chat_id=chat_id, body="a")})
    assert jmap_wire.api == 2
    assert count(client, chat_id) == 1
    # After it is written: not blindly resent; a typed error; applied exactly once.
    jmap_wire.inject(reset_after_send())
    jmap_wire.reset()
    with pytest.raises(jmapchat.ReadError):
        client.message.set(create={"b": MessageCreate(chat_id=chat_id, body="b")})
    assert jmap_wire.api == 1
    assert count(client, chat_id) == 2


def test_authentication_error(jmap_client: ClientFactory) -> None:
    with pytest.raises(jmapchat.AuthenticationError), jmap_client(token="nope"):
        pass


def test_retry_on_503_and_429(client: Client, jmap_wire: Wire) -> None:
    jmap_wire.inject(status(503))
    jmap_wire.reset()
    client.core.echo({})
    assert jmap_wire.api == 2
    jmap_wire.inject(rate_limited(retry_after=0))
    jmap_wire.reset()
    client.core.echo({})
    assert jmap_wire.api == 2


def test_blobs(client: Client, tmp_path: Any) -> None:
    data = b"blocking blob " * 10_000
    sha = hashlib.sha256(data).hexdigest()
    up = client.upload(data)
    assert up.sha256 == sha
    assert client.download(up.blob_id, sha256=sha) == data
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert client.upload(path).sha256 == sha
    assert client.upload(iter([data[:100], data[100:]])).sha256 == sha
    with client.download_stream(up.blob_id, chunk_size=4096) as chunks:
        assert b"".join(chunks) == data
    with pytest.raises(jmapchat.LocalProtocolError):
        client.download(up.blob_id, max_size=10)
    with pytest.raises(jmapchat.RemoteProtocolError):
        client.download(up.blob_id, sha256="1" * 64)


def test_paging(client: Client, jmap_server: ChatServer) -> None:
    chat_id = new_chat(client, jmap_server)
    state = client.message.get(ids=[]).state
    client.message.set(
        create={f"m{i}": MessageCreate(chat_id=chat_id, body=str(i)) for i in range(5)}
    )
    pages = list(client.changes_pages("message", state, max_changes=2))
    assert sum(len(p.created) for p in pages) == 5
    assert len(pages) >= 3
    got = list(client.query_iter("Message", filter=MessageFilter(chat_id=chat_id), page_size=2))
    assert sorted(m.body for m in got) == [str(i) for i in range(5)]
    typed = list(client.message.query_iter(filter=MessageFilter(chat_id=chat_id), page_size=2))
    assert [m.id for m in typed] == [m.id for m in got]
    assert all(isinstance(m, Message) for m in typed)


def test_threads_share_one_client(client: Client, jmap_wire: Wire) -> None:
    errors: list[BaseException] = []
    results: list[int] = []

    def work(i: int) -> None:
        try:
            res = client.core.echo({"i": i})
            results.append(res.model_extra["i"] if res.model_extra else -1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == list(range(12))


def test_repr_redacts_secrets(jmap_client: ClientFactory, jmap_server: ChatServer) -> None:
    c = jmap_client()
    assert jmap_server.tokens["alice"] not in repr(c)
    basic = Client.connect("http://x", username="u", password="hunter2")
    assert "hunter2" not in repr(basic)
    assert "u" in repr(basic)


def test_blob_upload_get_copy_blocking(client: Client) -> None:
    """The blocking client has the same Blob/upload, Blob/get and Blob/copy helpers."""
    up = client.blob.upload(["blocking ", b"blob"], type="text/plain", creation_id="b")
    assert up.created is not None
    blob_id = up.created["b"].id
    got = client.blob.get([blob_id], properties=["data:asText", "size"])
    assert got.list[0].data_as_text == "blocking blob"
    assert got.list[0].size == 13
    copied = client.blob.copy(client.account_id, [blob_id, "Bmissing"])
    assert copied.copied == {blob_id: blob_id}
    assert copied.not_copied is not None
    assert copied.not_copied["Bmissing"].type == "notFound"


@pytest.mark.parametrize("cls", [Client, jmapchat.AsyncClient])
def test_connect_keywords_are_the_constructors(cls: Any) -> None:
    """``connect`` takes exactly the constructor's keywords (spelled once, `ConnectOptions`)."""
    with pytest.raises(TypeError, match="tokn"):
        cls.connect("http://x", tokn="t")
    with pytest.raises(TypeError, match="username= and password= go together"):
        cls.connect("http://x", username="u")
    with pytest.raises(TypeError, match="http_client= or transport="):
        cls.connect("http://x", http_client=object(), transport=object())
    with pytest.raises(TypeError, match="server url"):
        cls.connect()
    c = cls.connect(
        "http://x",
        token="t",
        session_url="http://x/s",
        timeout=5.0,
        retries=jmapchat.RetryPolicy(retries=1),
        account_id="A",
    )
    assert c.retry_policy.retries == 1
    assert "'***'" in repr(c)
    assert c._session_url == "http://x/s"
    assert c._timeout == 5.0
    assert c._wanted_account == "A"
    default = cls("http://x")
    assert default.retry_policy.retries == 3
    assert default._timeout == 30.0
    assert default._session_url == "http://x/.well-known/jmap"
