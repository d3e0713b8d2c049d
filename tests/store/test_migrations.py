"""Migrations build exactly the schema the row classes describe, on every backend."""

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from absflow.store.migrate import is_current, upgrade
from absflow.store.models import metadata


def test_migrated_schema_matches_rows(engine: Engine) -> None:
    assert is_current(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    assert is_current(engine)


def test_log_downgrade_puts_back_the_small_subtrees(engine: Engine) -> None:
    """tlog_0003 stopped storing subtree hashes below level 4; going back to tlog_0002 must restore
    them exactly (the older code proves inclusion from them), and going forward drops them again."""
    from alembic import command
    from sqlalchemy import select

    from absflow.services.log import append_event
    from absflow.store.db import transaction
    from absflow.store.log import LogEntryRow, LogNodeRow
    from absflow.store.migrate import alembic_config
    from absflow.tlog import node_hash

    with transaction(engine) as session:
        for i in range(37):
            append_event(session, entry_type="test.event", plan_code=None,
                         recorded_at=datetime(2026, 1, 1, tzinfo=UTC), payload={"n": i})
    with transaction(engine) as session:
        leaves = list(session.execute(select(LogEntryRow.leaf_hash).order_by(LogEntryRow.idx)).scalars())
        assert session.execute(select(LogNodeRow).where(LogNodeRow.level < 4)).first() is None
    try:
        command.downgrade(alembic_config(engine), "tlog_0002")
        expected: dict[tuple[int, int], bytes] = {}
        level_hashes = leaves
        for level in (1, 2, 3):
            pairs = zip(level_hashes[0::2], level_hashes[1::2], strict=False)
            level_hashes = [node_hash(left, right) for left, right in pairs]
            expected.update({(level, i): h for i, h in enumerate(level_hashes)})
        with transaction(engine) as session:
            stored = {(r.level, r.idx): bytes(r.hash)
                      for r in session.execute(select(LogNodeRow).where(LogNodeRow.level < 4)).scalars()}
        assert stored == expected and len(expected) == 18 + 9 + 4
    finally:  # the session's shared database goes back to head whatever happens
        upgrade(engine)
    assert is_current(engine)
    with transaction(engine) as session:
        assert session.execute(select(LogNodeRow).where(LogNodeRow.level < 4)).first() is None
