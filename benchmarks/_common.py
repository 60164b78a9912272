"""Shared helpers for the benchmarks: a seeded reference server and timing utilities.

Every benchmark compares against a baseline measured in the same run and prints ratios;
nothing here asserts on time.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from jmapchat.server import ChatServer

USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"]


def best_of(fn: Callable[[], Any], *, number: int, repeat: int = 7) -> float:
    """Best per-call time in seconds over ``repeat`` runs of ``number`` calls (timeit style)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return min(times)


def quiet_heap() -> None:
    """The same GC discipline before every measurement: collect, then freeze what is left.

    Frozen objects are never traversed again, so the baseline and the candidate only pay
    the collector for what they allocate themselves (not for the interpreter's, the
    imports' or a previous measurement's heap).
    """
    gc.collect()
    gc.freeze()


def interleaved(
    cases: dict[str, Callable[[], Any]],
    *,
    number: int,
    repeat: int = 9,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Best per-call seconds of each case; the cases take turns within every repeat.

    Taking turns means a burst of load from another process hits every case alike
    rather than one of them; the minimum over the repeats is the least disturbed run.
    """
    for fn in cases.values():  # warm up (connections, caches, schemas)
        fn()
    quiet_heap()
    best: dict[str, float] = dict.fromkeys(cases, float("inf"))
    for _ in range(repeat):
        for name, fn in cases.items():
            t0 = clock()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (clock() - t0) / number)
    return best


async def interleaved_async(
    cases: dict[str, Callable[[], Awaitable[Any]]],
    *,
    number: int,
    repeat: int = 9,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """`interleaved` for coroutine functions, timed inside the running event loop."""
    for fn in cases.values():
        await fn()
    quiet_heap()
    best: dict[str, float] = dict.fromkeys(cases, float("inf"))
    for _ in range(repeat):
        for name, fn in cases.items():
            t0 = clock()
            for _ in range(number):
                await fn()
            best[name] = min(best[name], (clock() - t0) / number)
    return best


def machine() -> str:
    import os

    import pydantic_core

    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"pydantic-core {pydantic_core.__version__}, {os.cpu_count()} CPU(s), "
        f"{platform.machine()}"
    )


def verdict(value: float, target: float, *, at_most: bool = True) -> str:
    ok = value <= target if at_most else value >= target
    return f"target {'≤' if at_most else '≥'} {target:g}×: {'met' if ok else 'NOT met'}"


@dataclass(frozen=True)
class Captured:
    """A real ``Message/query`` + ``Message/get`` reply captured from the reference server.

    ``session`` and ``reply`` are the server's exact bytes; URLs in ``session`` start with
    ``CAPTURE_BASE`` (replace it with wherever the bytes are served again).
    """

    reply: bytes
    session: bytes
    request: bytes
    account_id: str
    chat_id: str
    count: int


CAPTURE_BASE = "http://capture"


def capture_reply(count: int) -> Captured:
    """Seed a reference server with ``count`` messages in a subprocess and capture the reply.

    The server runs in another process, so the measuring process never holds its heap.
    """
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="jmapchat-bench-") as tmp:
        subprocess.run(
            [sys.executable, str(here / "_capture.py"), str(count), tmp],
            check=True,
        )
        return load_captured(Path(tmp))


def save_captured(cap: Captured, where: Path) -> None:
    (where / "reply.json").write_bytes(cap.reply)
    (where / "session.json").write_bytes(cap.session)
    (where / "request.json").write_bytes(cap.request)
    meta = {"account_id": cap.account_id, "chat_id": cap.chat_id, "count": cap.count}
    (where / "meta.json").write_text(json.dumps(meta))


def load_captured(where: Path) -> Captured:
    meta = json.loads((where / "meta.json").read_text())
    return Captured(
        reply=(where / "reply.json").read_bytes(),
        session=(where / "session.json").read_bytes(),
        request=(where / "request.json").read_bytes(),
        account_id=meta["account_id"],
        chat_id=meta["chat_id"],
        count=meta["count"],
    )


def in_fresh_processes(script: str, args: list[str], runs: int) -> list[dict[str, Any]]:
    """Run ``script --measure *args`` ``runs`` times, one after the other, each in a new
    interpreter; every run prints one JSON object as its last line. Returns them.

    A fresh process per run measures a client that has never held a server's (or a
    previous run's) heap, and spreads the process-level luck (memory layout) over
    several runs; callers report the median.
    """
    out = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, script, "--measure", *args],
            check=True,
            capture_output=True,
            text=True,
        )
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


@contextmanager
def replay_server(cap: Captured) -> Iterator[str]:
    """Serve ``cap`` from `_replay_server.py` in a subprocess; yield its base URL."""
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="jmapchat-replay-") as tmp:
        save_captured(cap, Path(tmp))
        proc = subprocess.Popen(
            [sys.executable, str(here / "_replay_server.py"), tmp],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            port = int(proc.stdout.readline())
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def median_of(fn: Callable[[], Any], *, number: int, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def seed_messages(server: ChatServer, count: int) -> tuple[str, str]:
    """Create a direct chat alice→bob with ``count`` varied messages; return (account, chat)."""

    async def go() -> tuple[str, str]:
        acc = server.account_ids["alice"]
        headers = {"Authorization": f"Bearer {server.tokens['alice']}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server.app), base_url="http://seed", timeout=120
        ) as http:

            async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
                body = {"using": USING, "methodCalls": [[name, {"accountId": acc, **args}, "0"]]}
                r = await http.post("/jmap/api/", json=body, headers=headers)
                r.raise_for_status()
                rname, rargs, _ = r.json()["methodResponses"][0]
                assert rname == name, rargs
                out: dict[str, Any] = rargs
                return out

            bob = server.contact_ids["bob"]
            chat = await call("Chat/set", {"create": {"c": {"kind": "direct", "contactId": bob}}})
            chat_id = chat["created"]["c"]["id"]
            batch = server.limits.max_objects_in_set
            for start in range(0, count, batch):
                create: dict[str, Any] = {}
                for i in range(start, min(count, start + batch)):
                    body = f"@{bob} message {i}: the quick brown fox jumps over the lazy dog"
                    m: dict[str, Any] = {
                        "chatId": chat_id,
                        "body": body,
                        "bodyType": "text/plain",
                        "sentAt": "2026-11-25T10:00:00Z",
                    }
                    if i % 10 == 0:
                        m["mentions"] = [{"id": bob, "offset": 0, "length": len(bob) + 1}]
                    create[f"m{i}"] = m
                res = await call("Message/set", {"create": create})
                assert not res.get("notCreated"), res.get("notCreated")
            return acc, chat_id

    return anyio.run(go)


def post_raw(server: ChatServer, user: str, body: bytes) -> bytes:
    """POST an envelope straight to the ASGI app and return the reply bytes."""

    async def go() -> bytes:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server.app), base_url="http://raw", timeout=120
        ) as http:
            r = await http.post(
                "/jmap/api/",
                content=body,
                headers={
                    "Authorization": f"Bearer {server.tokens[user]}",
                    "Content-Type": "application/json",
                },
            )
            r.raise_for_status()
            return r.content

    return anyio.run(go)


def ratio_rows(
    runs: Sequence[dict[str, dict[str, float]]],
    labels: Sequence[str],
    target: float,
    *,
    scale: float,
    unit_format: str,
    ratio_format: str,
    base: str = "raw",
) -> tuple[list[tuple[str, ...]], float]:
    """One table row per client from fresh-process runs of ``{"raw": s, "typed": s}``:
    median ``base`` and typed times (×``scale``), the median typed/base ratio, its range
    and the verdict; and the worst median ratio."""
    rows: list[tuple[str, ...]] = []
    worst = 0.0
    for label in labels:
        ratios = [r[label]["typed"] / r[label][base] for r in runs]
        ratio = statistics.median(ratios)
        worst = max(worst, ratio)
        rows.append(
            (
                label,
                format(statistics.median(r[label][base] for r in runs) * scale, unit_format),
                format(statistics.median(r[label]["typed"] for r in runs) * scale, unit_format),
                f"{ratio:{ratio_format}}×",
                f"{min(ratios):{ratio_format}}–{max(ratios):{ratio_format}}",
                verdict(ratio, target),
            )
        )
    return rows, worst
