"""Many rows per statement on SQLite, and the background priority of the writing threads."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absflow.store.db import BACKGROUND_NICE, sqlite_execute_rows

UPSERT_HEAD = "INSERT INTO t (k, v, note) VALUES "
UPSERT_TAIL = " ON CONFLICT (k) DO UPDATE SET v = excluded.v, note = excluded.note"


def _table() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER UNIQUE, v INTEGER, note TEXT)")
    return connection


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 40), st.integers(-2**63, 2**63 - 1),
                               st.one_of(st.none(), st.text(max_size=5))), max_size=70),
       per_statement=st.integers(1, 9))
def test_many_rows_per_statement_store_what_one_row_per_statement_does(
        rows: list[tuple[int, int, str | None]], per_statement: int) -> None:
    """Upserts of repeated keys, in order, across statement boundaries and a last short statement:
    the same table (ids, values, the later row winning) as executemany of one row each."""
    expected, actual = _table(), _table()
    expected.executemany(UPSERT_HEAD + "(?, ?, ?)" + UPSERT_TAIL, rows)
    sqlite_execute_rows(actual.cursor(), UPSERT_HEAD, "(?, ?, ?)", rows, UPSERT_TAIL,
                        rows_per_statement=per_statement)
    query = "SELECT id, k, v, note FROM t ORDER BY id"
    assert actual.execute(query).fetchall() == expected.execute(query).fetchall()


def test_an_in_list_and_the_parameter_limit() -> None:
    """An IN list in statements of many ids; rows so wide that fewer fit the parameter limit
    than asked for still go in whole."""
    connection = _table()
    rows = [(k, k * 10, f"n{k}") for k in range(1000)]
    sqlite_execute_rows(connection.cursor(), UPSERT_HEAD, "(?, ?, ?)", rows, UPSERT_TAIL)
    sqlite_execute_rows(connection.cursor(), "DELETE FROM t WHERE k IN (", "?", [(k,) for k in range(0, 1000, 3)], ")")
    assert connection.execute("SELECT count(*), sum(k) FROM t").fetchone() == (666, sum(
        k for k in range(1000) if k % 3))
    wide = sqlite3.connect(":memory:")
    columns = [f"c{i}" for i in range(400)]
    wide.execute(f"CREATE TABLE w ({', '.join(columns)})")
    sqlite_execute_rows(wide.cursor(), "INSERT INTO w VALUES ", "(" + ", ".join("?" * 400) + ")",
                        [tuple(range(r, r + 400)) for r in range(300)], rows_per_statement=200)
    assert wide.execute("SELECT count(*), sum(c0), sum(c399) FROM w").fetchone() == (
        300, sum(range(300)), sum(range(399, 699)))


def test_nothing_to_write_runs_nothing() -> None:
    connection = _table()
    sqlite_execute_rows(connection.cursor(), "INSERT INTO nowhere VALUES ", "(?)", [])  # no such table: not run
    assert connection.execute("SELECT count(*) FROM t").fetchone() == (0,)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_background_threads_run_at_low_priority_and_leave_the_others() -> None:
    """The day's writing thread and the checkpointer lower their own priority only."""
    from absflow.services import daily as daily_service
    from absflow.store.db import run_in_background

    seen: dict[str, int] = {}

    def lowered() -> None:
        run_in_background()
        seen["helper"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=lowered)
    thread.start()
    thread.join()
    with daily_service._writes_behind() as behind:
        seen["writer"] = behind.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result()
    assert seen == {"helper": BACKGROUND_NICE, "writer": BACKGROUND_NICE}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before < BACKGROUND_NICE
