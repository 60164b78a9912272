"""Every fenced ``python`` block of README.md and docs/ runs against the reference server.

A block that cannot run (pseudo-code, a placeholder host, a test file run elsewhere) is
marked by an HTML comment on the line just before its fence, with the reason::

    <!-- no-run: why -->

The blocks of one page run in order in one namespace (as in a REPL session), inside one
asyncio event loop: top-level ``await`` works, and a block that defines ``main`` has it called
with the namespace's values for its parameters. The namespace starts with everything of
``jmapchat.models``, ``jmapchat``, ``httpx``, ``json`` and the names the docs use for what
a reader would have at hand (see `world`): ``url``, ``token``, ``client`` (an
``AsyncClient`` of alice, again in every block), ``chat_id``/``cid``/``c`` (a direct
chat with bob), …
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import jmapchat
from jmapchat.models import (
    ChatCreate,
    MessageCreate,
    MessageText,
    ReactionInput,
    RichText,
)
from jmapchat.models.ids import reaction_id
from jmapchat.server import ChatServer, ServerLimits, serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
NO_RUN = re.compile(r"<!--\s*no-run:\s*(\S[^>]*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    code: str
    no_run: str | None


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NO_RUN.search(before)
        line = text.count("\n", 0, m.start()) + 2
        out.append(Block(page, line, m.group(1), marker.group(1) if marker else None))
    return out


RUNNABLE = {p: [b for b in blocks(p) if b.no_run is None] for p in PAGES}


def test_markers_are_well_formed() -> None:
    for page in PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            if "no-run" in line and line.lstrip().startswith("<!--"):
                assert NO_RUN.search(line), f"{page.name}: {line!r} needs '<!-- no-run: why -->'"


def test_most_blocks_run() -> None:
    every = [b for p in PAGES for b in blocks(p)]
    skipped = [b for b in every if b.no_run]
    assert len(every) >= 20
    assert len(skipped) * 3 < len(every), [(b.page.name, b.line, b.no_run) for b in skipped]


@pytest.fixture
def live() -> Iterator[tuple[ChatServer, str]]:
    with (
        ChatServer(users=["alice", "bob"], limits=ServerLimits(max_calls_in_request=4)) as server,
        serve_in_thread(server) as url,
    ):
        yield server, url


async def world(
    server: ChatServer, url: str, client: jmapchat.AsyncClient, tmp: Path
) -> dict[str, Any]:
    """What a reader of the docs is assumed to have at hand."""
    token = server.tokens["alice"]
    chat = await client.chat.set(create={"c": ChatCreate.direct(server.contact_ids["bob"])})
    assert chat.created is not None
    cid = chat.created["c"].id
    state = (await client.message.get(ids=[])).state
    text = MessageText().text("hi ").mention("@bøb", id="bob")
    sent = await client.message.set(
        create={
            "t": text.to_create(chat_id=cid),
            "r": MessageCreate.rich(chat_id=cid, body=RichText().bold("hello").build()),
        }
    )
    assert sent.created is not None
    got = await client.message.get(ids=[sent.created["t"].id, sent.created["r"].id])
    received, message = got.list
    blob = tmp / "cat.png"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    async with httpx.AsyncClient() as http:
        session_bytes = (
            await http.get(f"{url}/jmap/session", headers={"Authorization": f"Bearer {token}"})
        ).content

    def my_http_post(api_url: str, body: bytes) -> bytes:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return httpx.post(api_url, content=body, headers=headers).content

    ns: dict[str, Any] = {"__name__": "__docs__"}
    exec("from jmapchat.models import *", ns)
    ns.update(
        jmapchat=jmapchat,
        httpx=httpx,
        json=__import__("json"),
        server=server,
        url=url,
        token=token,
        TOKEN=token,
        client=client,
        chat_id=cid,
        cid=cid,
        c=cid,
        bob="bob",
        last_state=state,
        since_state=state,
        rows=[(i, f"row {i}") for i in range(10_000)],
        apply=lambda *changes: None,
        path=blob,
        rid=reaction_id(),
        old=reaction_id(),
        code="INVITE-CODE",
        space_id="S1",
        received=received,
        message=message,
        session_url=f"{url}/jmap/session",
        session_json_bytes=session_bytes,
        my_http_post=my_http_post,
        ReactionInput=ReactionInput,
    )
    return ns


async def run_block(block: Block, ns: dict[str, Any]) -> None:
    where = f"{block.page.relative_to(ROOT)}:{block.line}"
    code = compile(block.code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    main_before = ns.get("main")
    result = eval(code, ns)
    if inspect.iscoroutine(result):
        await result
    main = ns.get("main")
    if callable(main) and main is not main_before:
        params = inspect.signature(main).parameters
        out = main(**{p: ns[p] for p in params})
        if inspect.iscoroutine(out):
            await out


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if RUNNABLE[p]],
    ids=[str(p.relative_to(ROOT)) for p in PAGES if RUNNABLE[p]],
)
def test_the_python_blocks_of_a_page_run(
    page: Path, live: tuple[ChatServer, str], tmp_path: Path
) -> None:
    server, url = live

    async def main() -> None:
        async with jmapchat.AsyncClient.connect(url, token=server.tokens["alice"]) as client:
            ns = await world(server, url, client, tmp_path)
            for block in RUNNABLE[page]:
                try:
                    await run_block(block, ns)
                    ns["client"] = client  # every block starts with alice's AsyncClient
                except BaseException as exc:
                    exc.add_note(f"in the block at {block.page.name}:{block.line}")
                    raise

    anyio.run(main, backend="asyncio")
