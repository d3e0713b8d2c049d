"""Engines and transactions. One URL picks the database: SQLite (embedded) or PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///absflow.db"


def database_url_from_env() -> str:
    """``ABSFLOW_DATABASE_URL``, default a SQLite file ``absflow.db`` in the current directory."""
    return os.environ.get("ABSFLOW_DATABASE_URL", DEFAULT_DATABASE_URL)


@contextmanager
def scratch_postgresql(server_url: str, prefix: str = "absflow_scratch") -> Iterator[str]:
    """The URL of a new, empty database on ``server_url``'s PostgreSQL server, dropped (FORCE) afterwards.

    For tests and benchmarks that must not see anyone else's rows. Raises what the driver
    raises when the server cannot be reached (nothing is created then).
    """
    base = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def connections_share_data(engine: Engine) -> bool:
    """Do two connections of ``engine`` see one database (a server, or a SQLite file — not an
    in-memory SQLite database, which is one per connection)?"""
    return not is_sqlite(engine) or _sqlite_file(engine.url.render_as_string(hide_password=False)) is not None


#: SQLite's limit on one statement's parameters (SQLITE_MAX_VARIABLE_NUMBER, 32,766 since 3.32).
SQLITE_MAX_PARAMETERS = 32_766
#: Rows per statement in :func:`sqlite_execute_rows` (measured: 100 to 1,000 equally fast).
SQLITE_ROWS_PER_STATEMENT = 200


def sqlite_execute_rows(cursor: Any, head: str, row: str, rows: Sequence[Sequence[Any]], tail: str = "",
                        *, rows_per_statement: int = SQLITE_ROWS_PER_STATEMENT) -> None:
    """Run ``head + row, row, … + tail`` over ``rows`` on a raw SQLite cursor, many rows per
    statement (``row``: one row's text with a ``?`` per value, e.g. ``(?, ?)`` in a VALUES list
    or ``?`` in an IN list). The same effect as one statement per row wherever the statement
    treats its rows one by one (a VALUES list inserted or upserted in order, an IN list).

    ``executemany`` of one row per statement takes the interpreter lock back after every row;
    beside a thread running Python that cost both threads (7,000 rows, the other thread busy:
    4.8 s against 0.37 s), and alone it is slower too (12.0 against 8.4 ms; docs/PERFORMANCE.md)."""
    if not rows:
        return
    size = max(1, min(rows_per_statement, SQLITE_MAX_PARAMETERS // max(len(rows[0]), 1)))
    whole = len(rows) // size * size
    if whole:
        cursor.executemany(head + ", ".join([row] * size) + tail,
                           (tuple(chain.from_iterable(rows[at:at + size])) for at in range(0, whole, size)))
    if whole < len(rows):
        cursor.execute(head + ", ".join([row] * (len(rows) - whole)) + tail, tuple(chain.from_iterable(rows[whole:])))


#: SQLite: WAL pages after which a committing connection copies the WAL back into the database
#: itself (default 1,000) — a backstop: normally the checkpointer thread has done it already.
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 65_536
#: Seconds the checkpointer waits after a commit is announced before copying the WAL back. 0: it
#: copies what is committed at once, and what a commit still writing adds on a later try
#: (``WalCheckpointer._copy_and_restart``); after 0.2 s the next transaction had often begun, and
#: the log was seldom restarted (40 days at 200,000 loans: 11 restarts against 42, and the
#: writer's own checkpoint every fifth day).
CHECKPOINT_DELAY_SECONDS = 0.0
#: Tries, and seconds between them, to restart the log after a complete checkpoint (``_copy_and_restart``).
WAL_RESTART_TRIES = 50
WAL_RESTART_RETRY_SECONDS = 0.01
#: Seconds without a commit after which the checkpointer thread closes its connection and ends
#: (the next commit starts a new one).
CHECKPOINT_IDLE_SECONDS = 5.0


#: Page size of a new SQLite database file, in bytes (SQLite's default: 4,096). A day's run at
#: 200,000 loans changes rows and index entries on pages all over the pool's tables; with 16 KiB
#: pages the tables and indexes are shallower and a commit writes fewer, larger WAL frames
#: (days 40–80 of the life: 395 → 365 ms a day, docs/PERFORMANCE.md). Set when the file is
#: created, before its first table; an existing file keeps the size it was made with (in WAL mode
#: SQLite cannot change it; ``VACUUM INTO`` a new file converts one).
SQLITE_PAGE_SIZE_BYTES = 16_384


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions (pysqlite's legacy implicit BEGIN would defeat
    # BEGIN IMMEDIATE); enforce foreign keys; WAL lets readers work beside one writer.
    # The WAL is copied back into the database by the checkpointer thread (WalCheckpointer),
    # not by the committing connection: the copy and its fsync cost a daily run at 200,000
    # loans ≈ 0.1 s a day of waiting. A writer checkpoints itself only past 65,536 WAL pages
    # (256 MiB). Commits stay atomic and durable as before (WAL, synchronous=NORMAL).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE_BYTES}")  # a new file only (before WAL mode)
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


#: Nice value of the threads that do a run's writing beside its computing (Linux: per thread).
BACKGROUND_NICE = 19


def run_in_background() -> None:
    """Lower the calling thread's scheduling priority to ``BACKGROUND_NICE`` (Linux, where the
    nice value is per thread; elsewhere nothing). For threads whose work overlaps a thread that
    bounds the run — the day's writes, the WAL checkpoints: on two cores they otherwise took CPU
    from the computing thread and its polars workers (docs/PERFORMANCE.md). Work only waits
    longer when every core is busy; a thread cannot raise its priority back unprivileged, so
    call it only on threads made for such work."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):  # a sandbox that forbids it: normal priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


