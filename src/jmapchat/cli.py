"""The ``jmapchat`` command (also ``python -m jmapchat``).

Client commands (``session``, ``chats``, ``history``, ``send``, ``tail``, ``call``,
``import``, ``export``) connect with ``--url``/``--token``/``--token-file`` or
``JMAPCHAT_URL``/``JMAPCHAT_TOKEN``; ``serve`` runs the reference server. Human output
uses rich; ``--json`` prints JSON for scripts. Every error is one line on stderr and a
non-zero exit status, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._cli_support import CLIError, count_lines, new_messages, progress_bar, run_server
from ._cli_support import console as _console
from ._version import __version__

if TYPE_CHECKING:
    from . import Client
    from .models import Message

__all__ = ["app", "main"]

app = typer.Typer(
    name="jmapchat",
    help="jmapchat: a JMAP Chat client, migration tool and development server.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@dataclass
class Options:
    url: str | None
    token: str | None
    token_file: Path | None
    user: str | None
    json: bool


def _opts(ctx: typer.Context) -> Options:
    obj = ctx.find_root().obj
    assert isinstance(obj, Options)
    return obj


def _version(value: bool) -> None:
    if value:
        print(f"jmapchat {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(envvar="JMAPCHAT_URL", help="Server base URL (or JMAPCHAT_URL)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="JMAPCHAT_TOKEN", help="Bearer token (or JMAPCHAT_TOKEN)."),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            help="A file holding the token, or the JSON {user: token} of serve "
            "(wins over JMAPCHAT_TOKEN)."
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Which user's token to take from a JSON --token-file.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = Options(url, token, token_file, user, json_output)


# --- connecting ------------------------------------------------------------------------------


def _token(opts: Options) -> str:
    """The token: from ``--token-file`` when given, else ``--token`` / JMAPCHAT_TOKEN."""
    if opts.token_file is None:
        if opts.token:
            return opts.token
        raise CLIError("no token: pass --token, --token-file or set JMAPCHAT_TOKEN")
    try:
        text = opts.token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CLIError(f"{opts.token_file}: {exc.strerror or exc}") from None
    if not text.startswith("{"):
        return text
    try:
        tokens = json.loads(text)
    except ValueError:
        raise CLIError(f"{opts.token_file}: not valid JSON") from None
    if not isinstance(tokens, dict) or not tokens:
        raise CLIError(f"{opts.token_file}: expected a JSON object of user -> token")
    if opts.user is not None:
        if opts.user not in tokens:
            raise CLIError(f"{opts.token_file}: no token for user {opts.user!r}")
        return str(tokens[opts.user])
    if len(tokens) > 1:
        raise CLIError(f"{opts.token_file} holds several users: pick one with --user")
    return str(next(iter(tokens.values())))


@contextlib.contextmanager
def _client(opts: Options) -> Iterator[Client]:
    from . import Client

    if not opts.url:
        raise CLIError("no server: pass --url or set JMAPCHAT_URL")
    with Client.connect(opts.url, token=_token(opts)) as client:
        yield client


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


# --- client commands -----------------------------------------------------------------------------


@app.command()
def session(ctx: typer.Context) -> None:
    """Show the server's session: user, accounts and limits."""
    opts = _opts(ctx)
    with _client(opts) as client:
        sess = client.session
        if opts.json:
            _print_json(sess.model_dump(mode="json", by_alias=True, exclude_none=True))
            return
        from rich.table import Table

        table = Table(title=f"{sess.api_url}", show_header=False)
        table.add_row("user", sess.username)
        table.add_row("account", client.account_id)
        for name, value in sess.core.model_dump(by_alias=True, exclude_none=True).items():
            if isinstance(value, int):
                table.add_row(name, str(value))
        table.add_row("capabilities", "\n".join(sess.capabilities))
        _console().print(table)


@app.command()
def chats(ctx: typer.Context) -> None:
    """List the chats of the account."""
    opts = _opts(ctx)
    with _client(opts) as client:
        got = client.chat.get(None)
        if opts.json:
            _print_json([c.to_wire() for c in got.list])
            return
        from rich.table import Table

        table = Table("id", "kind", "name", "unread", "last message")
        for c in got.list:
            name = c.name or c.contact_id or ""
            table.add_row(c.id, c.kind or "", name, str(c.unread_count or 0), c.last_message_at)
        _console().print(table)


def _message_row(msg: Message) -> tuple[str, str, str, str]:
    return (msg.received_at or "", msg.sender_id or "", msg.body or "", msg.id)


