"""Generate the blocking twins from their async sources.

``_client/_async.py`` -> ``_client/_sync.py`` (`AsyncClient` -> `Client`),
``bulk/_async.py`` -> ``bulk/_sync.py`` (`AsyncImporter` -> `Importer`),
``sync/_async.py`` -> ``sync/_sync.py`` (`AsyncMirror` -> `Mirror`), and the client's
parts ``_client/_socket_async.py`` (`AsyncSocket`), ``_events_async.py`` and
``_blobs_async.py`` (mixins of `AsyncClient`), and ``bulk/_chats_async.py`` (a mixin of
`AsyncImporter`) and ``bulk/_export_async.py`` -> their ``_xxx_sync.py`` twins.

Usage::

    python scripts/unasync.py          # rewrite every generated file
    python scripts/unasync.py --check  # exit 1 (with a diff) if one is stale; CI and tests

Like httpcore's script: a list of word-bounded regex rules applied line by line, then
``ruff`` sorts the imports and formats the result. A rule that no longer matches anything
is an error too, so the list never rots. Where the two clients really differ, the code
lives in `_client/_primitives.py` (async and blocking side by side), not in a rule.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "jmapchat"
# (source, target, what the generated file holds)
FILES: list[tuple[Path, Path, str]] = [
    (
        PACKAGE / "_client" / "_async.py",
        PACKAGE / "_client" / "_sync.py",
        "`Client`: the blocking driver for the sans-IO flows (same surface as `AsyncClient`).",
    ),
    (
        PACKAGE / "bulk" / "_async.py",
        PACKAGE / "bulk" / "_sync.py",
        "`Importer` and `export_jsonl`: the blocking twins of `AsyncImporter` and "
        "`async_export_jsonl`.",
    ),
    (
        PACKAGE / "sync" / "_async.py",
        PACKAGE / "sync" / "_sync.py",
        "`Mirror`: the blocking driver of the mirror flows (same surface as `AsyncMirror`).",
    ),
    (
        PACKAGE / "_client" / "_socket_async.py",
        PACKAGE / "_client" / "_socket_sync.py",
        "`Socket`: the blocking twin of `AsyncSocket`, the client's JMAP WebSocket driver.",
    ),
    (
        PACKAGE / "_client" / "_events_async.py",
        PACKAGE / "_client" / "_events_sync.py",
        "`EventsMixin`: `Client.events`, the blocking twin of `AsyncEventsMixin`.",
    ),
    (
        PACKAGE / "_client" / "_blobs_async.py",
        PACKAGE / "_client" / "_blobs_sync.py",
        "`BlobsMixin`: `Client.upload` and downloads, the blocking twin of `AsyncBlobsMixin`.",
    ),
    (
        PACKAGE / "bulk" / "_chats_async.py",
        PACKAGE / "bulk" / "_chats_sync.py",
        "`ChatsMixin`: the importer's chats and contacts, the blocking twin of `AsyncChatsMixin`.",
    ),
    (
        PACKAGE / "bulk" / "_export_async.py",
        PACKAGE / "bulk" / "_export_sync.py",
        "`export_jsonl`: the blocking twin of `async_export_jsonl`.",
    ),
]
SOURCE, TARGET = FILES[0][0], FILES[0][1]
COMMAND = "python scripts/unasync.py"

# (pattern, replacement): applied in order, each bounded by \b (or a line edge).
RULES: list[tuple[str, str]] = [
    # syntax
    ("async def", "def"),
    ("async with", "with"),
    ("async for", "for"),
    ("await ", ""),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("__aiter__", "__iter__"),
    ("__anext__", "__next__"),
    ("StopAsyncIteration", "StopIteration"),
    # stdlib and httpx
    ("AsyncIterator", "Iterator"),
    ("AsyncGenerator", "Generator"),
    ("asynccontextmanager", "contextmanager"),
    ("aclosing", "closing"),
    ("aclose", "close"),
    ("aread", "read"),
    ("aiter_bytes", "iter_bytes"),
    ("AsyncBaseTransport", "BaseTransport"),
    ("AsyncHTTPTransport", "HTTPTransport"),
    ("handle_async_request", "handle_request"),
    ("aconnect_sse", "connect_sse"),
    ("aiter_sse", "iter_sse"),
    ("aconnect_ws", "connect_ws"),
    ("AsyncExitStack", "ExitStack"),
    ("enter_async_context", "enter_context"),
    # jmapchat
    ("AsyncClient", "Client"),
    ("AsyncNamespaces", "SyncNamespaces"),
    ("AsyncSocket", "Socket"),
    ("AsyncSocketEvents", "SocketEvents"),
    ("_socket_async", "_socket_sync"),
    ("_events_async", "_events_sync"),
    ("_blobs_async", "_blobs_sync"),
    ("AsyncEventsMixin", "EventsMixin"),
    ("AsyncBlobsMixin", "BlobsMixin"),
    (r"from \._async import", "from ._sync import"),
    ("_is_async = True", "_is_async = False"),
    # _primitives: the async name and its blocking twin
    ("AsyncLock", "Lock"),
    ("AsyncCapacityLimiter", "CapacityLimiter"),
    ("async_sleep", "sleep"),
    ("AsyncSocketRunner", "SocketRunner"),
    ("AsyncWakeup", "Wakeup"),
    ("async_wait_for", "wait_for"),
    ("async_bind_handles", "bind_handles"),
    ("async_event_pump", "event_pump"),
    ("async_upload_source", "upload_source"),
    ("async_upload_chunks", "upload_chunks"),
    # bulk: the importer and its _primitives
    ("AsyncImporter", "Importer"),
    ("AsyncChatsMixin", "ChatsMixin"),
    ("_chats_async", "_chats_sync"),
    ("AsyncRecordSource", "RecordSource"),
    ("AsyncWorkers", "Workers"),
    ("AsyncEvent", "Event"),
    ("async_batches", "batches"),
    ("async_state_lock", "state_lock"),
    ("async_export_jsonl", "export_jsonl"),
    # sync: the mirror
    ("AsyncMirror", "Mirror"),
]
COMPILED = [(re.compile(r"(^|\b)" + pattern + r"($|\b)"), repl) for pattern, repl in RULES]

DOCSTRING = '''\
"""{title}

