"""Shared fixtures. Storage tests take ``ctx``/``engine`` and run on SQLite and, when
``ABSFLOW_TEST_DATABASE_URL`` names a PostgreSQL server, on PostgreSQL too.

Each test session creates its own PostgreSQL database (dropped at the end), so parallel
runs on one server never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from absflow.services.context import Context
from absflow.store.db import make_engine, scratch_postgresql
from absflow.store.migrate import upgrade
from absflow.store.models import metadata

# Property tests judge correctness, not speed: on a shared 2-core CI box a slow example must
# not fail the run (Hypothesis's per-example deadline), nor trip the too-slow health check.
settings.register_profile("absflow", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("absflow")

PG_URL = os.environ.get("ABSFLOW_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def fresh_pg_database(prefix: str = "absflow_t") -> AbstractContextManager[str]:
    """The URL of a new PostgreSQL database on ``ABSFLOW_TEST_DATABASE_URL``'s server, dropped afterwards."""
    assert PG_URL
    return scratch_postgresql(PG_URL, prefix)


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    if not PG_URL:
        pytest.skip("ABSFLOW_TEST_DATABASE_URL is not set")
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict[str, Engine]:
    return {}


def _session_engine(backend: str, cache: dict[str, Engine], request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Engine:
    if backend not in cache:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / "absflow.db"
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("pg_database_url")
        engine = make_engine(url)
        upgrade(engine)
        cache[backend] = engine
    return cache[backend]


def wipe(engine: Engine) -> None:
    """Empty every table (keeps the schema); the log head goes back to size 0."""
    with engine.begin() as conn:
        names = [t.name for t in reversed(metadata.sorted_tables)]
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
        else:
            for name in names:
                conn.execute(text(f'DELETE FROM "{name}"'))
        conn.execute(text("INSERT INTO log_heads (log_id, size) VALUES (1, 0)"))


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, _engines: dict[str, Engine],
           tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A migrated, empty database: SQLite, then PostgreSQL when configured."""
    eng = _session_engine(request.param, _engines, request, tmp_path_factory)
    wipe(eng)
    return eng


class FixedClock:
    """A clock tests can set and move."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


@pytest.fixture
def ctx(engine: Engine, clock: FixedClock) -> Context:
    return Context(engine=engine, clock=clock)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CLI runner whose commands use a fresh SQLite file (``ABSFLOW_DATABASE_URL``)."""
    from absflow.cli import common

    monkeypatch.setenv("ABSFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    common.context.cache_clear()
    yield CliRunner()
    common.context.cache_clear()
