"""Engines and transactions. One URL picks the database: SQLite (embedded) or PostgreSQL."""

from __future__ import annotations

import os
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


#: SQLite: WAL pages after which a commit copies the WAL back into the database (default 1,000).
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 32_768


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions (pysqlite's legacy implicit BEGIN would defeat
    # BEGIN IMMEDIATE); enforce foreign keys; WAL lets readers work beside one writer.
    # Checkpoints every 32,768 WAL pages (128 MiB) rather than 1,000: a daily run at 200,000
    # loans rewrites thousands of the same pool pages every day, and a checkpoint after each
    # run copied them all back each time (half the commit's cost); a page changed on several
    # days between checkpoints is copied once. Commits stay atomic and durable as before (WAL,
    # synchronous=NORMAL); only the WAL file grows larger between checkpoints.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers serialize at BEGIN instead of failing half-way on a lock upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


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
