"""The SQLite WAL checkpointer: commits reach the database file off the writer's path."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from absflow.store import db
from absflow.store.db import SQLITE_WAL_AUTOCHECKPOINT_PAGES, WalCheckpointer, make_engine


def _rows_in_main_file_alone(path: Path, tmp_path: Path) -> int:
    """Rows of table t in the database file read WITHOUT its WAL (a copy of the main file only)."""
    alone = tmp_path / "alone.db"
    shutil.copyfile(path, alone)
    with sqlite3.connect(alone) as connection:
        return int(connection.execute("SELECT count(*) FROM t").fetchone()[0])


def test_committed_rows_are_copied_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == SQLITE_WAL_AUTOCHECKPOINT_PAGES
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1), (2), (3)"))
    checkpointer = WalCheckpointer.for_path(str(path))
    assert checkpointer.wait_idle()
    # Below the writers' own threshold only the checkpointer can have moved the rows out of the WAL.
    assert checkpointer.checkpoints >= 1
    assert _rows_in_main_file_alone(path, tmp_path) == 3
    with engine.connect() as connection:  # and the database reads the same through the engine
        assert connection.execute(text("SELECT sum(x) FROM t")).scalar_one() == 6
    engine.dispose()


def test_one_checkpointer_per_file_and_none_for_memory(tmp_path: Path) -> None:
    assert WalCheckpointer.for_path(str(tmp_path / "a.db")) is WalCheckpointer.for_path(str(tmp_path / "." / "a.db"))
    assert WalCheckpointer.for_path(str(tmp_path / "a.db")) is not WalCheckpointer.for_path(str(tmp_path / "b.db"))
    assert db._sqlite_file("sqlite://") is None
    assert db._sqlite_file("sqlite:///:memory:") is None
    assert db._sqlite_file(f"sqlite:///{tmp_path}/a.db") == f"{tmp_path}/a.db"


def test_a_removed_file_is_not_recreated_and_the_thread_ends(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "CHECKPOINT_IDLE_SECONDS", 0.1)
    monkeypatch.setattr(db, "CHECKPOINT_DELAY_SECONDS", 0.01)
    path = tmp_path / "gone.db"
    checkpointer = WalCheckpointer(str(path))
    checkpointer.committed()
    deadline = time.monotonic() + 5
    while checkpointer._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpointer._thread is None  # ended: nothing to open
    assert not path.exists()  # opened read-write only, never created
    assert checkpointer.checkpoints == 0


def test_the_thread_ends_when_idle_and_a_later_commit_starts_another(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "CHECKPOINT_IDLE_SECONDS", 0.1)
    monkeypatch.setattr(db, "CHECKPOINT_DELAY_SECONDS", 0.01)
    path = tmp_path / "idle.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    checkpointer = WalCheckpointer.for_path(str(path))
    deadline = time.monotonic() + 5
    while checkpointer._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpointer._thread is None
    before = checkpointer.checkpoints
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (7)"))
    assert checkpointer.wait_idle()
    assert checkpointer.checkpoints > before
    assert _rows_in_main_file_alone(path, tmp_path) == 1
    engine.dispose()


def test_the_log_restarts_once_no_reader_is_in_it(tmp_path: Path) -> None:
    """A reader in the log when the copy completes puts the restart off; when it ends, the
    checkpointer restarts the log, so the next writer writes from the log's beginning (without
    it the log grew until a committing writer checkpointed it itself)."""
    path = tmp_path / "restart.db"
    engine = make_engine(f"sqlite:///{path}")
    checkpointer = WalCheckpointer.for_path(str(path))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t SELECT value FROM json_each(:xs)"), {"xs": str(list(range(5000)))})
    assert checkpointer.wait_idle()
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (5000,)  # a snapshot in the log
    restarts = checkpointer.restarts
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t SELECT value FROM json_each(:xs)"), {"xs": str(list(range(5000)))})
    time.sleep(0.1)
    assert checkpointer.restarts == restarts  # the reader holds it off
    reader.execute("COMMIT")
    assert checkpointer.wait_idle()
    assert checkpointer.restarts == restarts + 1
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    frames = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames[1] <= 3, frames  # written from the log's start: not after the earlier frames
    reader.close()
    engine.dispose()


def test_a_new_database_file_gets_the_page_size_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """New files are made with ``SQLITE_PAGE_SIZE_BYTES`` pages; a file made with SQLite's default
    4,096-byte pages (an older absflow database) opens and works unchanged."""
    from absflow.store.db import SQLITE_PAGE_SIZE_BYTES

    new = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    with new.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with new.connect() as connection:
        assert connection.execute(text("PRAGMA page_size")).scalar_one() == SQLITE_PAGE_SIZE_BYTES == 16_384
    new.dispose()
    old_path = tmp_path / "old.db"
    with sqlite3.connect(old_path) as raw:
        raw.execute("PRAGMA page_size=4096")
        raw.execute("CREATE TABLE t (x INTEGER)")
        raw.execute("INSERT INTO t VALUES (1)")
    old = make_engine(f"sqlite:///{old_path}")
    with old.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (2)"))
    with old.connect() as connection:
        assert connection.execute(text("PRAGMA page_size")).scalar_one() == 4096
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("SELECT sum(x) FROM t")).scalar_one() == 3
    old.dispose()
