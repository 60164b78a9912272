"""Generated bearer tokens are safe to paste on a command line."""

from __future__ import annotations

import re

from jmapchat.server import ChatServer


def test_generated_tokens_never_look_like_options() -> None:
    users = [f"u{i}" for i in range(50)]
    with ChatServer(db=":memory:", users=users) as server:
        tokens = list(server.tokens.values())
        tokens.append(server.add_user("extra"))
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert re.fullmatch(r"[0-9a-f]{48}", token), token