class WalCheckpointer:
    """Copies a SQLite database file's write-ahead log back into the file on a thread of its own.

    One per database file while an engine of it is alive (:meth:`for_path`). Each commit on an engine of that
    file calls :meth:`committed`; the thread then runs ``PRAGMA wal_checkpoint(PASSIVE)`` on
    its own connection, which never blocks readers or the writer (it copies the frames no
    reader still needs). Checkpoints only move committed pages, so a crash at any moment loses
    nothing a checkpoint by the writer would have kept. If the file cannot be opened (it was
    removed) the thread ends quietly; writers still checkpoint past
    ``SQLITE_WAL_AUTOCHECKPOINT_PAGES``.
    """

    _instances: weakref.WeakValueDictionary[str, WalCheckpointer] = weakref.WeakValueDictionary()
    _instances_lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self.checkpoints = 0
        self.restarts = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._busy = False

    @classmethod
    def for_path(cls, path: str) -> WalCheckpointer:
        key = os.path.abspath(path)
        with cls._instances_lock:
            found = cls._instances.get(key)
            if found is None:
                found = cls(key)
                cls._instances[key] = found
            return found

    def committed(self) -> None:
        """A transaction on the file is committing: checkpoint shortly after."""
        with self._lock:
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint {self.path}", daemon=True)
                self._thread.start()

    def wait_idle(self, timeout_seconds: float = 10.0) -> bool:
        """Wait until no checkpoint is pending or running (tests); True if so before the timeout."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            with self._lock:
                if self._thread is None or (not self._wake.is_set() and not self._busy):
                    return True
            time.sleep(0.01)
        return False

    def _copy_and_restart(self, connection: sqlite3.Connection) -> None:
        """Copy the log back (PASSIVE), and once every frame is copied let the next writer start
        the log from its beginning.

        SQLite restarts the log only when a write transaction begins after a complete checkpoint
        with no reader in the log — rarely when transactions follow each other closely (a day's
        inputs, then its run, then the next day's) — so the log grew to
        ``SQLITE_WAL_AUTOCHECKPOINT_PAGES`` and a committing writer then checkpointed itself
        (≈ 130 ms in a daily run's commit, every fifth day at 200,000 loans). A RESTART checkpoint
        right after a complete PASSIVE one has nothing left to copy; it never waits (timeout 0):
        while a reader or the writer is busy it is tried again shortly, until the next commit."""
        for _ in range(WAL_RESTART_TRIES):
            # An empty log: the announced commit has not written yet (it is copied on a later try).
            busy, log_frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if not busy and 0 < log_frames == copied and connection.execute(
                    "PRAGMA wal_checkpoint(RESTART)").fetchone()[0] == 0:
                self.restarts += 1
                return
            if self._wake.wait(WAL_RESTART_RETRY_SECONDS):
                return  # a new commit: copy it first

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        run_in_background()
        try:
            while True:
                if not self._wake.wait(CHECKPOINT_IDLE_SECONDS):
                    with self._lock:
                        if not self._wake.is_set():
                            self._thread = None
                            return
                    continue
                time.sleep(CHECKPOINT_DELAY_SECONDS)
                with self._lock:
                    self._wake.clear()
                    self._busy = True
                try:
                    if connection is None:  # timeout 0: never waits for the writer or a reader
                        connection = sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True, timeout=0,
                                                     isolation_level=None, check_same_thread=False)
                    self._copy_and_restart(connection)
                    self.checkpoints += 1
                finally:
                    self._busy = False
        except (sqlite3.Error, OSError):
            with self._lock:
                self._thread = None
        finally:
            if connection is not None:
                connection.close()


def _sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


#: Execution option of a connection whose transactions only read (:func:`read_transaction`).
READ_ONLY_OPTION = "absflow_read_only"


def _read_only(conn: Any) -> bool:
    """Is ``conn`` a connection of :func:`read_transaction`?"""
    return bool(conn.get_execution_options().get(READ_ONLY_OPTION))


def _sqlite_begin(conn: Any) -> None:
    # Writers serialize at BEGIN instead of failing half-way on a lock upgrade. A read-only
    # transaction takes no write lock (a deferred BEGIN): in WAL mode it reads its snapshot
    # beside a writer instead of queueing behind it.
    if _read_only(conn):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _postgresql_begin(conn: Any) -> None:
    # A read-only transaction is declared so: a write in it fails at once (the contract is kept).
    if _read_only(conn):
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")


_ENGINE_KEYS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def engine_key(engine: Engine) -> str:
    """The engine's URL as text (password hidden), for keys of per-database caches; rendered once."""
    found = _ENGINE_KEYS.get(engine)
    if found is None:
        found = _ENGINE_KEYS[engine] = str(engine.url)
    return found


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (default from the environment) with our settings."""
    url = url or database_url_from_env()
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        path = _sqlite_file(url)
        if path is not None:
            checkpointer = WalCheckpointer.for_path(path)
            event.listen(engine, "commit", lambda conn: None if _read_only(conn) else checkpointer.committed())
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "begin", _postgresql_begin)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any exception."""
    session = session_factory(engine)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Session]:
    """A unit of work that only reads: one consistent snapshot, and no write lock.

    SQLite: a deferred BEGIN, so readers never wait for a writer (a daily run, a tape import)
    and a writer never waits for them (WAL). PostgreSQL: ``SET TRANSACTION READ ONLY``, so a
    write attempted here fails instead of slipping in. For reads only; what writes uses
    :func:`transaction`."""
    connection = engine.connect().execution_options(**{READ_ONLY_OPTION: True})
    session = session_factory(engine)(bind=connection)
    try:
        with session.begin():
            yield session
    finally:
        session.close()
        connection.close()
