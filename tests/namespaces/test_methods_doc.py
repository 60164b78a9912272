"""docs/methods.md cannot rot: every call it names exists, every spec method and all
55 Rust SessionClient operations are mapped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jmapchat import Request

from ._cases import SPEC_METHODS

DOC = Path(__file__).resolve().parents[2] / "docs" / "methods.md"

RUST_OPS = [
    *(f"chat_contact_{m}" for m in ("get", "changes", "update", "query", "query_changes")),
    *(f"read_position_{m}" for m in ("get", "update", "changes")),
    *(f"presence_status_{m}" for m in ("get", "update", "changes")),
    *(f"push_subscription_{m}" for m in ("create", "update", "destroy")),
    *(f"space_ban_{m}" for m in ("get", "changes", "create", "destroy")),
    *(f"space_invite_{m}" for m in ("get", "changes", "create", "destroy")),
    *(f"blob_{m}" for m in ("lookup", "convert")),
    *(
        f"custom_emoji_{m}"
        for m in ("get", "changes", "create", "destroy", "query", "query_changes")
    ),
    *(f"quota_{m}" for m in ("get", "changes")),
    *(
        f"chat_{m}"
        for m in (
            "get",
            "query",
            "changes",
            "typing",
            "query_changes",
            "create",
            "update",
            "destroy",
        )
    ),
    *(
        f"message_{m}"
        for m in ("get", "query", "changes", "create", "update", "destroy", "query_changes")
    ),
    *(
        f"space_{m}"
        for m in ("get", "changes", "destroy", "query", "query_changes", "create", "join", "update")
    ),
]


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[1:]  # drop the header


def test_rust_op_list_is_the_55() -> None:
    assert len(RUST_OPS) == len(set(RUST_OPS)) == 55


def test_every_mentioned_call_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    calls = set(re.findall(r"\breq\.(\w+)\.(\w+)\(", text))
    assert len(calls) > 50
    req = Request(account_id="A1")
    missing = [
        f"req.{ns}.{m}"
        for ns, m in sorted(calls)
        if not callable(getattr(getattr(req, ns, None), m, None))
    ]
    assert not missing, f"docs/methods.md names calls that do not exist: {missing}"


def test_every_spec_method_is_mapped() -> None:
    rows = table_rows(section("Spec methods"))
    mapped = {row[0].strip("`") for row in rows}
    assert mapped == SPEC_METHODS
    for row in rows:
        assert "req." in row[1], row


def test_every_rust_op_is_mapped_to_a_call() -> None:
    rows = table_rows(section("Parity with the Rust"))
    mapped = [row[0].strip("`") for row in rows]
    assert sorted(mapped) == sorted(RUST_OPS)
    for row in rows:
        assert re.search(r"req\.\w+\.\w+\(", row[1]), row


@pytest.mark.parametrize("op", RUST_OPS)
def test_rust_op_call_matches_its_type(op: str) -> None:
    rows = {row[0].strip("`"): row[1] for row in table_rows(section("Parity with the Rust"))}
    namespace = re.match(r"req\.(\w+)\.", rows[op].strip("`"))
    assert namespace is not None
    assert op.startswith(namespace.group(1) + "_")
