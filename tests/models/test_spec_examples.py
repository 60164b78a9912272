"""Every JSON example in the chat and chat-push drafts parses into our models and round-trips.

Examples are enumerated dynamically from the draft files. Fenced blocks that are not
plain JSON are handled explicitly (see `_decode`) and counted; nothing is skipped
silently, and a minimum count guards against the extraction finding nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jmapchat._core._model import JMAPInput, JMAPModel
from jmapchat.models import (
    ChatMessagePush,
    MessageUpdate,
    PresenceEvent,
    RichBody,
    StateChange,
    TypingEvent,
    UploadResponse,
    parse_push_payload,
)

SPEC_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "spec"
DRAFTS = ("draft-atwood-jmap-chat-00.md", "draft-atwood-jmap-chat-push-00.md")
MIN_EXAMPLES = 9

_FENCE = re.compile(r"^(~~~|```)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_BARE_PLACEHOLDER = re.compile(r"(?<![\"\w])<[a-z][a-z-]*>(?![\"\w])")


@dataclass
class Example:
    where: str
    raw: str
    kind: str  # json | sse:<event> | patch-fragment | placeholder
    data: Any


# Blocks that are not complete JSON documents, with the reason and how they are used.
NON_JSON_REASONS = {
    "sse": "EventSource wire text ('event: X' + 'data: {...}'); the data line is parsed "
    "as the event's payload model",
    "patch-fragment": "a single PatchObject member, not a document; wrapped in {} and parsed "
    "as MessageUpdate",
    "placeholder": "a bare <placeholder> stands for a number or boolean (also inside SSE "
    "data); replaced by 0 / true before parsing",
}


SAMPLE_UTC_DATE = "2026-01-01T00:00:00Z"


def _fill(text: str) -> str:
    """Replace bare placeholders: ``<bool>`` by ``true``, any other (``<bytes>``) by ``0``."""
    return _BARE_PLACEHOLDER.sub(lambda m: "true" if m.group(0) == "<bool>" else "0", text)


def _decode(raw: str) -> tuple[str, Any]:
    text = raw.strip()
    try:
        return "json", json.loads(text)
    except json.JSONDecodeError:
        pass
    lines = text.splitlines()
    if lines and lines[0].startswith("event:"):
        event = lines[0].split(":", 1)[1].strip()
        data = "\n".join(line.split(":", 1)[1] for line in lines[1:] if line.startswith("data:"))
        return f"sse:{event}", json.loads(_fill(data))
    if text.startswith('"'):
        # A quoted placeholder of a typed value ("<UTCDate>") stands for a sample of it.
        text = text.replace('"<UTCDate>"', f'"{SAMPLE_UTC_DATE}"')
        return "patch-fragment", json.loads("{" + text + "}")
    replaced = _fill(text)
    if replaced != text:
        return "placeholder", json.loads(replaced)
    raise AssertionError(f"unhandled example block:\n{raw}")


def _examples() -> list[Example]:
    if not SPEC_DIR.is_dir():
        return []
    out: list[Example] = []
    for name in DRAFTS:
        source = (SPEC_DIR / name).read_text(encoding="utf-8")
        for match in _FENCE.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            kind, data = _decode(match.group(2))
            out.append(Example(f"{name}:{line}", match.group(2), kind, data))
    return out


EXAMPLES = _examples()
needs_spec = pytest.mark.skipif(
    not SPEC_DIR.is_dir(), reason=f"spec directory {SPEC_DIR} not present"
)


def _model_for(example: Example) -> JMAPModel:
    data = example.data
    if example.kind == "sse:state":
        return StateChange.model_validate(data)
    if example.kind == "sse:typing":
        return TypingEvent.model_validate(data)
    if example.kind == "sse:presence":
        return PresenceEvent.model_validate(data)
    assert isinstance(data, dict), example.where
    if "methodCalls" in data or "methodResponses" in data:
        raise AssertionError(f"{example.where}: add request/response handling")
    if "@type" in data:
        return parse_push_payload(data)
    if "spans" in data:
        return RichBody.model_validate(data)
    if all(k.startswith("reactions/") for k in data):
        return MessageUpdate.model_validate(data)
    if {"blobId", "type", "size"} <= data.keys():
        return UploadResponse.model_validate(data)
    raise AssertionError(f"{example.where}: no model for {sorted(data)}")


@needs_spec
def test_enough_examples_found() -> None:
    assert len(EXAMPLES) >= MIN_EXAMPLES, [e.where for e in EXAMPLES]
    kinds = {e.kind.split(":")[0] for e in EXAMPLES} - {"json"}
    assert kinds <= NON_JSON_REASONS.keys()


@needs_spec
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_example_parses_and_round_trips(example: Example) -> None:
    model = _model_for(example)
    assert model.to_wire() == example.data
    if not isinstance(model, JMAPInput):
        # Nothing landed in "extra" by accident: every key is a declared field.
        assert not model.model_extra, model.model_extra


@needs_spec
def test_typed_content_of_examples() -> None:
    by_type: dict[type, list[JMAPModel]] = {}
    for example in EXAMPLES:
        model = _model_for(example)
        by_type.setdefault(type(model), []).append(model)
    pushes = by_type[ChatMessagePush]
    assert len(pushes) == 2
    push = pushes[1]
    assert isinstance(push, ChatMessagePush)
    assert push.messages[0].mention_scopes == ["here"]
    assert push.messages[0].has_mention is True
    (rich,) = by_type[RichBody]
    assert isinstance(rich, RichBody)
    assert rich.mentioned_user_ids == ["user:alice@example.com"]
    assert rich.broadcast_scopes == ["here"]
    patches = by_type[MessageUpdate]
    assert {next(iter(p.to_wire().values())) is None for p in patches} == {True, False}
    assert {StateChange, TypingEvent, PresenceEvent, UploadResponse} <= by_type.keys()
