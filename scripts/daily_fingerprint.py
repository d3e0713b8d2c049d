"""Fingerprint of a simulated daily life: every table a run writes and every balance a reader sees.

Run it on two versions of the code and compare the files: a change that must not change results
leaves every line equal. SQLite by default; ``--postgresql`` on a scratch database (dropped after)
of the server named by ABSFLOW_TEST_DATABASE_URL.

    python scripts/daily_fingerprint.py before.json [--days 12 --loans 20000 --postgresql]
    diff before.json after.json

Covered: ``pool_assets`` (every column), days with their summaries, asset events, postings,
repurchases, distributions, plan states, stored inputs, pool-change items, log entries (bodies
without their times), the pool at the end of every day (``_pool_at_end_of``), the current pool
and the pool as of several days (``load_pool_frame``), the pool summary, ``show_day`` with its
re-verification, and the servicer report data. Wall-clock columns and surrogate ids of
time-stamped rows are left out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text

from absflow.services import daily as daily_service
from absflow.services import pool as pool_service
from absflow.services import servicer_report, tapes
from absflow.services.context import open_context
from absflow.services.simulate import simulate
from absflow.store.db import scratch_postgresql, transaction

DEAL = Path(__file__).resolve().parents[1] / "examples" / "deals" / "09_pyas_swhy_1.yaml"
#: table → (ORDER BY, columns left out)
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "pool_assets": ("plan_id, asset_type, asset_id, acquired_on, id", ()),
    "daily_days": ("plan_id, business_date", ("run_at", "id")),
    "daily_asset_events": ("id", ()),
    "daily_postings": ("id", ()),
    "daily_repurchases": ("plan_id, asset_id", ()),
    "daily_distributions": ("plan_id, payment_date, tranche_id", ()),
    "daily_plan_states": ("plan_id", ("updated_at",)),
    "daily_inputs": ("plan_id, business_date, kind", ("loaded_at", "id")),
    "pool_change_items": ("log_index, position", ()),
}


def _value(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, float):
        return repr(value)
    return None if value is None else str(value)


def _digest(rows: Iterable[Any]) -> list[Any]:
    h, count = hashlib.sha256(), 0
    for row in rows:
        h.update(json.dumps(row, default=str, ensure_ascii=False, sort_keys=True).encode())
        h.update(b"\n")
        count += 1
    return [count, h.hexdigest()]


def fingerprint(url: str, days: int, loans: int) -> dict[str, Any]:
    ctx = open_context(url)
    report = simulate(ctx, DEAL.read_text(encoding="utf-8"), days=days, seed=2026, loans=loans,
                      candidates_per_day=max(100, loans // 40), clients=loans // 2)
    out: dict[str, Any] = {"days_run": report.days_run}
    with transaction(ctx.engine) as session:
        for table, (order, left_out) in TABLES.items():
            result = session.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
            keys = [k for k in list(result.keys()) if k not in left_out]  # noqa: SIM118
            out[table] = _digest([_value(r._mapping[k]) for k in keys] for r in result)
        bodies = []
        for idx, kind, body in session.execute(text("SELECT idx, entry_type, body FROM log_entries ORDER BY idx")):
            entry = json.loads(bytes(body))
            entry.pop("recorded_at", None)
            bodies.append([idx, kind, entry])
        out["log_entries (bodies without times)"] = _digest(bodies)
        plan_id = session.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": report.plan_code}).scalar_one()
        stored_days = session.execute(text(
            "SELECT business_date FROM daily_days WHERE plan_id = :p ORDER BY business_date"), {"p": plan_id})
        run_days = [d if isinstance(d, date) else date.fromisoformat(str(d)) for d in stored_days.scalars()]
        ends = []
        for day in run_days:
            pool = daily_service._pool_at_end_of(session, plan_id, day).sort("asset_id")
            ends.append([str(day), pool.height, int(pool.get_column("balance_fen").sum() or 0),
                         _digest(pool.select("asset_id", "balance_fen").rows())])
        out["pool at the end of each day"] = _digest(ends)
    code = report.plan_code
    out["load_pool_frame"] = _digest(tapes.load_pool_frame(ctx, code).sort("id").rows())
    sample = [*run_days[:: max(1, len(run_days) // 6)], run_days[-1]]
    out["load_pool_frame as of days"] = _digest(
        [str(d), _digest(tapes.load_pool_frame(ctx, code, as_of=d).sort("id").rows())] for d in sample)
    out["pool summary"] = _digest([str(pool_service.summary(ctx, code))])
    out["show_day"] = _digest(json.loads(json.dumps(daily_service.show_day(ctx, code, d), default=str))
                              for d in run_days[:: max(1, len(run_days) // 4)])
    out["servicer report"] = _digest(
        [servicer_report.servicer_report(ctx, code, run_days[0], run_days[-1]).as_dict()])
    ctx.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--days", type=int, default=12)
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    if args.postgresql:
        server = os.environ.get("ABSFLOW_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        with scratch_postgresql(server, prefix="absflow_fingerprint") as url:
            result = fingerprint(url, args.days, args.loans)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = fingerprint(f"sqlite:///{tmp}/fingerprint.db", args.days, args.loans)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
