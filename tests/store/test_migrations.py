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


def test_pool_change_items_flag_down_and_up_keeps_the_items(engine: Engine) -> None:
    """tlog_0004 marks a daily run's items (found through the pool rows) and keeps only the others
    in the asset index. Back to tlog_0003 the column goes and every item is in the full index
    again; forward again the items stored meanwhile read as not via pool rows (in the index)."""
    from alembic import command
    from sqlalchemy import inspect, text

    from absflow.store.migrate import alembic_config

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO pool_change_items (log_index, position, plan_code, asset_id, change, "
                          "amount_fen, reason, via_pool_rows) VALUES (7, 0, 'P1', 'A1', 'added', 100, 'r', :t), "
                          "(7, 1, 'P1', 'A2', 'removed', 5, 'r', :f)"), {"t": True, "f": False})
    try:
        command.downgrade(alembic_config(engine), "tlog_0003")
        columns = {c["name"] for c in inspect(engine).get_columns("pool_change_items")}
        assert "via_pool_rows" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT asset_id FROM pool_change_items WHERE plan_code = 'P1' "
                                     "ORDER BY asset_id")).scalars().all() == ["A1", "A2"]
        upgrade(engine)
        with engine.connect() as conn:
            flags = conn.execute(text("SELECT asset_id, via_pool_rows FROM pool_change_items "
                                      "WHERE plan_code = 'P1' AND NOT via_pool_rows ORDER BY asset_id")).all()
        assert [(a, bool(f)) for a, f in flags] == [("A1", False), ("A2", False)]
    finally:  # the session's shared database goes back to head whatever happens
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM pool_change_items WHERE plan_code = 'P1'"))
    assert is_current(engine)


def test_daily_input_bytes_are_stored_uncompressed_on_postgresql(engine: Engine) -> None:
    """daily_0005: the day's Parquet bytes (already zstd) skip PostgreSQL's pglz attempt; the
    downgrade puts the default storage back."""
    import pytest
    from alembic import command
    from sqlalchemy import text

    from absflow.store.migrate import alembic_config

    if engine.dialect.name != "postgresql":
        pytest.skip("column storage is a PostgreSQL setting")

    def storage() -> str:
        with engine.connect() as conn:
            return str(conn.execute(text(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = 'daily_inputs'::regclass "
                "AND attname = 'data'")).scalar_one())

    assert storage() == "e"  # EXTERNAL
    try:
        command.downgrade(alembic_config(engine), "daily_0004")
        assert storage() == "x"  # EXTENDED, PostgreSQL's default for bytea
    finally:
        upgrade(engine)
    assert storage() == "e" and is_current(engine)