@app.command()
def history(
    ctx: typer.Context,
    chat: Annotated[str, typer.Argument(help="The chat id.")],
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest messages.")] = 50,
) -> None:
    """Show the latest messages of CHAT, oldest first."""
    from ._core import Comparator
    from .models import MessageFilter

    opts = _opts(ctx)
    with _client(opts) as client:
        req = client.request()
        page = req.message.query(
            filter=MessageFilter(chat_id=chat),
            sort=[Comparator(property="receivedAt", is_ascending=False)],
            limit=limit,
        )
        msgs = req.message.get(ids=page.ids)
        client.send(req)
        found = list(reversed(msgs.result.list))
        if opts.json:
            _print_json([m.to_wire() for m in found])
            return
        from rich.table import Table

        table = Table("received", "sender", "message", "id")
        for m in found:
            table.add_row(*_message_row(m))
        _console().print(table)


@app.command()
def send(
    ctx: typer.Context,
    chat: Annotated[str, typer.Argument(help="The chat id.")],
    text: Annotated[str, typer.Argument(help="The message text.")],
) -> None:
    """Send TEXT to CHAT; prints the new message id."""
    from .models import MessageCreate

    opts = _opts(ctx)
    with _client(opts) as client:
        result = client.message.set(create={"m": MessageCreate(chat_id=chat, body=text)})
        if "m" not in result.created:
            err = (result.not_created or {}).get("m")
            raise CLIError(f"not sent: {err.type + ': ' + (err.description or '') if err else '?'}")
        mid = result.created["m"].id
        if opts.json:
            _print_json({"id": mid})
        else:
            print(mid)


@app.command()
def tail(
    ctx: typer.Context,
    chat: Annotated[str | None, typer.Argument(help="Only this chat.")] = None,
    interval: Annotated[
        float, typer.Option(min=0.05, help="Polling interval (s), if the server does not push.")
    ] = 1.0,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many messages.")] = None,
) -> None:
    """Print new messages as they arrive, pushed by the server (Ctrl-C to stop)."""
    opts = _opts(ctx)
    seen = 0
    with _client(opts) as client, contextlib.closing(new_messages(client, interval)) as news:
        for msg in news:
            if msg is None:
                print("listening for new messages (Ctrl-C to stop)", file=sys.stderr, flush=True)
                continue
            if chat is not None and msg.chat_id != chat:
                continue
            if opts.json:
                sys.stdout.write(json.dumps(msg.to_wire(), ensure_ascii=False) + "\n")
            else:
                when, sender, body, _ = _message_row(msg)
                sys.stdout.write(f"{when} [{msg.chat_id}] {sender}: {body}\n")
            sys.stdout.flush()
            seen += 1
            if count is not None and seen >= count:
                return


@app.command()
def call(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="A JSON request {using, methodCalls}; '-' for stdin.")
    ] = "-",
    explain: Annotated[
        bool, typer.Option(help="Print the plan (calls, references, split); send nothing.")
    ] = False,
) -> None:
    """Send a raw JMAP request from FILE (or stdin); prints the method responses."""
    from ._namespaces import Request

    opts = _opts(ctx)
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"{file}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CLIError(f"{file}: not JSON ({exc})") from None
    calls = doc.get("methodCalls") if isinstance(doc, dict) else None
    if not isinstance(calls, list) or not all(
        isinstance(c, list) and len(c) == 3 and isinstance(c[0], str) and isinstance(c[1], dict)
        for c in calls
    ):
        raise CLIError(f"{file}: expected {{'using': [...], 'methodCalls': [[name, args, id]]}}")

    def build(req: Request) -> Request:
        from ._core import JMAPModel

        for name, args, call_id in calls:
            req.invoke(name, args, response=JMAPModel, call_id=str(call_id))
        return req

    using = [u for u in doc.get("using") or [] if isinstance(u, str)]
    if explain and not opts.url:
        print(build(Request(using=using)).explain())
        return
    with _client(opts) as client:
        req = build(Request(using=using))
        if explain:
            print(req.explain(client.session.core))
            return
        response = client.send(req)
        _print_json({"methodResponses": [list(r) for r in response.method_responses]})


