"""Parse cost: a real 1,000-message Message/query + Message/get reply into typed results.

The reply bytes are produced by the reference server in a subprocess and written to a
temporary directory; the measurement then runs in RUNS fresh processes (none of which
ever held the server's heap) and the median of their ratios is reported. Within each
process the baseline, ``json.loads`` of the same bytes (untyped), and the candidate take
turns in every repeat, after the same ``gc.collect()`` + ``gc.freeze()``; the best of
the repeats counts. The typed side parses into the same request every time: each parse
replaces (and so frees, by reference count) the previous results, as each ``json.loads``
result is freed before the next. (A fresh request per parse would leave the results to
the cyclic collector, because a request and its calls refer to each other; that cost
belongs to the application's request lifetime, not to the parse.)
Target: typed ≤ 1.5× json.loads.

    .venv/bin/python benchmarks/parse_cost.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    capture_reply,
    in_fresh_processes,
    interleaved,
    load_captured,
    machine,
    save_captured,
    table,
    verdict,
)

import jmapchat
from jmapchat._core import _json
from jmapchat.models import Message, MessageFilter

COUNT = 1_000
TARGET = 1.5
NUMBER = 20
REPEAT = 11
RUNS = 5


def measure(where: Path) -> dict[str, float]:
    """One fresh process: best seconds per parse for each case."""
    cap = load_captured(where)
    body = cap.reply
    req = jmapchat.Request(account_id=cap.account_id)
    q = req.message.query(filter=MessageFilter(chat_id=cap.chat_id), limit=COUNT)
    g = req.message.get(ids=q.ids)
    assert req.build() == cap.request, "must parse the reply to the request that made it"

    def typed() -> None:
        jmapchat.Response.parse(req, body)
        assert len(q.result.ids) == COUNT
        assert len(g.result.list) == COUNT
        assert isinstance(g.result.list[-1], Message)

    cases = {
        "json": lambda: json.loads(body),
        "orjson": lambda: orjson.loads(body),
        "typed": typed,
    }
    gc_pause = _json.GC_PAUSE_MIN_BYTES
    if gc_pause is not None:

        def typed_no_gc_pause() -> None:
            _json.GC_PAUSE_MIN_BYTES = sys.maxsize
            try:
                typed()
            finally:
                _json.GC_PAUSE_MIN_BYTES = gc_pause

        cases["typed_no_pause"] = typed_no_gc_pause
    return interleaved(cases, number=NUMBER, repeat=REPEAT)


def main() -> None:
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(Path(sys.argv[2]))))
        return
    cap = capture_reply(COUNT)
    with tempfile.TemporaryDirectory(prefix="jmapchat-parse-") as tmp:
        save_captured(cap, Path(tmp))
        runs = in_fresh_processes(__file__, [tmp], RUNS)

    def med(key: str) -> float:
        return float(statistics.median(r[key] for r in runs))

    def ratio(key: str) -> float:
        return float(statistics.median(r[key] / r["json"] for r in runs))

    def row(label: str, key: str, note: str = "") -> tuple[str, str, str, str, str]:
        spread = [r[key] / r["json"] for r in runs]
        return (
            label,
            f"{med(key) * 1e3:.2f}",
            f"{ratio(key):.2f}×",
            f"{min(spread):.2f}–{max(spread):.2f}",
            note,
        )

    typed_ratio = ratio("typed")
    rows = [
        row("json.loads (baseline, untyped)", "json"),
        row("orjson.loads (untyped, for scale)", "orjson"),
        row("Response.parse → typed results", "typed", verdict(typed_ratio, TARGET)),
    ]
    if "typed_no_pause" in runs[0]:
        rows.append(row("  same, without the GC pause", "typed_no_pause", "(for reference)"))
    print(f"parse cost — {machine()}")
    print(f"reply: {len(cap.reply):,} bytes, {COUNT} messages (Message/query + Message/get)")
    print(
        f"median of {RUNS} fresh processes, each the best of {REPEAT} interleaved repeats "
        f"× {NUMBER} parses"
    )
    print(table(rows, ("parse", "ms", "vs json.loads", "range", "")))
    print(
        f"RESULT parse_cost typed/json.loads = {typed_ratio:.2f}× ({verdict(typed_ratio, TARGET)})"
    )


if __name__ == "__main__":
    main()
