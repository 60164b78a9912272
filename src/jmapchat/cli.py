"""The ``jmapchat`` command line: ``jmapchat serve …`` runs the reference server."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jmapchat", description="jmapchat command line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="run the reference JMAP Chat server (development only, not for production)"
    )
    serve.add_argument(
        "--db", default="chat.sqlite", help="SQLite file, or :memory: (default chat.sqlite)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--user", action="append", default=[], help="a username (repeatable)")
    serve.add_argument(
        "--token-file", help="JSON {user: token}; created if missing, reused if present"
    )
    for flag in (
        "max-calls-in-request",
        "max-objects-in-get",
        "max-objects-in-set",
        "max-size-request",
        "max-concurrent-requests",
        "max-size-upload",
        "max-concurrent-upload",
    ):
        serve.add_argument(f"--{flag}", type=_positive, default=None)
    serve.set_defaults(func=_serve)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from .server import ChatServer, ServerLimits

    limit_args = {
        name: getattr(args, name)
        for name in (
            "max_calls_in_request",
            "max_objects_in_get",
            "max_objects_in_set",
            "max_size_request",
            "max_concurrent_requests",
            "max_size_upload",
            "max_concurrent_upload",
        )
        if getattr(args, name) is not None
    }
    limits = ServerLimits(**limit_args)
    tokens: dict[str, str] = {}
    token_path = Path(args.token_file) if args.token_file else None
    if token_path is not None and token_path.exists():
        loaded = json.loads(token_path.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            print(f"{token_path}: expected a JSON object of user -> token", file=sys.stderr)
            return 2
        tokens = {str(k): v for k, v in loaded.items()}
    users = list(dict.fromkeys(args.user))
    from .server import SchemaMismatch

    try:
        server = ChatServer(db=args.db, users=users, tokens=tokens, limits=limits)
    except SchemaMismatch as exc:
        print(f"jmapchat serve: {exc}", file=sys.stderr)
        return 2
    with server:
        all_tokens = server.tokens
        if token_path is not None:
            merged = {**tokens, **all_tokens}
            token_path.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
        print("jmapchat reference server: for development and tests, NOT for production use")
        for user, token in all_tokens.items():
            print(f"  {user}: {token}")
        print(f"session: http://{args.host}:{args.port}/.well-known/jmap", flush=True)
        _run_hypercorn(server, args.host, args.port)
    return 0


def _run_hypercorn(server: object, host: str, port: int) -> None:
    from functools import partial

    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = "-"
    app = server.app  # type: ignore[attr-defined]
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(partial(serve, app, config))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jmapchat`` command line with ``argv`` (default ``sys.argv``); returns the exit
    code.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
