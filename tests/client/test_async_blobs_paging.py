"""Blobs (upload/download with sha256 and size caps) and paging (changes, query), async."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import jmapchat
from jmapchat.models import Message, MessageCreate, MessageFilter
from jmapchat.server import ChatServer
from jmapchat.testing import AsyncClientFactory, Wire

from ._chat import message_state, new_chat

pytestmark = pytest.mark.anyio

DATA = bytes(range(256)) * 1000  # 256 kB, several stream chunks
SHA = hashlib.sha256(DATA).hexdigest()


async def test_upload_bytes_and_download_verified(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        up = await client.upload(DATA, type="application/x-test")
        assert up.size == len(DATA)
        assert up.sha256 == SHA
        assert up.type == "application/x-test"
        got = await client.download(up.blob_id, sha256=SHA, max_size=len(DATA))
        assert got == DATA
        chunks = []
        async with client.download_stream(up.blob_id, chunk_size=10_000) as stream:
            async for chunk in stream:
                chunks.append(chunk)
        assert b"".join(chunks) == DATA
        assert len(chunks) > 1


async def test_upload_from_path_file_and_async_iterator(
    make_client: AsyncClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(DATA)

    async def parts() -> AsyncIterator[bytes]:
        for i in range(0, len(DATA), 50_000):
            yield DATA[i : i + 50_000]

    async with make_client() as client:
        a = await client.upload(path)
        with path.open("rb") as f:
            b = await client.upload(f)
        c = await client.upload(parts())
        assert a.sha256 == b.sha256 == c.sha256 == SHA
        assert a.size == b.size == c.size == len(DATA)


async def test_download_checks_sha256_and_size_cap(make_client: AsyncClientFactory) -> None:
    async with make_client() as client:
        up = await client.upload(DATA)
        with pytest.raises(jmapchat.RemoteProtocolError, match="sha256"):
            await client.download(up.blob_id, sha256="0" * 64)
        with pytest.raises(jmapchat.LocalProtocolError, match=r"cap|limit"):
            await client.download(up.blob_id, max_size=1000)
        with pytest.raises(jmapchat.HTTPStatusError) as info:
            await client.download("Bnope")
        assert info.value.status_code == 404


async def test_upload_checks_max_size_upload_first(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    def small_uploads(
        request: httpx.Request, response: httpx.Response, body: bytes
    ) -> httpx.Response | None:
        if request.method != "GET":
            return None
        doc = json.loads(body)
        doc["capabilities"]["urn:ietf:params:jmap:core"]["maxSizeUpload"] = 1000
        return httpx.Response(200, json=doc, request=request)

    jmap_wire.after.append(small_uploads)

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 100

    async with make_client() as client:
        jmap_wire.reset()
        with pytest.raises(jmapchat.LocalProtocolError, match="maxSizeUpload"):
            await client.upload(DATA)
        assert jmap_wire.requests == []  # refused before any I/O
        with pytest.raises(jmapchat.LocalProtocolError, match="limit"):
            await client.upload(endless())  # size unknown: stopped while streaming


async def test_corrupted_upload_is_detected(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    def corrupt(
        request: httpx.Request, response: httpx.Response, body: bytes
    ) -> httpx.Response | None:
        if "/upload" not in request.url.path:
            return None
        doc = json.loads(body)
        doc["sha256"] = "f" * 64
        return httpx.Response(201, json=doc, request=request)

    jmap_wire.after.append(corrupt)
    async with make_client() as client:
        with pytest.raises(jmapchat.RemoteProtocolError, match="corrupted"):
            await client.upload(b"hello")


async def test_changes_pages_follow_has_more_changes(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)
        state = await message_state(client)
        res = await client.message.set(
            create={f"m{i}": MessageCreate(chat_id=chat_id, body=str(i)) for i in range(7)}
        )
        assert res.created is not None
        jmap_wire.reset()
        pages = [p async for p in client.changes_pages("Message", state, max_changes=2)]
        assert len(pages) >= 4
        assert jmap_wire.api == len(pages)
        assert all(p.has_more_changes for p in pages[:-1])
        assert not pages[-1].has_more_changes
        seen = [i for p in pages for i in p.created]
        assert sorted(seen) == sorted(m.id for m in res.created.values())


async def test_query_iter_by_position(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)
        await client.message.set(
            create={f"m{i}": MessageCreate(chat_id=chat_id, body=f"q{i}") for i in range(12)}
        )
        jmap_wire.reset()
        bodies = [
            m.body
            async for m in client.query_iter(
                "message", filter=MessageFilter(chat_id=chat_id), page_size=5, properties=["body"]
            )
        ]
        assert sorted(bodies) == sorted(f"q{i}" for i in range(12))
        assert jmap_wire.api == 3  # 5 + 5 + 2, one request (query + get) per page


async def test_blob_methods_in_one_request(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    """Blob/upload, Blob/get and Blob/copy through the typed namespace, one round trip."""
    from jmapchat.models import BlobSlice

    async with make_client() as client:
        acc = client.account_id
        req = client.request()
        up = req.blob.upload(["hello ", b"world"], type="text/plain", creation_id="hw")
        part = req.blob.upload([BlobSlice(blob_id="#hw", offset=6, length=5)], creation_id="w")
        got = req.blob.get(["#hw", "#w"], properties=["data", "size", "digest:sha-256"])
        copied = req.blob.copy(acc, ["#w"])
        jmap_wire.reset()
        await client.send(req)
        assert jmap_wire.api == 1
        created = up.result.created
        assert created is not None
        assert created["hw"].size == 11
        assert part.result.created is not None
        word_id = part.result.created["w"].id
        items = {b.id: b for b in got.result.list}
        assert items[created["hw"].id].content == b"hello world"
        assert items[word_id].data_as_text == "world"
        assert items[word_id].digest_sha256 is not None
        assert copied.result.copied == {word_id: word_id}
        # one-call helpers mirror the namespace
        again = await client.blob.get([word_id], properties=["data:asBase64"])
        assert again.list[0].content == b"world"


async def test_blob_convert_through_the_namespace(make_client: AsyncClientFactory) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 32), (0, 90, 200)).save(buf, format="PNG")
    async with make_client() as client:
        up = await client.upload(buf.getvalue(), type="image/png")
        res = await client.blob.convert(up.blob_id, "image/webp", width=16, creation_id="t")
        assert res.created is not None
        thumb = res.created["t"]
        assert thumb.type == "image/webp"
        with Image.open(io.BytesIO(await client.download(thumb.id))) as img:
            assert img.size == (16, 8)


async def test_namespace_query_iter_is_typed_and_built_through_the_namespace(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)
        await client.message.set(
            create={f"m{i}": MessageCreate(chat_id=chat_id, body=f"n{i}") for i in range(7)}
        )
        jmap_wire.reset()
        got = [
            m
            async for m in client.message.query_iter(
                filter=MessageFilter(chat_id=chat_id), page_size=3
            )
        ]
        assert all(isinstance(m, Message) for m in got)
        assert sorted(m.body for m in got) == sorted(f"n{i}" for i in range(7))
        assert jmap_wire.api == 3  # 3 + 3 + 1
        # The generic form reaches the same namespace; a type without one is refused
        # before any request, with a typed error.
        jmap_wire.reset()
        with pytest.raises(jmapchat.LocalProtocolError, match="no request namespace"):
            client.query_iter("Nonexistent")
        with pytest.raises(jmapchat.LocalProtocolError, match="no query"):
            client.query_iter("core")
        with pytest.raises(jmapchat.LocalProtocolError, match="no request namespace"):
            client.changes_pages("Nonexistent", "s0")
        assert jmap_wire.api == 0
