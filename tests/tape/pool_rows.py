"""Pool membership set up directly in the database for tests (migration tape_0006): state rows
for pool rows a test inserted, and held assets made to leave their pools."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text

from absflow.services.tapes import STATE_COLUMNS

#: The values a state or removal row carries, as SQL.
VALUES = ", ".join(STATE_COLUMNS)


def hold_new_rows(conn: Any) -> None:
    """State rows (held now) for the pool rows a test inserted directly (none yet, no removal)."""
    conn.execute(text(
        f"INSERT INTO pool_asset_states (asset_type, asset_id, pool_asset_id, plan_id, {VALUES}) "
        f"SELECT asset_type, asset_id, id, plan_id, {VALUES} FROM pool_assets p WHERE NOT EXISTS (SELECT 1 FROM "
        "pool_asset_states s WHERE s.pool_asset_id = p.id) AND NOT EXISTS (SELECT 1 FROM pool_asset_removals r "
        "WHERE r.pool_asset_id = p.id)"))


def remove_held(conn: Any, where: str, params: dict[str, Any], day: date, reason: str = "repaid") -> None:
    """The held assets matching ``where`` (on pool_asset_states' columns) leave their pools on ``day``."""
    conn.execute(text(
        "INSERT INTO pool_asset_removals (pool_asset_id, plan_id, asset_type, asset_id, removed_on, removal_reason, "
        f"{VALUES}) SELECT pool_asset_id, plan_id, asset_type, asset_id, :day, :reason, {VALUES} "
        f"FROM pool_asset_states WHERE {where}"), {**params, "day": day, "reason": reason})
    conn.execute(text(f"DELETE FROM pool_asset_states WHERE {where}"), params)
