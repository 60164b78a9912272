# ruff: noqa: PT012, PT018
"""`Store`: buffered writes, lazy savepoints and per-transaction caches behave as if every
write ran at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from jmapchat.server._store import CREATED, UPDATED, Store


class Boom(Exception):
    pass


@pytest.fixture
def store() -> Store:
    return Store(":memory:")


def obj(oid: str, **more: object) -> dict[str, object]:
    return {"id": oid, **more}


def count_rows(store: Store, table: str) -> int:
    return int(store.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_buffered_writes_are_visible_and_committed(store: Store) -> None:
    with store.transaction():
        store.put("A", "T", obj("1", v=1), k1="x", k2="s1")
        assert store.log_change("A", "T", "1", CREATED) == 1
        assert store.get("A", "T", "1") == {"id": "1", "v": 1}
        assert store.modseq("A", "T") == 1
        # SQL reads see the buffered rows
        assert store.by_k1("A", "T", "x") == [{"id": "1", "v": 1}]
        assert store.changes_since("A", "T", 0) == [(1, "1", CREATED)]
        store.put("A", "T", obj("2"), k1="x")
        store.put("A", "T", obj("1", v=2), k1="x")  # the last write wins
        assert store.log_change("A", "T", "2", CREATED) == 2
        assert store.log_change("A", "T", "1", UPDATED) == 3
        assert store.delete("A", "T", "2") is True  # a buffered row is deleted
        assert store.get("A", "T", "2") is None
    assert store.get("A", "T", "1") == {"id": "1", "v": 2}
    assert store.get_many("A", "T", ["1", "2"]) == {"1": {"id": "1", "v": 2}}
    assert store.modseq("A", "T") == 3 and store.modseqs("A") == {"T": 3}
    assert [k for _, _, k in store.changes_since("A", "T", 0)] == [CREATED, CREATED, UPDATED]


def test_rolled_back_savepoint_drops_buffered_writes(store: Store) -> None:
    with store.transaction():
        store.put("A", "T", obj("keep"))
        store.log_change("A", "T", "keep", CREATED)
        with pytest.raises(Boom), store.savepoint():
            store.put("A", "T", obj("gone"))
            store.put("A", "T", obj("keep", changed=True))
            store.log_change("A", "T", "gone", CREATED)
            assert store.get("A", "T", "gone") == {"id": "gone"}
            raise Boom
        assert store.get("A", "T", "gone") is None
        assert store.get("A", "T", "keep") == {"id": "keep"}
        assert store.modseq("A", "T") == 1
        with store.savepoint():  # released: its writes stay
            store.put("A", "T", obj("second"))
            store.log_change("A", "T", "second", CREATED)
        assert store.log_change("A", "T", "keep", UPDATED) == 3
    assert store.ids("A", "T") == ["keep", "second"]
    assert store.changes_since("A", "T", 0) == [
        (1, "keep", CREATED),
        (2, "second", CREATED),
        (3, "keep", UPDATED),
    ]


def test_rolled_back_savepoint_after_a_read_inside_it(store: Store) -> None:
    with store.transaction():
        store.put("A", "T", obj("a"))
        store.log_change("A", "T", "a", CREATED)
        with store.savepoint():
            store.put("A", "T", obj("b"))
            store.log_change("A", "T", "b", CREATED)
            with pytest.raises(Boom), store.savepoint():
                store.put("A", "T", obj("c"))
                store.log_change("A", "T", "c", CREATED)
                # a read: everything buffered (and both SAVEPOINTs) reaches SQLite
                assert store.count("A", "T") == 3
                store.put("A", "T", obj("d"))
                store.log_change("A", "T", "d", CREATED)
                raise Boom
            assert store.ids("A", "T") == ["a", "b"]
            assert store.modseq("A", "T") == 2
            store.put("A", "T", obj("e"))
            assert store.log_change("A", "T", "e", CREATED) == 3
    assert store.ids("A", "T") == ["a", "b", "e"]
    assert [i for _, i, _ in store.changes_since("A", "T", 0)] == ["a", "b", "e"]


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    with store.transaction():
        store.put("A", "T", obj("a"))
        store.log_change("A", "T", "a", CREATED)
    with pytest.raises(Boom), store.transaction():
        store.put("A", "T", obj("b"))
        store.log_change("A", "T", "b", CREATED)
        store.log_change("B", "T", "b", CREATED)
        raise Boom
    assert store.ids("A", "T") == ["a"] and store.modseq("A", "T") == 1
    assert store.modseq("B", "T") == 0 and count_rows(store, "changes") == 1
    with store.transaction():  # the cached counters were dropped with it
        assert store.log_change("A", "T", "c", CREATED) == 2


def test_savepoint_outside_a_transaction(store: Store) -> None:
    with store.savepoint():
        store.put("A", "T", obj("a"))
        store.log_change("A", "T", "a", CREATED)
    with pytest.raises(Boom), store.savepoint():
        store.put("A", "T", obj("b"))
        raise Boom
    assert store.ids("A", "T") == ["a"] and store.modseq("A", "T") == 1


def test_raw_sql_write_sees_buffer_and_drops_cache(store: Store) -> None:
    with store.transaction():
        store.put("A", "T", obj("a", v=1))
        assert store.get("A", "T", "a") == {"id": "a", "v": 1}
        store.execute("UPDATE objects SET data=? WHERE id=?", (b'{"id":"a","v":9}', "a"))
        assert store.get("A", "T", "a") == {"id": "a", "v": 9}


def test_writes_outside_a_transaction_and_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite")
    store = Store(path)
    store.put("A", "T", obj("a"))
    store.log_change("A", "T", "a", CREATED)
    with store.transaction():
        store.put("A", "T", obj("b"))
        store.log_change("A", "T", "b", CREATED)
    store.close()
    again = Store(path)
    try:
        assert again.ids("A", "T") == ["a", "b"] and again.modseq("A", "T") == 2
        assert [i for _, i, _ in again.changes_since("A", "T", 0)] == ["a", "b"]
    finally:
        again.close()