AUTOGENERATED from ``{source}`` by ``{command}``; do not edit by hand.
Change ``{source}`` (or `_primitives`, or the script's rules) and rerun it: the test
suite fails while this file is stale.
"""
'''


def _strip_docstring(text: str, source: Path) -> str:
    """``text`` without its module docstring (the generated file gets its own)."""
    match = re.match(r'"""(?:.|\n)*?"""\n', text)
    if match is None:
        raise SystemExit(f"{source} must start with a module docstring")
    return text[match.end() :]


def _ruff(args: list[str], text: str, target: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(target), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise SystemExit(f"ruff {' '.join(args)} failed on the generated code:\n{out.stderr}")
    return out.stdout


def render(used: set[int], source: Path = SOURCE, target: Path = TARGET, title: str = "") -> str:
    """The generated file; adds the index of every rule that matched to ``used``."""
    title = title or FILES[0][2]
    lines = []
    for line in _strip_docstring(source.read_text(), source).splitlines(keepends=True):
        for index, (regex, repl) in enumerate(COMPILED):
            line, count = regex.subn(repl, line)
            if count:
                used.add(index)
        lines.append(line)
    text = DOCSTRING.format(title=title, command=COMMAND, source=source.name) + "".join(lines)
    return tidy(text, target)


def tidy(text: str, target: Path) -> str:
    """Generated Python source with its imports sorted and formatted by ``ruff``, as if it
    were written at ``target`` (whose project settings apply)."""
    text = _ruff(["check", "--select", "I", "--fix", "--quiet", "--exit-zero"], text, target)
    return _ruff(["format", "--quiet"], text, target)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    used: set[int] = set()
    rendered = [(target, render(used, source, target, title)) for source, target, title in FILES]
    status = 0
    unused = [RULES[i] for i in range(len(RULES)) if i not in used]
    if unused:
        print("unasync: these rules were never used (remove them):", file=sys.stderr)
        for pattern, repl in unused:
            print(f"  {pattern!r} -> {repl!r}", file=sys.stderr)
        status = 1
    for target, text in rendered:
        rel = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
        if "--check" in args:
            current = target.read_text() if target.exists() else ""
            if current != text:
                diff = difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"{rel} (committed)",
                    f"{rel} (generated)",
                )
                sys.stdout.writelines(diff)
                print(f"{rel} is stale: run {COMMAND}", file=sys.stderr)
                status = 1
            continue
        target.write_text(text)
        print(f"wrote {rel}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
