"""Request build cost: a 16-call request with references, built and serialized to bytes.

Baseline: ``json.dumps`` of the same envelope written by hand as dicts (no validation, no
references checked). Reports µs per call for both and the ratio.

    .venv/bin/python benchmarks/request_build.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import interleaved, machine, table

import jmapchat
from jmapchat.models import MessageCreate, MessageFilter, MessageUpdate

CALLS = 16


def build_typed() -> bytes:
    """4 rounds of set → changes → query → get(#ids): 16 calls, 8 references."""
    req = jmapchat.Request(account_id="A1")
    for r in range(4):
        s = req.message.set(
            create={
                f"m{r}": MessageCreate(
                    chat_id="C1", body=f"hello {r}", sent_at="2026-11-25T10:00:00Z"
                )
            },
            update={"M0": MessageUpdate(read_at="2026-11-25T10:00:00Z")},
        )
        req.message.changes(since_state=f"s{r}")
        q = req.message.query(filter=MessageFilter(chat_id=s.created_id(f"m{r}")), limit=50)
        req.message.get(ids=q.ids, properties=["id", "body", "senderId"])
    return req.build()


def build_raw() -> bytes:
    calls: list[Any] = []
    for r in range(4):
        base = 4 * r
        calls.append(
            [
                "Message/set",
                {
                    "accountId": "A1",
                    "create": {
                        f"m{r}": {
                            "chatId": "C1",
                            "body": f"hello {r}",
                            "bodyType": "text/plain",
                            "sentAt": "2026-11-25T10:00:00Z",
                        }
                    },
                    "update": {"M0": {"readAt": "2026-11-25T10:00:00Z"}},
                },
                f"c{base}",
            ]
        )
        calls.append(
            ["Message/changes", {"accountId": "A1", "sinceState": f"s{r}"}, f"c{base + 1}"]
        )
        calls.append(
            [
                "Message/query",
                {"accountId": "A1", "filter": {"chatId": f"#m{r}"}, "limit": 50},
                f"c{base + 2}",
            ]
        )
        calls.append(
            [
                "Message/get",
                {
                    "accountId": "A1",
                    "#ids": {"resultOf": f"c{base + 2}", "name": "Message/query", "path": "/ids"},
                    "properties": ["id", "body", "senderId"],
                },
                f"c{base + 3}",
            ]
        )
    env = {
        "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"],
        "methodCalls": calls,
    }
    return json.dumps(env, ensure_ascii=False, separators=(",", ":")).encode()


def main() -> None:
    assert json.loads(build_typed()) == json.loads(build_raw()), "the two must be equivalent"
    best = interleaved({"raw": build_raw, "typed": build_typed}, number=200, repeat=9)
    raw, typed = best["raw"], best["typed"]
    rows = [
        ("hand-written dicts + json.dumps (baseline)", f"{raw / CALLS * 1e6:.1f}", "1.00×"),
        (
            "jmapchat.Request (validated, typed refs)",
            f"{typed / CALLS * 1e6:.1f}",
            f"{typed / raw:.2f}×",
        ),
    ]
    print(f"request build — {machine()}")
    print(f"{CALLS}-call request with 4 result references and 4 creation-id references")
    print(table(rows, ("build + serialize", "µs per call", "vs baseline")))
    print(f"total per request: {typed * 1e6:.0f} µs typed, {raw * 1e6:.0f} µs raw")
    print(
        f"RESULT request_build = {typed / CALLS * 1e6:.1f} µs per call "
        f"({typed / raw:.1f}× hand-written dicts; no target)"
    )


if __name__ == "__main__":
    main()
