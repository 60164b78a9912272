"""What the ``jmapchat`` command needs besides its commands: the one-line error, rich
consoles and progress bars, following new messages (``tail``), and running the reference
server (``jmapchat serve``)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from . import Client
    from .models import Message

__all__ = [
    "CLIError",
    "console",
    "count_lines",
    "messages_since",
    "new_messages",
    "progress_bar",
    "run_server",
]


class CLIError(Exception):
    """An error to report as one line, with its exit status (1 unless said otherwise)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def count_lines(path: Path) -> int | None:
    """Messages in a JSON Lines file (for the ETA): a quick byte scan, no parsing."""
    import re

    other = re.compile(rb'"type"\s*:\s*"(?:chat|contact)"')
    try:
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip() and not other.search(line)) or None
    except OSError:
        return None


@contextlib.contextmanager
def progress_bar(quiet: bool, what: str, total: int | None) -> Iterator[Any]:
    """A rich progress bar on stderr (count, rate, ETA); none with ``--json`` or when
    stderr is not a terminal (logs stay clean)."""
    out = console(stderr=True)
    if quiet or not out.is_terminal:
        yield lambda done, total, waiting: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]:.0f} msg/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=out) as bar:
        task = bar.add_task(what, total=total, rate=0.0)
        started = time.monotonic()

        def update(done: int, total: int | None, waiting: float) -> None:
            rate = done / max(1e-6, time.monotonic() - started)
            label = f"{what} (rate limited: waiting {waiting:.1f}s)" if waiting else what
            bar.update(task, completed=done, total=total, rate=rate, description=label)

        yield update


def run_server(
    *,
    db: str,
    host: str,
    port: int,
    users: Sequence[str],
    token_file: Path | None,
    limits: dict[str, int],
    public_url: str | None = None,
    presence_interval: float = 30.0,
) -> None:
    """``jmapchat serve``: open the database, print the tokens and the URL, serve."""
    from functools import partial

    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    from .server import ChatServer, SchemaMismatch, ServerLimits, write_token_file

    tokens: dict[str, str] = {}
    if token_file is not None and token_file.exists():
        try:
            loaded = json.loads(token_file.read_text(encoding="utf-8"))
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise CLIError(f"{token_file}: expected a JSON object of user -> token", 2)
        tokens = {str(k): v for k, v in loaded.items()}
    try:
        server = ChatServer(
            db=db,
            users=list(dict.fromkeys(users)),
            tokens=tokens,
            limits=ServerLimits.model_validate(limits),
            public_url=public_url,
            presence_interval=presence_interval,
        )
    except SchemaMismatch as exc:  # an old or foreign database file: refused, exit 2
        raise CLIError(str(exc), 2) from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    with server:
        if token_file is not None:
            write_token_file(token_file, {**tokens, **server.tokens})  # mode 0600
        print("jmapchat reference server: for development and tests, NOT for production use")
        for name, token in server.tokens.items():
            print(f"  {name}: {token}")
        config = Config()
        config.bind = [f"{host}:{port}"]
        config.accesslog = "-"

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                app_: Any = server.app
                binds = await nursery.start(partial(hypercorn_serve, app_, config))
                real = server.public_url or str(binds[0]).rstrip("/")
                print(f"session: {real}/.well-known/jmap", flush=True)

        try:
            with contextlib.suppress(KeyboardInterrupt):
                trio.run(main)
        except BaseExceptionGroup as group:  # trio's nursery wraps the bind failure
            first = group.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            if isinstance(first, OSError):
                raise CLIError(
                    f"cannot listen on {host}:{port}: {first.strerror or first}"
                ) from None
            raise


def new_messages(client: Client, interval: float) -> Generator[Message | None, None, None]:
    """New messages as they arrive; first yields None once it is listening.

    Pushed: each ``Message`` StateChange from ``client.events()`` fetches what is new.
    A server that does not push (`CapabilityNotSupported`) is polled every ``interval``.
    """
    from . import CapabilityNotSupported
    from .models import StateChange

    subscribed = False
    try:
        with client.events(["Message"]) as events:
            subscribed = True
            # Subscribed first, then the starting state: nothing falls in between.
            state = client.message.get(ids=[]).state
            yield None
            for event in events:
                if not isinstance(event, StateChange):
                    continue
                pushed = event.changed.get(client.account_id, {}).get("Message")
                if pushed is not None and pushed != state:
                    state = yield from messages_since(client, state)
        return
    except CapabilityNotSupported:
        if subscribed:
            raise
    state = client.message.get(ids=[]).state
    yield None
    while True:
        before = state
        state = yield from messages_since(client, state)
        if state == before:
            time.sleep(interval)


def messages_since(client: Client, state: str) -> Generator[Message, None, str]:
    """Yield the messages created since ``state`` (``Message/changes`` and ``Message/get``
    by back-reference: one request per page of changes); return the new state."""
    while True:
        req = client.request()
        news = req.message.changes(since_state=state)
        got = req.message.get(ids=news.created)
        client.send(req)
        yield from got.result.list
        state = news.result.new_state
        if not news.result.has_more_changes:
            return state
