"""Parse cost: a real 1,000-message Message/query + Message/get reply into typed results.

The reply bytes are produced by the reference server. Baseline: ``json.loads`` of the same
bytes (untyped). Target: typed ≤ 1.5× json.loads.

    .venv/bin/python benchmarks/parse_cost.py
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, post_raw, seed_messages, table

import jmapchat
from jmapchat.models import Message, MessageFilter
from jmapchat.server import ChatServer, ServerLimits

COUNT = 1_000
TARGET = 1.5


def main() -> None:
    limits = ServerLimits(max_objects_in_get=COUNT)
    with ChatServer(users=["alice", "bob"], limits=limits) as server:
        account, chat_id = seed_messages(server, COUNT)
        req = jmapchat.Request(account_id=account)
        q = req.message.query(filter=MessageFilter(chat_id=chat_id), limit=COUNT)
        g = req.message.get(ids=q.ids)
        body = post_raw(server, "alice", req.build())
    gc.collect()  # measure a client process, not one still holding the server's heap

    def typed() -> None:
        jmapchat.Response.parse(req, body)
        assert len(q.result.ids) == COUNT
        assert len(g.result.list) == COUNT

    typed()
    assert isinstance(g.result.list[0], Message)
    number = 20
    base = best_of(lambda: json.loads(body), number=number)
    fast = best_of(lambda: orjson.loads(body), number=number)
    t_typed = best_of(typed, number=number)
    rows = [
        ("json.loads (baseline, untyped)", f"{base * 1e3:.2f}", "1.00×", ""),
        ("orjson.loads (untyped, for scale)", f"{fast * 1e3:.2f}", f"{fast / base:.2f}×", ""),
        (
            "Response.parse → typed results",
            f"{t_typed * 1e3:.2f}",
            f"{t_typed / base:.2f}×",
            f"target ≤ {TARGET}× : {'met' if t_typed / base <= TARGET else 'NOT met'}",
        ),
    ]
    print(f"reply: {len(body):,} bytes, {COUNT} messages (Message/query + Message/get)")
    print(table(rows, ("parse", "ms (best of 7)", "vs json.loads", "")))


if __name__ == "__main__":
    main()