@app.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="JSON Lines file, or a Slack export (dir/zip).")],
    format: Annotated[
        str, typer.Option(help="jsonl, slack, or auto (by the source's name).")
    ] = "auto",
    journal: Annotated[
        Path | None, typer.Option(help="The journal (default: SOURCE.journal.sqlite).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Envelopes in flight.")] = None,
    envelope_size: Annotated[int, typer.Option(min=1, help="Records per envelope.")] = 500,
    attribute: Annotated[
        bool, typer.Option(help="Slack: start each body with its author's name.")
    ] = True,
) -> None:
    """Import messages exactly once; re-run with the same journal after any failure."""
    from .bulk import Importer, Progress, read_jsonl, read_slack_export

    opts = _opts(ctx)
    if not source.exists():
        raise CLIError(f"{source}: no such file or directory")
    kind = format
    if kind == "auto":
        kind = "slack" if source.is_dir() or source.suffix == ".zip" else "jsonl"
    if kind not in ("jsonl", "slack"):
        raise CLIError(f"unknown format {format!r}: use jsonl, slack or auto")
    total = count_lines(source) if kind == "jsonl" else None
    records = (
        read_jsonl(source) if kind == "jsonl" else read_slack_export(source, attribute=attribute)
    )
    journal_path = journal or source.with_name(source.name + ".journal.sqlite")
    with _client(opts) as client, progress_bar(opts.json, "importing", total) as update:

        def on_progress(p: Progress) -> None:
            update(p.done, p.total, p.waiting)

        with Importer(
            client,
            journal_path,
            concurrency=concurrency,
            envelope_size=envelope_size,
            progress=on_progress,
        ) as importer:
            report = importer.run(records, total=total)
    if opts.json:
        _print_json({**report.to_dict(), "journal": str(journal_path)})
    else:
        from rich.table import Table

        table = Table("written", "skipped", "reconciled", "failed", "requests", "seconds")
        table.add_row(
            str(report.written),
            str(report.skipped),
            str(report.reconciled),
            str(len(report.failed)),
            str(report.requests),
            f"{report.seconds:.1f}",
        )
        console = _console()
        console.print(table)
        for sid, err in list(report.failed.items())[:20]:
            console.print(f"failed {sid}: {err.type} {err.description or ''}")
        console.print(f"journal: {journal_path}")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def export(
    ctx: typer.Context,
    chat: Annotated[
        list[str] | None, typer.Option("--chat", help="Only these chats (repeatable).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export chats and their messages as migration JSON Lines (``import`` reads them)."""
    from .bulk import Progress, export_jsonl

    opts = _opts(ctx)
    with _client(opts) as client:
        handle = output.open("w", encoding="utf-8") if output is not None else sys.stdout
        try:
            with progress_bar(opts.json or output is None, "exporting", None) as update:

                def on_progress(p: Progress) -> None:
                    update(p.done, None, 0.0)

                n = export_jsonl(client, handle, chat_ids=chat, progress=on_progress)
        finally:
            if output is not None:
                handle.close()
    if output is not None:
        if opts.json:
            _print_json({"messages": n, "output": str(output)})
        else:
            _console(stderr=True).print(f"exported {n} messages to {output}")


# --- serve -----------------------------------------------------------------------------------


_LIMIT_FLAGS = (
    "max_calls_in_request",
    "max_objects_in_get",
    "max_objects_in_set",
    "max_size_request",
    "max_concurrent_requests",
    "max_size_upload",
    "max_concurrent_upload",
)
_Limit = Annotated[int | None, typer.Option(min=1)]


@app.command()
def serve(
    db: Annotated[str, typer.Option(help="SQLite file, or :memory:.")] = "chat.sqlite",
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0 picks a free port.")] = 8080,
    user: Annotated[list[str] | None, typer.Option(help="A username (repeatable).")] = None,
    token_file: Annotated[
        Path | None, typer.Option(help="JSON {user: token}; created if missing, reused if present.")
    ] = None,
    max_calls_in_request: _Limit = None,
    max_objects_in_get: _Limit = None,
    max_objects_in_set: _Limit = None,
    max_size_request: _Limit = None,
    max_concurrent_requests: _Limit = None,
    max_size_upload: _Limit = None,
    max_concurrent_upload: _Limit = None,
    public_url: Annotated[
        str | None,
        typer.Option(help="Base URL clients reach the server at (a proxy); Session URLs use it."),
    ] = None,
    presence_interval: Annotated[
        float,
        typer.Option(
            min=0,
            help="At most one presence event per contact per this many seconds per push "
            "connection (newer ones are held, not dropped); 0 = no limit.",
        ),
    ] = 30.0,
) -> None:
    """Run the reference JMAP Chat server (development only, not for production)."""
    values = dict(locals())
    run_server(
        db=db,
        host=host,
        port=port,
        users=user or [],
        token_file=token_file,
        limits={k: values[k] for k in _LIMIT_FLAGS if values[k] is not None},
        public_url=public_url,
        presence_interval=presence_interval,
    )


# --- entry point -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jmapchat`` command line with ``argv`` (default ``sys.argv``); returns the
    exit status. Errors are one line on stderr, never a traceback."""
    from ._core import JMAPError

    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    # ``jmapchat chats --json`` works as well as ``jmapchat --json chats``
    end = args.index("--") if "--" in args else len(args)
    if "--json" in args[1:end]:
        args = ["--json", *[a for i, a in enumerate(args) if a != "--json" or i >= end]]
    try:
        result = command.main(args=args, prog_name="jmapchat", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 130
    except KeyboardInterrupt:
        return 130
    except typer.TyperException as exc:  # usage errors
        _error(exc.format_message())
        return exc.exit_code
    except CLIError as exc:
        _error(str(exc))
        return exc.code
    except (JMAPError, ValueError) as exc:
        _error(str(exc))
        return 1
    except OSError as exc:
        detail = exc.strerror or str(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{detail}")
        return 1
    return result if isinstance(result, int) else 0


def _error(message: str) -> None:
    line = " ".join(str(message).split())
    sys.stderr.write(f"jmapchat: error: {line}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
