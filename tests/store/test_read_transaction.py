"""Read-only transactions: on SQLite they never queue behind a writer; on PostgreSQL a write in
one fails and changes nothing."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from absflow.domain.plan import AssetType
from absflow.services import plans as plan_service
from absflow.services import tlog as tlog_service
from absflow.services.context import Context
from absflow.store.db import WalCheckpointer, make_engine, read_transaction, transaction


def _hold_write_lock(engine: Engine, started: threading.Event, release: threading.Event) -> None:
    """A writer (BEGIN IMMEDIATE) that has changed a row and not committed, until ``release``."""
    with transaction(engine) as session:
        session.execute(text("UPDATE plans SET name = 'uncommitted name'"))
        started.set()
        release.wait(30)
        raise RuntimeError("roll back")  # the writer never commits


def test_sqlite_reads_do_not_wait_for_a_writer_and_see_the_last_commit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    from absflow.store.migrate import upgrade

    upgrade(engine)
    ctx = Context(engine=engine)
    code = plan_service.create_plan(ctx, name="committed name", asset_type=AssetType.MARGIN_LOAN).code
    started, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            _hold_write_lock(engine, started, release)
        except RuntimeError:
            pass
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(10)
        begun = time.perf_counter()
        # Each of these took BEGIN IMMEDIATE before: it waited for the writer's busy timeout (10 s)
        # and then failed with "database is locked".
        listed = plan_service.list_plans(ctx)
        plan, history = plan_service.get_plan_with_history(ctx, code)
        head = tlog_service.log_head(ctx)
        elapsed = time.perf_counter() - begun
    finally:
        release.set()
        thread.join(30)
    assert not failures
    assert elapsed < 2.0, f"reads waited {elapsed:.1f} s for the writer"
    assert [p.name for p in listed] == ["committed name"] and plan.name == "committed name"
    assert history and head.size >= 1
    # A read's commit does not wake the checkpointer (nothing of it to copy back).
    checkpointer = WalCheckpointer.for_path(str(tmp_path / "r.db"))
    assert checkpointer.wait_idle()
    before = checkpointer.checkpoints
    with read_transaction(engine) as session:
        session.execute(text("SELECT 1"))
    time.sleep(0.5)
    assert checkpointer.checkpoints == before
    engine.dispose()


def test_a_write_in_a_read_transaction_fails_on_postgresql_and_changes_nothing(ctx: Context) -> None:
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no read-only transactions; its reads only skip the write lock")
    code = plan_service.create_plan(ctx, name="kept", asset_type=AssetType.MARGIN_LOAN).code
    with pytest.raises(DBAPIError, match="read-only transaction"), read_transaction(ctx.engine) as session:
        session.execute(text("UPDATE plans SET name = 'changed'"))
    assert plan_service.get_plan(ctx, code).name == "kept"
    # The pooled connection is not left read-only: the next ordinary transaction writes.
    with transaction(ctx.engine) as session:
        session.execute(text("UPDATE plans SET name = 'renamed'"))
    assert plan_service.get_plan(ctx, code).name == "renamed"
