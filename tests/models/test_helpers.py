"""Mentions (UTF-8 byte offsets), rich bodies, and deterministic ULIDs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ulid import ULID

from jmapchat.models import (
    BroadcastMention,
    CodeBlockSpan,
    Mention,
    MentionRangeError,
    MentionSpan,
    Message,
    MessageCreate,
    MessageText,
    RichBody,
    RichText,
    TextSpan,
    UnknownSpan,
    broadcast_mention_in,
    byte_offset,
    ids,
    mention_in,
    utf8_len,
)

# ---------------------------------------------------------------- mentions


def test_mention_offsets_are_bytes_non_ascii() -> None:
    body = "héllo @bøb!"
    m = mention_in(body, "@bøb", "bob")
    assert (m.offset, m.length) == (7, 5)  # "héllo " is 7 bytes, "@bøb" is 5
    assert m.slice(body) == "@bøb"
    assert m.char_span(body) == (6, 10)


def test_mention_offsets_with_emoji_and_later_occurrence() -> None:
    body = "👋🏽 @a and @a"
    first = mention_in(body, "@a", "a")
    second = mention_in(body, "@a", "a", start=body.index("@a") + 1)
    assert first.offset == utf8_len("👋🏽 ") == 9
    assert second.offset == byte_offset(body, body.rindex("@a"))
    assert second.slice(body) == "@a"
    with pytest.raises(ValueError, match="does not occur"):
        mention_in(body, "@zed", "z")


def test_message_text_builder() -> None:
    t = MessageText().text("hi ").mention("@bøb", id="bob").text(" ✨ ").broadcast("here")
    assert t.body == "hi @bøb ✨ @here"
    assert t.mentions == [Mention(id="bob", offset=3, length=5)]
    assert t.broadcast_mentions == [BroadcastMention(scope="here", offset=13, length=5)]
    create = t.to_create(chat_id="C1", sent_at="2026-01-01T00:00:00Z")
    assert create.to_wire() == {
        "chatId": "C1",
        "body": "hi @bøb ✨ @here",
        "bodyType": "text/plain",
        "sentAt": "2026-01-01T00:00:00Z",
        "mentions": [{"id": "bob", "offset": 3, "length": 5}],
        "broadcastMentions": [{"scope": "here", "offset": 13, "length": 5}],
    }


def test_received_mentions_are_validated() -> None:
    body = "hi bøb"
    with pytest.raises(MentionRangeError):
        Mention(id="b", offset=3, length=99).slice(body)
    with pytest.raises(MentionRangeError, match="split"):
        Mention(id="b", offset=5, length=1).slice(body)  # inside "ø"
    assert broadcast_mention_in("@everyone go", "@everyone", "everyone").slice("@everyone go") == (
        "@everyone"
    )


def test_create_rejects_mentions_outside_body() -> None:
    body = "bøb"  # 4 bytes, 3 code points
    MessageCreate(chat_id="c", body=body, mentions=[Mention(id="b", offset=0, length=4)])
    with pytest.raises(ValueError, match="exceed"):
        MessageCreate(chat_id="c", body=body, mentions=[Mention(id="b", offset=0, length=5)])
    with pytest.raises(ValueError, match="exceed"):
        MessageCreate(
            chat_id="c",
            body=body,
            broadcast_mentions=[BroadcastMention(scope="here", offset=4, length=1)],
        )


@given(st.text(max_size=20), st.text(min_size=1, max_size=8), st.text(max_size=20))
def test_builder_round_trip_property(before: str, mention: str, after: str) -> None:
    t = MessageText().text(before).mention(mention, id="x").text(after)
    assert t.mentions[0].slice(t.body) == mention
    start, stop = t.mentions[0].char_span(t.body)
    assert t.body[start:stop] == mention


# ---------------------------------------------------------------- rich bodies


def test_rich_builder_round_trip() -> None:
    body = (
        RichText()
        .text("Hello ")
        .mention("@ålice", user_id="alice")
        .text(" ")
        .bold("b")
        .italic("i")
        .bold_italic("bi")
        .code("c")
        .codeblock("fn main() {}", lang="rust")
        .blockquote("q")
        .broadcast("here")
        .link("site", "https://example.com")
        .build()
    )
    text = body.dumps()
    assert "ålice" in text  # not \u-escaped
    parsed = RichBody.parse(text)
    assert parsed == body
    assert parsed.to_wire() == body.to_wire()
    assert parsed.plain_text() == "Hello @ålice bibicfn main() {}q@heresite"
    assert isinstance(parsed.spans[1], MentionSpan)
    assert parsed.spans[1].user_id == "alice"
    assert isinstance(parsed.spans[7], CodeBlockSpan)
    assert parsed.spans[7].lang == "rust"
    create = MessageCreate.rich(chat_id="C", body=body)
    assert create.body_type == "application/jmap-chat-rich"
    msg = Message.model_validate({"id": "m", "body": create.body, "bodyType": create.body_type})
    assert msg.rich_body() == body


def test_rich_unknown_spans_kept_and_rendered_as_text() -> None:
    raw = (
        '{"spans":[{"type":"spoiler","text":"secret","level":2},'
        '{"type":"mention","text":"@x"},{"type":"text","text":"!"}]}'
    )
    body = RichBody.parse(raw)
    assert isinstance(body.spans[0], UnknownSpan)
    assert isinstance(body.spans[1], UnknownSpan)  # known type, missing userId
    assert isinstance(body.spans[2], TextSpan)
    assert body.plain_text() == "secret@x!"
    assert body.dumps() == raw


def test_rich_body_rejects_inline_plus_array_mentions() -> None:
    with pytest.raises(ValueError, match="inline"):
        MessageCreate.rich(
            chat_id="C",
            body=RichText().text("x"),
            mentions=[Mention(id="a", offset=0, length=1)],
        )


# ---------------------------------------------------------------- ids


def test_seeded_generator_is_deterministic() -> None:
    a = ids.IdGenerator(seed=7)
    b = ids.IdGenerator(seed=7)
    seq_a = [a.new_id() for _ in range(5)]
    assert seq_a == [b.new_id() for _ in range(5)]
    assert seq_a == sorted(seq_a)
    assert len(set(seq_a)) == 5
    assert seq_a != [ids.IdGenerator(seed=8).new_id() for _ in range(5)]
    first = ULID.from_str(seq_a[0])
    assert first.milliseconds == ids.DEFAULT_SEED_START_MS
    assert ULID.from_str(seq_a[1]).milliseconds == ids.DEFAULT_SEED_START_MS + 1
    assert ids.IdGenerator(seed="x", start_ms=0).ulid().milliseconds == 0


def test_unseeded_generator_is_monotonic_within_a_millisecond() -> None:
    gen = ids.IdGenerator(clock=lambda: 1_000)
    values = [gen.new_id() for _ in range(50)]
    assert values == sorted(values)
    assert len(set(values)) == 50
    assert all(ULID.from_str(v).milliseconds == 1_000 for v in values)


def test_default_generator_can_be_seeded() -> None:
    with ids.seeded_ids(3) as gen:
        x = ids.reaction_id()
        y = ids.creation_id()
        assert ids.default_generator() is gen
    with ids.seeded_ids(3):
        assert [ids.new_ulid(), ids.new_ulid()] == [x, y]
    assert ids.default_generator() is not gen
    assert len(ids.new_ulid()) == 26
