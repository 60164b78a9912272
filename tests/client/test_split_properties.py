"""Property: a split request behaves exactly like the same request sent whole.

Random requests (chunkable /set and /get, creation ids and result references across
calls) run through `Splitter` against a tiny in-memory JMAP server that enforces random
limits; every call's responses must equal those of an unsplit run, and every envelope
must respect the limits.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import jmapchat
from jmapchat._core import CoreCapability, EchoResponse
from jmapchat._core._exec import Splitter
from jmapchat._core._exec import plan as split_plan
from jmapchat._core._resolve import ReferenceResolutionError, resolve_result_references
from jmapchat.models import MessageCreate


class FakeServer:
    """Message/set (create, update by creation id), Message/get, Core/echo; RFC 8620 refs."""

    def __init__(self, limits: CoreCapability) -> None:
        self.limits = limits
        self.objects: dict[str, dict[str, Any]] = {}
        self.counter = 0
        self.changes = 0
        self.envelopes = 0

    def handle(self, body: bytes) -> dict[str, Any]:
        lim = self.limits
        assert len(body) <= lim.max_size_request
        doc = json.loads(body)
        assert len(doc["methodCalls"]) <= lim.max_calls_in_request
        self.envelopes += 1
        created: dict[str, str] = dict(doc.get("createdIds") or {})
        out: list[tuple[str, dict[str, Any], str]] = []
        for name, raw, cid in doc["methodCalls"]:
            try:
                args = resolve_result_references(raw, out)
            except ReferenceResolutionError:
                out.append(("error", {"type": "invalidResultReference"}, cid))
                continue

            def real(i: str) -> str:
                return created.get(i[1:], i) if i.startswith("#") else i

            if name == "Message/set":
                create = args.get("create") or {}
                update = args.get("update") or {}
                if len(create) + len(update) > lim.max_objects_in_set:
                    out.append(("error", {"type": "requestTooLarge"}, cid))
                    continue
                made = {}
                for key, obj in create.items():
                    self.counter += 1
                    oid = f"ID{self.counter}"
                    created[key] = oid
                    self.objects[oid] = {"body": obj["body"]}
                    made[key] = {"id": oid}
                updated: dict[str, None] = {}
                for key, patch in update.items():
                    oid = real(key)
                    self.objects[oid].update(patch)
                    updated[oid] = None
                self.changes += len(create) + len(update)  # state moves per object changed
                res = {"accountId": "A", "newState": str(self.changes), "created": made}
                out.append((name, {**res, "updated": updated}, cid))
            elif name == "Message/get":
                ids = [real(i) for i in args["ids"]]
                if len(ids) > lim.max_objects_in_get:
                    out.append(("error", {"type": "requestTooLarge"}, cid))
                    continue
                found = [
                    {"id": i, "body": self.objects[i]["body"]} for i in ids if i in self.objects
                ]
                missing = [i for i in ids if i not in self.objects]
                res = {"accountId": "A", "state": "s", "list": found, "notFound": missing}
                out.append((name, res, cid))
            else:
                out.append((name, args, cid))
        reply: dict[str, Any] = {
            "methodResponses": [list(r) for r in out],
            "sessionState": "s",
        }
        if "createdIds" in doc:
            reply["createdIds"] = created
        return reply


Op = tuple[str, int, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(["set", "set", "get_created", "get_ref", "echo_ref", "update"]),
        st.integers(0, 12),
        st.integers(0, 1000),
    ),
    min_size=1,
    max_size=10,
)


def build(plan: list[Op]) -> jmapchat.Request:
    req = jmapchat.Request(account_id="A")
    sets: list[Any] = []
    gets: list[Any] = []
    n = 0
    for kind, size, pick in plan:
        if kind == "set" or not sets:
            keys = [f"k{n + i}" for i in range(max(1, size))]
            n += len(keys)
            sets.append(
                req.message.set(create={k: MessageCreate(chat_id="C", body=k) for k in keys})
            )
        elif kind == "get_created":
            s = sets[pick % len(sets)]
            keys = list(s.create_keys)[: max(1, size)]
            gets.append(req.message.get(ids=[s.created_id(k) for k in keys]))
        elif kind == "get_ref" and gets:
            gets.append(req.message.get(ids=gets[pick % len(gets)].list.each.id))
        elif kind == "update":
            s = sets[pick % len(sets)]
            keys = list(s.create_keys)[: max(1, size)]
            req.message.set(update={s.created_id(k): {"body": f"edited {k}"} for k in keys})
        else:
            s = sets[pick % len(sets)]
            req.invoke("Core/echo", {"state": s.new_state}, response=EchoResponse)
    return req


def run(plan: list[Op], limits: CoreCapability) -> tuple[list[Any], FakeServer]:
    req = build(plan)
    server = FakeServer(limits)
    sp = Splitter(req, limits)
    while (env := sp.next_envelope()) is not None:
        sp.absorb(env, server.handle(env.body))
    sp.response()
    return [call.responses for call in req.calls], server


BIG = CoreCapability.model_validate(
    {"maxCallsInRequest": 1000, "maxObjectsInSet": 10_000, "maxObjectsInGet": 10_000}
)


@settings(max_examples=150, deadline=None)
@given(
    plan=ops,
    calls=st.integers(1, 5),
    objects_set=st.integers(1, 6),
    objects_get=st.integers(1, 6),
    size=st.sampled_from([10_000_000, 2_000, 1_200]),
)
def test_split_execution_equals_whole_execution(
    plan: list[Op], calls: int, objects_set: int, objects_get: int, size: int
) -> None:
    small = CoreCapability.model_validate(
        {
            "maxCallsInRequest": calls,
            "maxObjectsInSet": objects_set,
            "maxObjectsInGet": objects_get,
            "maxSizeRequest": size,
        }
    )
    whole, one = run(plan, BIG)
    assert one.envelopes == 1
    split, many = run(plan, small)
    assert split == whole
    assert many.objects == one.objects
    # The dry-run plan (explain) never fails where the live run did not. (Its envelope
    # count may differ: sizes that only replies reveal are estimated.)
    assert len(split_plan(build(plan), small)) >= 1
