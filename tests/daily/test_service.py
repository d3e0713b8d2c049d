"""The daily run service on SQLite and PostgreSQL: idempotent, in order, atomic, crash-safe, exclusive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from tests.tape.pool_rows import VALUES, hold_new_rows, remove_held

from absflow.domain.issues import Conflict, ValidationFailed
from absflow.revolving.synthetic import MarketConfig, SyntheticMarket
from absflow.services import daily as daily_service
from absflow.services.calendar import service_calendar
from absflow.services.context import Context
from absflow.services.simulate import simulate
from absflow.services.tapes import pool_rows_sql
from absflow.store.db import make_engine
from absflow.store.migrate import upgrade

DEAL_TEXT = (Path(__file__).resolve().parents[2] / "examples" / "deals" / "09_pyas_swhy_1.yaml").read_text("utf-8")
CAL = service_calendar()
FIRST = CAL.next_trading_day(date(2017, 8, 24))


def _plan(ctx: Context, days: int = 0) -> str:
    return simulate(ctx, DEAL_TEXT, days=days, seed=5, loans=300).plan_code


def _day_frames(day: date, pool_ids: list[str]) -> dict[str, pl.DataFrame]:
    """A small, fixed set of servicer files for ``day`` (independent of any database)."""
    market = SyntheticMarket(MarketConfig(clients=400, candidates_per_day=80, mean_loan_yuan=1_000_000), seed=77)
    market.next_contract = 1 + (day - FIRST).days * 1000
    candidates = market.loans(80, day)
    collections = pl.DataFrame({
        "contract_id": pool_ids[:5], "principal_fen": [10_000_00] * 5, "interest_fen": [1_234] * 5,
        "fees_fen": [0] * 5,
    })
    return {"candidates": candidates, "collections": collections}


def _pool_ids(ctx: Context, plan_code: str) -> list[str]:
    with ctx.engine.connect() as conn:
        return [r[0] for r in conn.execute(text(
            "SELECT s.asset_id FROM pool_asset_states s JOIN plans p ON p.id = s.plan_id WHERE p.code = :c "
            "ORDER BY s.asset_id"), {"c": plan_code})]


def _state(engine, plan_code: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Everything a day writes, without surrogate ids or wall-clock times."""
    with engine.connect() as conn:
        plan_id = conn.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": plan_code}).scalar_one()
        q = {"p": plan_id}
        return {
            "pool": sorted(tuple(str(x) for x in r) for r in conn.execute(text(
                "SELECT asset_id, obligor_id, balance_fen, rate, start_date, maturity_date, status, acquired_on "
                "FROM pool_assets WHERE plan_id = :p"), q)),
            "states": sorted(tuple(str(x) for x in r) for r in conn.execute(text(
                f"SELECT asset_type, asset_id, {VALUES} FROM pool_asset_states WHERE plan_id = :p"), q)),
            "removals": sorted(tuple(str(x) for x in r) for r in conn.execute(text(
                f"SELECT asset_type, asset_id, removed_on, removal_reason, {VALUES} FROM pool_asset_removals "
                "WHERE plan_id = :p"), q)),
            "days": [tuple(str(x) for x in r) for r in conn.execute(text(
                "SELECT business_date, status, purchase_state, pool_balance_fen, cash_fen, delivery_sha256, "
                "result_json FROM daily_days WHERE plan_id = :p ORDER BY business_date"), q)],
            "postings": sorted(tuple(str(x) for x in r) for r in conn.execute(text(
                "SELECT business_date, account, SUM(amount_fen) FROM daily_postings WHERE plan_id = :p "
                "GROUP BY business_date, account"), q)),
            "repurchases": sorted(tuple(str(x) for x in r) for r in conn.execute(text(
                "SELECT asset_id, reason, instructed_on, due_on, principal_fen, interest_fen, received_fen "
                "FROM daily_repurchases WHERE plan_id = :p"), q)),
            "log": [r[0] for r in conn.execute(text(
                "SELECT entry_type FROM log_entries WHERE plan_code = :c ORDER BY idx"), {"c": plan_code})],
            "state": conn.execute(text("SELECT state_json FROM daily_plan_states WHERE plan_id = :p"), q)
            .scalar_one_or_none(),
        }


def test_run_is_idempotent_and_days_run_in_order(ctx: Context) -> None:
    code = _plan(ctx)
    days = CAL.trading_days(FIRST, date(2017, 9, 30))
    daily_service.store_inputs(ctx, code, days[0], _day_frames(days[0], _pool_ids(ctx, code)))
    first = daily_service.run_day(ctx, code, days[0], checkpoint=False)
    assert not first.already_done and first.purchase_state in ("purchased", "no_cash")
    before = _state(ctx.engine, code)
    again = daily_service.run_day(ctx, code, days[0], checkpoint=False)
    assert again.already_done and again.summary == first.summary
    assert _state(ctx.engine, code) == before
    with pytest.raises(Conflict, match=r"not run yet.*2017-08-28"):
        daily_service.run_day(ctx, code, days[2], checkpoint=False, allow_empty=True)
    with pytest.raises(Conflict, match="no daily files"):
        daily_service.run_day(ctx, code, days[1], checkpoint=False)
    with pytest.raises(ValidationFailed):
        daily_service.run_day(ctx, code, date(2017, 8, 26), checkpoint=False)  # a Saturday
    with pytest.raises(Conflict, match="already run"):
        daily_service.store_inputs(ctx, code, days[0], _day_frames(days[0], _pool_ids(ctx, code)))
    runs = daily_service.run_through(ctx, code, days[3], allow_empty=True, checkpoint=False)
    assert [r.business_date for r in runs] == days[1:4]
    assert _state(ctx.engine, code)["log"].count("daily.run") == 4


def test_shown_day_reverifies_delivery_list(ctx: Context) -> None:
    code = _plan(ctx, days=3)
    data = daily_service.show_day(ctx, code, CAL.trading_days(FIRST, date(2017, 9, 30))[2])
    assert data["verification"]["ok"], data["verification"]
    assert data["verification"]["delivery_digest_matches"]
    total = sum(int(line["price"].replace(".", "")) for line in data["delivery_list"]["lines"])
    assert f"{total / 100:.2f}" == data["delivery_list"]["total_price"] == data["summary"]["purchased"]["price"]


FUZZ_ROWS = [
    "contract_id,principal,interest,fees",
    "{id},10000.00,12.34,0",
]
MUTATIONS = [
    lambda line: line.replace("10000.00", "-1"),
    lambda line: line.replace("12.34", "abc"),
    lambda line: line.replace("{id}", "NOPE-1"),
    lambda line: line + ",extra",
    lambda line: line.replace("10000.00", "9999999999999"),
    lambda line: line.replace("12.34", "1.2.3"),
]


@pytest.mark.parametrize("seed", range(3))
def test_fuzzed_daily_files_are_rejected_whole(ctx: Context, tmp_path: Path, seed: int) -> None:
    import random

    code = _plan(ctx)
    ids = _pool_ids(ctx, code)
    rng = random.Random(seed)
    lines = [FUZZ_ROWS[0]]
    for i in range(20):
        line = FUZZ_ROWS[1]
        if i in rng.sample(range(20), 3):
            line = rng.choice(MUTATIONS)(line)
        lines.append(line.format(id=ids[i]))
    if lines == [FUZZ_ROWS[0]] + [FUZZ_ROWS[1].format(id=ids[i]) for i in range(20)]:
        lines[5] = lines[5].replace("10000.00", "-1")
    (tmp_path / "collections_day.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    good = _day_frames(FIRST, ids)["candidates"]
    good.select(
        "contract_id", "client_id", (pl.col("principal_outstanding_fen") / 100).alias("principal_outstanding"),
        "financing_rate", "start_date", "due_date", "status",
        (pl.col("principal_outstanding_fen") / 50).alias("securities_market_value"),
    ).write_csv(tmp_path / "candidates_day.csv")
    before = _state(ctx.engine, code)
    with pytest.raises(ValidationFailed) as failed:
        daily_service.load_inputs(ctx, code, FIRST, [tmp_path / "collections_day.csv", tmp_path / "candidates_day.csv"])
    assert failed.value.issues and all(i.location.row or i.location.field_path for i in failed.value.issues)
    assert _state(ctx.engine, code) == before
    with ctx.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM daily_inputs")).scalar_one() == 0


def test_concurrent_runs_of_one_day_one_wins(ctx: Context) -> None:
    code = _plan(ctx)
    daily_service.store_inputs(ctx, code, FIRST, _day_frames(FIRST, _pool_ids(ctx, code)))
    holding = threading.Event()
    outcomes: list[object] = []

    def hold(_session: object) -> None:
        if threading.current_thread().name == "first":
            holding.set()
            time.sleep(3)

    def worker() -> None:
        try:
            outcomes.append(daily_service.run_day(ctx, code, FIRST, checkpoint=False))
        except Conflict as error:
            outcomes.append(error)

    daily_service._before_commit = hold
    try:
        first = threading.Thread(target=worker, name="first")
        first.start()
        assert holding.wait(60)
        second = threading.Thread(target=worker, name="second")
        second.start()
        second.join(60)
        first.join(60)
    finally:
        daily_service._before_commit = None
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    runs = [o for o in outcomes if not isinstance(o, Conflict)]
    assert len(conflicts) == 1 and len(runs) == 1, outcomes
    assert "in progress" in str(conflicts[0]) or "holds the database" in str(conflicts[0])
    assert _state(ctx.engine, code)["log"].count("daily.run") == 1


KILLER = """
import os, signal, sys
from datetime import date
from absflow.services import daily
from absflow.services.context import open_context
daily._before_commit = lambda session: os.kill(os.getpid(), signal.SIGKILL)
ctx = open_context(sys.argv[1])
daily.run_day(ctx, sys.argv[2], date.fromisoformat(sys.argv[3]), checkpoint=False)
print("not killed")
"""


def test_kill_9_mid_run_then_rerun_equals_uninterrupted(ctx: Context, tmp_path: Path) -> None:
    """The killed run's database (ctx: SQLite, then PostgreSQL) ends equal to an uninterrupted SQLite run."""
    reference = Context(engine=make_engine(f"sqlite:///{tmp_path / 'reference.db'}"), clock=ctx.clock)
    upgrade(reference.engine)
    days = CAL.trading_days(FIRST, date(2017, 9, 30))[:3]
    codes = []
    for context in (reference, ctx):
        code = _plan(context, days=0)
        codes.append(code)
        for day in days[:2]:
            daily_service.store_inputs(context, code, day, _day_frames(day, _pool_ids(context, code)))
            daily_service.run_day(context, code, day, checkpoint=False)
        daily_service.store_inputs(context, code, days[2], _day_frames(days[2], _pool_ids(context, code)))
    daily_service.run_day(reference, codes[0], days[2], checkpoint=False)
    before = _state(ctx.engine, codes[1])
    url = ctx.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", KILLER, url, codes[1], days[2].isoformat()], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr + killed.stdout
    assert _state(ctx.engine, codes[1]) == before, "a killed run left something behind"
    daily_service.run_day(ctx, codes[1], days[2], checkpoint=False)
    got, want = _state(ctx.engine, codes[1]), _state(reference.engine, codes[0])
    assert got["days"] == want["days"]
    assert got["pool"] == want["pool"]
    assert got["postings"] == want["postings"]
    assert got["repurchases"] == want["repurchases"]
    assert got["log"] == want["log"]
    assert json.loads(got["state"]) == json.loads(want["state"])  # type: ignore[arg-type]
    reference.engine.dispose()


@pytest.mark.parametrize("held", ["now", "before"])
def test_an_asset_held_by_another_plan_is_never_bought(ctx: Context, held: str) -> None:
    first_plan = _plan(ctx)
    other = simulate(ctx, DEAL_TEXT, days=0, seed=6, loans=300).plan_code
    taken = _pool_ids(ctx, first_plan)[:20]
    if held == "before":  # they left the first plan's pool: still never bought by another
        with ctx.engine.begin() as conn:
            for asset_id in taken:
                remove_held(conn, "asset_id = :a", {"a": asset_id}, date(2017, 8, 1))
    frames = _day_frames(FIRST, _pool_ids(ctx, other))
    with ctx.engine.connect() as conn:  # repay 150 contracts in full: enough cash to buy after the reserve
        repaid = conn.execute(text(
            "SELECT asset_id, balance_fen FROM pool_assets a JOIN plans p ON p.id = a.plan_id WHERE p.code = :c "
            "ORDER BY asset_id LIMIT 150"), {"c": other}).all()
    frames["collections"] = pl.DataFrame({
        "contract_id": [r[0] for r in repaid], "principal_fen": [int(r[1]) for r in repaid],
        "interest_fen": [0] * len(repaid), "fees_fen": [0] * len(repaid)})
    stolen = frames["candidates"].head(20).with_columns(pl.Series("contract_id", taken))
    frames["candidates"] = pl.concat([stolen, frames["candidates"].slice(20)])
    daily_service.store_inputs(ctx, other, FIRST, frames)
    run = daily_service.run_day(ctx, other, FIRST, checkpoint=False)
    assert run.purchase_state == "purchased", run.summary
    assert run.summary["rejections"]["R00_already_owned"] == 20
    with ctx.engine.connect() as conn:
        holders = conn.execute(text(
            "SELECT asset_id, COUNT(DISTINCT plan_id) FROM pool_assets GROUP BY asset_id HAVING COUNT(*) > 1"
        )).all()
    assert holders == []


def test_cached_pool_is_never_used_stale(ctx: Context, tmp_path: Path) -> None:
    """A process's day cache holds the pool after its own committed run, keyed by the plan's
    pool version in the database: a run that does not commit, or a day run by another process
    (another cache), makes it reload; the end state equals runs without any cache."""
    reference = Context(engine=make_engine(f"sqlite:///{tmp_path / 'reference.db'}"), clock=ctx.clock)
    upgrade(reference.engine)
    days = CAL.trading_days(FIRST, date(2017, 9, 30))[:4]
    code, ref = _plan(ctx), _plan(reference)
    mine: dict[str, object] = {}
    for context, plan in ((ctx, code), (reference, ref)):
        for day in days:
            daily_service.store_inputs(context, plan, day, _day_frames(day, _pool_ids(context, plan)))
    daily_service.run_day(ctx, code, days[0], checkpoint=False, cache=mine)
    held = mine["pool"]

    def fail(session: object) -> None:
        raise RuntimeError("crash before commit")

    daily_service._before_commit = fail
    try:
        with pytest.raises(RuntimeError):
            daily_service.run_day(ctx, code, days[1], checkpoint=False, cache=mine)
    finally:
        daily_service._before_commit = None
    assert mine["pool"] is held, "a run that did not commit changed the cache"
    daily_service.run_day(ctx, code, days[1], checkpoint=False, cache={})  # "another process"
    with ctx.engine.connect() as conn:
        plan_id = conn.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()
    from absflow.services.daily import cached_pool, pool_version
    from absflow.store.daily import DailyPlanStateRow
    from absflow.store.db import transaction

    with transaction(ctx.engine) as session:
        version = pool_version(session, plan_id, session.get(DailyPlanStateRow, plan_id))
        assert version != held[0]  # type: ignore[index]
        fresh = cached_pool(session, plan_id, version, mine)
        assert mine["pool"][0] == version  # type: ignore[index]
    for day in days[2:]:
        daily_service.run_day(ctx, code, day, checkpoint=False, cache=mine)
    for day in days:
        daily_service.run_day(reference, ref, day, checkpoint=False)
    with transaction(ctx.engine) as session:
        version = pool_version(session, plan_id, session.get(DailyPlanStateRow, plan_id))
        assert mine["pool"][0] == version  # type: ignore[index]
        cached = mine["pool"][1].frame  # type: ignore[index]
        read = cached_pool(session, plan_id, version, None)
    assert cached.sort("asset_id").equals(read.sort("asset_id")), "the cached pool differs from the stored one"
    assert fresh.height > 0
    got, want = _state(ctx.engine, code), _state(reference.engine, ref)
    for key in ("days", "pool", "postings", "repurchases", "state"):
        assert got[key] == want[key], key
    reference.engine.dispose()


def test_pool_changes_are_written_as_updates_then_removals(ctx: Context) -> None:
    """A day's updates and removals: rows end as if the updates ran first, then the removals —
    updated only (its values in its state row), updated and removed, removed only (final values
    and removal in a removal row, no state row), untouched; the pool rows stay as imported. A
    removed asset that a previous day had changed takes its state row's values into its removal
    row."""
    from absflow.store.db import transaction

    code = _plan(ctx)
    ids = _pool_ids(ctx, code)[:7]
    columns = ("balance_fen", "accrued_interest_fen", "cutoff_date", "maturity_date", "extension_count", "status",
               "removed_on", "removal_reason")

    listed = ", ".join(repr(i) for i in ids)

    def rows() -> dict[str, tuple[str, ...]]:  # held at the end of the day before, with removal rows after it
        with ctx.engine.connect() as conn:
            plan = conn.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()
            return {r[0]: tuple(str(x) for x in r[1:]) for r in conn.execute(text(pool_rows_sql(
                ("asset_id", *columns), f"s.asset_id IN ({listed})", as_of=True)),
                {"plan_id": plan, "as_of": date(2017, 8, 31)})}

    def states() -> set[str]:
        with ctx.engine.connect() as conn:
            return {r[0] for r in conn.execute(text(
                f"SELECT asset_id FROM pool_asset_states WHERE asset_id IN ({listed})"))}

    def imported() -> dict[str, str]:
        with ctx.engine.connect() as conn:
            return {r[0]: str(r[1]) for r in conn.execute(text(
                f"SELECT asset_id, balance_fen FROM pool_assets WHERE asset_id IN ({listed})"))}

    as_imported = imported()

    # A previous day changed ids[4] (removed only today) and ids[5] (untouched today).
    earlier = pl.DataFrame({"asset_id": [ids[4], ids[5]], "balance_fen": [11, 12], "accrued_interest_fen": [0, 0],
                            "cutoff_date": [date(2017, 8, 31)] * 2, "maturity_date": [date(2018, 1, 1)] * 2,
                            "extension_count": [0, 0], "status": ["normal", "normal"]})
    with transaction(ctx.engine) as session:
        plan_id = session.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()
        daily_service._write_pool_changes(session, plan_id, earlier, [], date(2017, 8, 31), earlier.head(0))
    assert states() == set(ids)
    before = rows()
    assert before[ids[4]][0] == "11" and before[ids[5]][0] == "12"
    start_of_day = pl.DataFrame({"asset_id": ids}).join(pl.DataFrame(
        [(a, *(None if v == "None" else v for v in before[a][:6])) for a in ids], orient="row",
        schema=["asset_id", *columns[:6]]), on="asset_id").with_columns(
        pl.col("balance_fen", "accrued_interest_fen", "extension_count").cast(pl.Int64),
        pl.col("cutoff_date", "maturity_date").str.to_date())
    day = date(2017, 9, 1)
    updates = pl.DataFrame({
        "asset_id": ids[:4], "balance_fen": [0, 5, 0, 7], "accrued_interest_fen": [1, 2, 3, 4],
        "cutoff_date": [day] * 4, "maturity_date": [date(2018, 1, 2)] * 4, "extension_count": [0, 1, 2, 3],
        "status": ["normal", "normal", "defaulted", "normal"],
    })
    removals = [(ids[0], "repaid"), (ids[2], "repurchased:risk"), (ids[4], "repurchased:" + "x" * 40)]
    with transaction(ctx.engine) as session:
        plan_id = session.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()
        daily_service._write_pool_changes(session, plan_id, updates, removals, day, start_of_day)
    after = rows()
    assert states() == {ids[1], ids[3], ids[5], ids[6]}  # the updated assets that stay, and those untouched
    with ctx.engine.connect() as conn:  # a removal row is complete on its own (no state row to read)
        final = {r[0]: str(r[1]) for r in conn.execute(text(
            f"SELECT asset_id, balance_fen FROM pool_asset_removals WHERE asset_id IN ({listed})"))}
    assert final == {ids[0]: "0", ids[2]: "0", ids[4]: "11"}
    assert imported() == as_imported
    for i, asset in enumerate(ids):
        want = list(before[asset])
        if i < 4:
            want[:6] = [str(updates[c][i]) for c in columns[:6]]
        reason = dict(removals).get(asset)
        if reason is not None:
            want[6:] = [str(day), reason[:32]]
        assert after[asset] == tuple(want), asset


def test_kept_input_frames_are_used_only_for_the_same_bytes() -> None:
    """The run takes a frame that store_inputs kept only when the stored bytes are the kept bytes
    (same plan and day); otherwise it decodes what is stored."""
    from absflow.services.daily_inputs import frame_to_bytes

    old, new = pl.DataFrame({"x": [1]}), pl.DataFrame({"x": [2]})
    old_bytes, new_bytes = frame_to_bytes(old), frame_to_bytes(new)
    kept = (("P", FIRST), {"collections": (old_bytes, old)})
    replaced = daily_service._input_frames({"collections": new_bytes}, kept, ("P", FIRST))
    assert replaced["collections"].get_column("x").to_list() == [2]
    assert daily_service._input_frames({"collections": old_bytes}, kept, ("P", FIRST))["collections"] is old
    other_plan = daily_service._input_frames({"collections": old_bytes}, kept, ("Q", FIRST))["collections"]
    assert other_plan is not old and other_plan.equals(old)


def test_the_state_carries_only_defaulted_assets_still_in_the_pool(ctx: Context) -> None:
    """Assets counted in the cumulative default that left the pool are dropped from the carried
    state (none can return: no asset is bought twice); those still held stay in it."""
    import json

    # A crash-prone market: collateral falls below the debt for some clients, whose forced sales
    # leave shortfalls (defaults); the default market has none in 60 days.
    stressed = {"volatility_annual": 0.6, "jump_intensity_annual": 12, "jump_mean": -0.15}
    code = simulate(ctx, DEAL_TEXT, days=60, seed=5, loans=300, market=stressed).plan_code
    with ctx.engine.connect() as conn:
        plan_id = conn.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()
        state = json.loads(conn.execute(text("SELECT state_json FROM daily_plan_states WHERE plan_id = :p"),
                                        {"p": plan_id}).scalar_one())
        active = {r[0] for r in conn.execute(text(
            "SELECT asset_id FROM pool_asset_states WHERE plan_id = :p"), {"p": plan_id})}
    assert state["cumulative_default_fen"] > 0 and state["defaulted_assets"]
    assert set(state["defaulted_assets"]) <= active


def test_market_parameters_are_checked_each_at_its_path() -> None:
    from absflow.services.simulate import market_config

    assert market_config({"volatility_annual": "0.6", "securities": "40"}).securities == 40
    with pytest.raises(ValidationFailed) as info:
        market_config({"volatility": "0.6", "jump_mean": "steep"})
    assert [(i.code, i.location.field_path) for i in info.value.issues] == [
        ("unknown_field", "market.volatility"), ("not_a_number", "market.jump_mean")]


def _many_assets(conn: Any, count: int) -> None:
    """Active margin loans A1 … A<count> in plan 1's pool (the series made by the database)."""
    series = ("generate_series(1, :n) AS s(i)" if conn.dialect.name == "postgresql" else
              "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n) SELECT i FROM n) AS s")
    conn.execute(text(
        "INSERT INTO pool_assets (plan_id, asset_type, asset_id, obligor_id, balance_fen, start_date, status, "
        "cutoff_date, acquired_on) SELECT 1, 'margin_loan', 'A' || i, 'C', 100, :d, 'performing', :d, :d "
        f"FROM {series}"),
        {"n": count, "d": date(2024, 1, 2)})
    hold_new_rows(conn)


def test_owned_elsewhere_probes_each_candidate_whatever_the_statistics(ctx: Context) -> None:
    """PostgreSQL: with statistics taken before any row was removed, the planner used to join
    every removed row against the whole id list (a nested loop growing every day: 14 s on the
    9th day at 200,000 loans). The lookup now probes the state rows' key and the removal rows'
    asset index once per id."""
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL planner question")
    with ctx.engine.begin() as conn:
        _many_assets(conn, 20000)
        conn.execute(text("ANALYZE pool_asset_states"))  # every asset held in the statistics
        conn.execute(text("ANALYZE pool_asset_removals"))  # and none removed
        remove_held(conn, "asset_id LIKE 'A1%'", {}, date(2024, 2, 1))
        ids = [f"A{i}" for i in range(1, 20001, 2)] + [f"X{i}" for i in range(5000)]
        plan = "\n".join(r[0][:120] for r in conn.execute(  # the id list is cut from the shown plan
            text("EXPLAIN ANALYZE " + daily_service.OWNED_ELSEWHERE_POSTGRESQL), {"ids": ids}))
        found = set(conn.execute(text(daily_service.OWNED_ELSEWHERE_POSTGRESQL), {"ids": ids}).scalars())
    assert found == {f"A{i}" for i in range(1, 20001, 2)}
    assert "Join Filter" not in plan and plan.count("Function Scan on unnest") == 2, plan
    assert "pk_pool_asset_states" in plan and "ix_pool_asset_removals_asset" in plan, plan


def test_owned_elsewhere_on_sqlite_probes_both_indexes_once_per_id(ctx: Context) -> None:
    """SQLite: one pass over the candidate ids, each probing the state rows' key and the removal
    rows' asset index (no temporary index of the id list); held now, held before and never held
    are told apart."""
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite plan")
    with ctx.engine.begin() as conn:
        _many_assets(conn, 2000)
        remove_held(conn, "asset_id LIKE 'A1%'", {}, date(2024, 2, 1))
        conn.execute(text("UPDATE pool_asset_states SET asset_type = 'lease', asset_id = 'X1' "  # not a margin loan
                          "WHERE asset_id = 'A2000'"))
        plan = " | ".join(str(r[-1]) for r in conn.execute(
            text("EXPLAIN QUERY PLAN " + daily_service.OWNED_ELSEWHERE_SQLITE), {"ids": "[]"}))
    ids = [f"A{i}" for i in range(1, 2001, 2)] + [f"X{i}" for i in range(500)]  # X1: a lease held
    candidates = pl.DataFrame({"contract_id": ids})
    found = daily_service._owned_elsewhere_committed(ctx.engine, candidates)
    assert found == {f"A{i}" for i in range(1, 2001, 2)}
    assert "USING PRIMARY KEY" in plan and "ix_pool_asset_removals_asset" in plan, plan
    assert "TEMP B-TREE" not in plan and "LIST SUBQUERY" not in plan, plan


def test_the_simulated_life_runs_through_the_last_payment_date() -> None:
    """Deal 09's expected maturity, 2019-02-24, is a Sunday: its last payment is on Monday the
    25th, and the life includes it (the final distribution), starting the day after establishment."""
    from absflow.deal import parse_deal_text
    from absflow.services.calendar import service_calendar
    from absflow.services.simulate import life_days

    days = life_days(parse_deal_text(DEAL_TEXT), service_calendar())
    assert (days[0], days[-1], len(days)) == (date(2017, 8, 25), date(2019, 2, 25), 363)


def test_changed_values_live_in_the_state_table_until_the_asset_leaves(ctx: Context) -> None:
    """A collection's new balance is in the asset's pool_asset_states row (the pool_assets row
    keeps the imported balance) and every reader sees it; an asset repaid in full gets its final
    values in a pool_asset_removals row and has no state row (its pool_assets row as imported)."""
    from absflow.services.tapes import load_pool_frame

    code = _plan(ctx)
    ids = _pool_ids(ctx, code)
    with ctx.engine.connect() as conn:
        imported = dict(conn.execute(text("SELECT asset_id, balance_fen FROM pool_assets WHERE asset_id IN "
                                          f"({', '.join(repr(i) for i in ids[:6])})")).all())
    frames = _day_frames(FIRST, ids)
    frames["collections"] = pl.concat([frames["collections"], pl.DataFrame({  # ids[5] repaid in full
        "contract_id": [ids[5]], "principal_fen": [int(imported[ids[5]])], "interest_fen": [0], "fees_fen": [0]})])
    daily_service.store_inputs(ctx, code, FIRST, frames)
    daily_service.run_day(ctx, code, FIRST, checkpoint=False)
    with ctx.engine.connect() as conn:
        raw = dict(conn.execute(text("SELECT asset_id, balance_fen FROM pool_assets WHERE asset_id IN "
                                     f"({', '.join(repr(i) for i in ids[:6])})")).all())
        states = dict(conn.execute(text("SELECT asset_id, balance_fen FROM pool_asset_states")).all())
        removed = conn.execute(text("SELECT removed_on, removal_reason, balance_fen FROM pool_asset_removals "
                                    "WHERE asset_id = :a"), {"a": ids[5]}).one()
    assert raw == imported  # as imported
    assert {a: states[a] for a in ids[:5]} == {a: imported[a] - 10_000_00 for a in ids[:5]}
    assert ids[5] not in states and removed[1:] == ("repaid", 0) and str(removed[0]) == str(FIRST)
    current = dict(load_pool_frame(ctx, code).select("asset_id", "balance_fen").iter_rows())
    assert {a: current[a] for a in ids[:5]} == {a: imported[a] - 10_000_00 for a in ids[:5]}
    assert ids[5] not in current


def test_state_rows_are_analyzed_with_the_pool(ctx: Context) -> None:
    """PostgreSQL: a day analyzes pool_asset_states when it has no statistics or stale ones, as
    pool_assets: without them the state rows of the assets leaving the pool were deleted by a
    nested loop over the whole table (15 s a day by the 40th day at 200,000 loans)."""
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL statistics")
    from absflow.store.db import transaction

    def analyzed_at() -> object:
        with ctx.engine.connect() as conn:
            return conn.execute(text(
                "SELECT COALESCE(last_analyze, last_autoanalyze) FROM pg_stat_user_tables "
                "WHERE relname = 'pool_asset_states' AND schemaname = current_schema()")).scalar_one()

    with ctx.engine.begin() as conn:  # statistics missing, as on a new database
        conn.execute(text("SELECT pg_stat_reset_single_table_counters(CAST('pool_asset_states' AS regclass))"))
    assert analyzed_at() is None
    with transaction(ctx.engine) as session:
        daily_service._fresh_statistics(session)
    deadline = time.monotonic() + 10  # the counters reach the statistics views when the backend is idle
    while analyzed_at() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert analyzed_at() is not None


def test_downgrading_the_state_table_folds_it_into_the_pool_rows(engine) -> None:  # type: ignore[no-untyped-def]
    """Migration tape_0005 down: every active asset's state row is written into its pool_assets row
    (a removed row is complete already), then the table goes."""
    from alembic import command

    from absflow.store.migrate import alembic_config

    command.downgrade(alembic_config(engine), "tape_0005")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO pool_assets (plan_id, asset_type, asset_id, obligor_id, balance_fen, start_date, status, "
            "cutoff_date, acquired_on, removed_on) VALUES (1, 'margin_loan', 'A1', 'C', 100, '2024-01-02', "
            "'performing', '2024-01-02', '2024-01-02', NULL), (1, 'margin_loan', 'A2', 'C', 200, '2024-01-02', "
            "'performing', '2024-01-02', '2024-01-02', NULL), (1, 'margin_loan', 'A3', 'C', 300, '2024-01-02', "
            "'performing', '2024-01-02', '2024-01-02', '2024-02-01')"))
        conn.execute(text(
            "INSERT INTO pool_asset_states (asset_type, asset_id, balance_fen, accrued_interest_fen, cutoff_date, "
            "maturity_date, extension_count, status) VALUES ('margin_loan', 'A1', 60, 5, '2024-01-20', "
            "'2024-06-30', 1, 'liquidating')"))
    command.downgrade(alembic_config(engine), "tape_0004")
    try:
        with engine.connect() as conn:
            rows = {r[0]: tuple(str(x) for x in r[1:]) for r in conn.execute(text(
                "SELECT asset_id, balance_fen, accrued_interest_fen, cutoff_date, maturity_date, extension_count, "
                "status FROM pool_assets ORDER BY asset_id"))}
            tables = set(sa_inspect(conn).get_table_names())
        assert rows["A1"] == ("60", "5", "2024-01-20", "2024-06-30", "1", "liquidating")
        assert rows["A2"][:1] == ("200",) and rows["A3"][:1] == ("300",)
        assert "pool_asset_states" not in tables
    finally:
        command.upgrade(alembic_config(engine), "heads")


def test_membership_moves_beside_the_pool_rows_and_back(engine) -> None:  # type: ignore[no-untyped-def]
    """Migration tape_0006 up: every active row gets a state row (its changed values, else its
    own), every removed row a removal row, and pool_assets loses its removal columns; down: both
    written back into pool_assets (no state rows left), the removal table gone."""
    from alembic import command

    from absflow.store.migrate import alembic_config

    values = "balance_fen, accrued_interest_fen, CAST(cutoff_date AS TEXT), status"
    command.downgrade(alembic_config(engine), "tape_0005")
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO pool_assets (id, plan_id, asset_type, asset_id, obligor_id, balance_fen, start_date, "
                "status, cutoff_date, acquired_on, removed_on, removal_reason) VALUES "
                "(1, 1, 'margin_loan', 'A1', 'C', 100, '2024-01-02', 'performing', '2024-01-02', '2024-01-02', "
                "NULL, NULL), (2, 1, 'margin_loan', 'A2', 'C', 200, '2024-01-02', 'performing', '2024-01-02', "
                "'2024-01-02', NULL, NULL), (3, 2, 'margin_loan', 'A3', 'C', 0, '2024-01-02', 'repaid', "
                "'2024-01-31', '2024-01-02', '2024-02-01', 'repaid')"))
            conn.execute(text(
                "INSERT INTO pool_asset_states (asset_type, asset_id, balance_fen, accrued_interest_fen, cutoff_date, "
                "maturity_date, extension_count, status) VALUES ('margin_loan', 'A1', 60, 5, '2024-01-20', "
                "'2024-06-30', 1, 'liquidating')"))
        command.upgrade(alembic_config(engine), "heads")
        with engine.connect() as conn:
            states = {r[0]: tuple(str(x) for x in r[1:]) for r in conn.execute(text(
                f"SELECT asset_id, pool_asset_id, plan_id, {values} FROM pool_asset_states"))}
            removals = [tuple(str(x) for x in r) for r in conn.execute(text(
                f"SELECT asset_id, pool_asset_id, plan_id, CAST(removed_on AS TEXT), removal_reason, {values} "
                "FROM pool_asset_removals"))]
            columns = {c["name"] for c in sa_inspect(conn).get_columns("pool_assets")}
        assert states == {"A1": ("1", "1", "60", "5", "2024-01-20", "liquidating"),
                          "A2": ("2", "1", "200", "None", "2024-01-02", "performing")}
        assert removals == [("A3", "3", "2", "2024-02-01", "repaid", "0", "None", "2024-01-31", "repaid")]
        assert "removed_on" not in columns and "removal_reason" not in columns
        command.downgrade(alembic_config(engine), "tape_0005")
        with engine.connect() as conn:
            rows = {r[0]: tuple(str(x) for x in r[1:]) for r in conn.execute(text(
                f"SELECT asset_id, {values}, CAST(removed_on AS TEXT), removal_reason FROM pool_assets"))}
            left = conn.execute(text("SELECT COUNT(*) FROM pool_asset_states")).scalar_one()
            tables = set(sa_inspect(conn).get_table_names())
        assert rows == {"A1": ("60", "5", "2024-01-20", "liquidating", "None", "None"),
                        "A2": ("200", "None", "2024-01-02", "performing", "None", "None"),
                        "A3": ("0", "None", "2024-01-31", "repaid", "2024-02-01", "repaid")}
        assert left == 0 and "pool_asset_removals" not in tables
    finally:
        command.upgrade(alembic_config(engine), "heads")


def test_a_failed_write_on_the_helper_thread_is_raised_and_nothing_is_kept(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settlement's writes run on a helper thread: its error is the one the run raises (not a
    later write's complaint about the aborted transaction), and the day leaves nothing."""
    code = _plan(ctx)
    daily_service.store_inputs(ctx, code, FIRST, _day_frames(FIRST, _pool_ids(ctx, code)))
    before = _state(ctx.engine, code)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full while writing the pool rows")

    monkeypatch.setattr(daily_service, "_write_pool_change_frames", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        daily_service.run_day(ctx, code, FIRST, checkpoint=False)
    assert _state(ctx.engine, code) == before
    monkeypatch.undo()
    run = daily_service.run_day(ctx, code, FIRST, checkpoint=False)  # the same day runs once fixed
    assert not run.already_done and _state(ctx.engine, code)["days"][0][0] == str(FIRST)


@pytest.mark.parametrize("statement_per_row_max", [1_000, 0], ids=["per-row", "copied"])
def test_carried_open_repurchases_equal_the_stored_ones(ctx: Context, monkeypatch: pytest.MonkeyPatch,
                                                        statement_per_row_max: int) -> None:
    """The open repurchase instructions a run leaves in the days' cache (the start's, receipts
    applied, new ones added) are those the database holds, keyed by the same version, every day
    (PostgreSQL: the receipts written one statement per row, or — as at the end of term — COPYed
    and applied by one)."""
    import absflow.services.simulate as simulate_module
    from absflow.services.daily import open_repurchases, pool_version
    from absflow.services.plans import load_plan_row
    from absflow.store.daily import DailyPlanStateRow
    from absflow.store.db import transaction

    run, counts = simulate_module.run_day, []

    def checked(context: Context, plan_code: str, day: date, **options: Any) -> Any:
        done = run(context, plan_code, day, **options)
        with transaction(context.engine) as session:
            plan = load_plan_row(session, plan_code)
            version = pool_version(session, plan.id, session.get(DailyPlanStateRow, plan.id))
            stored = sorted(open_repurchases(session, plan.id).iter_rows())
        key, carried = options["cache"]["open"]
        assert key == version
        assert sorted((i.asset_id, i.reason, i.instructed_on, i.due_on, i.principal_fen, i.interest_fen,
                       i.received_fen, i.settled_on) for i in carried) == stored, day
        counts.append(len(stored))
        return done

    monkeypatch.setattr(simulate_module, "run_day", checked)
    monkeypatch.setattr(daily_service, "EXECUTE_MANY_MAX_ROWS", statement_per_row_max)
    # A stressed market: collateral falls below the repurchase line and instructions open early.
    simulate(ctx, DEAL_TEXT, days=40, seed=5, loans=300, market={"volatility_annual": 1.2,
                                                                  "jump_intensity_annual": 12})
    assert max(counts) > 0, "no instruction was open on any day: nothing was checked"
    assert any(later < earlier for earlier, later in zip(counts, counts[1:], strict=False)), "none was settled"


def test_events_are_stored_as_given_in_one_statement(ctx: Context) -> None:
    """A day's events go in many rows per statement on SQLite (COPY on PostgreSQL): order,
    exact integers, text (quotes, backslashes, Chinese) and the detail rule (empty → NULL, at most
    120 characters) are what the per-row insert stored."""
    from absflow.revolving.daily import AssetEvent
    from absflow.services.daily import EVENT_COLUMNS, _insert_events
    from absflow.store.db import transaction

    assert AssetEvent._fields == EVENT_COLUMNS
    code = _plan(ctx)
    events = [AssetEvent("Z2", "collection", 10**15 + 7, 3, 1, None),
              AssetEvent('A"1\\', "extension", 0, 0, 0, "due 2018-01-02"),
              AssetEvent("中文-3", "repaid", -5, 0, 0, ""),
              AssetEvent("B4", "liquidation", 1, 2, 0, "长" * 130)]
    with transaction(ctx.engine) as session:
        plan_id = session.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()
        _insert_events(session, plan_id, date(2030, 1, 2), events)
    with ctx.engine.connect() as conn:
        stored = conn.execute(text(
            "SELECT asset_id, kind, principal_fen, interest_fen, fee_fen, detail FROM daily_asset_events "
            "WHERE plan_id = :p AND business_date = :d ORDER BY id"), {"p": plan_id, "d": date(2030, 1, 2)}).all()
    assert [tuple(r) for r in stored] == [
        ("Z2", "collection", 10**15 + 7, 3, 1, None), ('A"1\\', "extension", 0, 0, 0, "due 2018-01-02"),
        ("中文-3", "repaid", -5, 0, 0, None), ("B4", "liquidation", 1, 2, 0, "长" * 120)]


@pytest.mark.parametrize("probes_max_rows", [5_000, 0], ids=["probed", "joined"])
def test_pool_changes_are_written_exactly_in_one_statement_each(ctx: Context, monkeypatch: pytest.MonkeyPatch,
                                                                probes_max_rows: int) -> None:
    """A day's state updates, removal rows and state deletions (many rows per statement on SQLite,
    COPY and joins on PostgreSQL — the leaving assets' state rows found by probes or, when many,
    by a join) store exact integers, nulls and text (quotes, backslashes, Chinese), change and
    delete the right state rows, and remove only the plan's holding of an asset — not its earlier
    holding, not another plan's; no pool row changes; the day's removal rows in asset-id order."""
    from absflow.services.daily import UPDATED_COLUMNS, _write_pool_changes
    from absflow.store.db import transaction

    monkeypatch.setattr(daily_service, "REMOVAL_PROBES_MAX_ROWS", probes_max_rows)

    day = date(2030, 1, 2)
    held = [(901, "K1", 100, "2029-01-02", "performing"), (901, "K2", 200, "2029-01-02", "performing"),
            (901, "G1", 300, "2029-01-02", "performing"), (901, "G2", 400, "2029-01-02", "performing"),
            (902, "H1", 500, "2029-01-02", "performing")]  # another plan's
    before = [(901, "G1", 7, "2028-01-02", "repaid"), (902, "G2", 8, "2028-01-02", "repaid")]  # earlier holdings
    pool_sql = ("INSERT INTO pool_assets (plan_id, asset_type, asset_id, obligor_id, balance_fen, start_date, status, "
                "cutoff_date, acquired_on) VALUES ")
    with transaction(ctx.engine) as session:
        session.execute(text(pool_sql + ", ".join(
            f"({plan}, 'margin_loan', '{asset}', 'C', {fen}, '{on}', '{status}', '{on}', '{on}')"
            for plan, asset, fen, on, status in before)))
        session.execute(text(
            f"INSERT INTO pool_asset_removals (pool_asset_id, plan_id, asset_type, asset_id, removed_on, "
            f"removal_reason, {VALUES}) SELECT id, plan_id, asset_type, asset_id, '2028-06-01', 'old', {VALUES} "
            "FROM pool_assets"))
        session.execute(text(pool_sql + ", ".join(
            f"({plan}, 'margin_loan', '{asset}', 'C', {fen}, '{on}', '{status}', '{on}', '{on}')"
            for plan, asset, fen, on, status in held)))
        hold_new_rows(session)
        session.execute(text(
            "UPDATE pool_asset_states SET balance_fen = 150, accrued_interest_fen = 1, cutoff_date = '2029-12-31', "
            "extension_count = 0 WHERE asset_id = 'K2'"))
        pool_rows = session.execute(text("SELECT * FROM pool_assets ORDER BY id")).all()
    updates = pl.DataFrame({
        "asset_id": ["K1", "G1", "H1"], "balance_fen": [10**15 + 7, 0, 1], "accrued_interest_fen": [None, 5, 1],
        "cutoff_date": [day] * 3, "maturity_date": [None, date(2030, 3, 1), None], "extension_count": [2, None, 1],
        "status": ['o"v\\er', "repaid", "x"]},
        schema_overrides={"accrued_interest_fen": pl.Int64, "extension_count": pl.Int64})
    pool_before = pl.DataFrame({
        "asset_id": ["G2"], "balance_fen": [400], "accrued_interest_fen": [9], "cutoff_date": [date(2029, 1, 2)],
        "maturity_date": [date(2030, 6, 30)], "extension_count": [1], "status": ["liquidating"]})
    assert pool_before.columns == ["asset_id", *UPDATED_COLUMNS]
    with transaction(ctx.engine) as session:
        _write_pool_changes(session, 901, updates, [("G1", "repaid"), ("G2", '回购 "x" \\ ' + "长" * 40),
                                                    ("H1", "repaid")], day, pool_before)  # H1: another plan's
    with ctx.engine.connect() as conn:
        states = {r[0]: tuple(r[1:]) for r in conn.execute(text(
            "SELECT asset_id, plan_id, balance_fen, accrued_interest_fen, CAST(cutoff_date AS TEXT), "
            "CAST(maturity_date AS TEXT), extension_count, status FROM pool_asset_states"))}
        removals = sorted(tuple(r) for r in conn.execute(text(
            "SELECT r.plan_id, r.asset_id, p.balance_fen, r.balance_fen, r.accrued_interest_fen, "
            "CAST(r.cutoff_date AS TEXT), CAST(r.maturity_date AS TEXT), r.extension_count, r.status, "
            "CAST(r.removed_on AS TEXT), r.removal_reason FROM pool_asset_removals r "
            "JOIN pool_assets p ON p.id = r.pool_asset_id")))
        assert conn.execute(text("SELECT * FROM pool_assets ORDER BY id")).all() == pool_rows
        assert conn.execute(text("SELECT asset_id FROM pool_asset_removals WHERE removed_on = :day ORDER BY id"),
                            {"day": day}).scalars().all() == ["G1", "G2"]
    assert states == {"K1": (901, 10**15 + 7, None, "2030-01-02", None, 2, 'o"v\\er'),
                      "K2": (901, 150, 1, "2029-12-31", None, 0, "performing"),
                      "H1": (902, 500, None, "2029-01-02", None, None, "performing")}  # another plan's: untouched
    assert removals == sorted([
        (901, "G1", 300, 0, 5, "2030-01-02", "2030-03-01", None, "repaid", "2030-01-02", "repaid"),
        (901, "G2", 400, 400, 9, "2029-01-02", "2030-06-30", 1, "liquidating", "2030-01-02",
         ('回购 "x" \\ ' + "长" * 40)[:32]),
        (901, "G1", 7, 7, None, "2028-01-02", None, None, "repaid", "2028-06-01", "old"),
        (902, "G2", 8, 8, None, "2028-01-02", None, None, "repaid", "2028-06-01", "old")])


def test_the_writing_thread_leaves_the_pools_row_index_alone(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """The day pool's row index is handed over to the next day's pool by ``finish_day`` on the
    computing thread; a lookup in it from the writing thread at that moment could find it half
    moved (the next day's rows then wrong). Only the computing thread uses it."""
    from absflow.revolving.daypool import RowIndex

    users: set[str] = set()
    looked_up = RowIndex._slot_of

    def recorded(self: RowIndex) -> dict[str, int]:
        users.add(threading.current_thread().name)
        return looked_up(self)

    monkeypatch.setattr(RowIndex, "_slot_of", recorded)
    report = simulate(ctx, DEAL_TEXT, days=3, seed=5, loans=300)
    assert report.days_run == 3 and users == {threading.current_thread().name}


def test_a_day_runs_with_a_short_switch_interval_and_restores_it(ctx: Context) -> None:
    """While a day runs the interpreter switches threads every DAY_SWITCH_INTERVAL_SECONDS (the
    writing thread binds its rows under the interpreter lock); afterwards the process's own value
    is back, also when blocks nest and overlap on several threads."""
    code = _plan(ctx, days=0)
    day = FIRST
    daily_service.store_inputs(ctx, code, day, _day_frames(day, _pool_ids(ctx, code)))
    seen: list[float] = []
    daily_service._before_commit = lambda _session: seen.append(sys.getswitchinterval())
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.004)
    try:
        daily_service.run_day(ctx, code, day, checkpoint=False)
        assert seen == [daily_service.DAY_SWITCH_INTERVAL_SECONDS] and sys.getswitchinterval() == 0.004
        inside = threading.Event()
        leave = threading.Event()

        def hold() -> None:
            with daily_service.short_switch_interval():
                inside.set()
                leave.wait(10)

        other = threading.Thread(target=hold)
        other.start()
        assert inside.wait(10)
        with daily_service.short_switch_interval():  # overlapping: the first to leave does not restore
            leave.set()
            other.join(10)
            assert sys.getswitchinterval() == daily_service.DAY_SWITCH_INTERVAL_SECONDS
        assert sys.getswitchinterval() == 0.004
    finally:
        daily_service._before_commit = None
        sys.setswitchinterval(before)


def test_two_simulations_in_one_database_hold_different_assets(ctx: Context) -> None:
    """`absflow simulate` (and `make demo`, which runs one) again on the same database: a new plan
    whose synthetic contracts are its own — an asset is in one plan's pool at a time, so the same
    contract numbers were refused as already held."""
    first = simulate(ctx, DEAL_TEXT, days=3, seed=5, loans=300)
    second = simulate(ctx, DEAL_TEXT, days=3, seed=5, loans=300)
    assert first.plan_code != second.plan_code and second.days_run == first.days_run == 3
    with ctx.engine.connect() as conn:
        held = conn.execute(text(
            "SELECT p.code, COUNT(*) FROM pool_asset_states s JOIN plans p ON p.id = s.plan_id GROUP BY p.code"
        )).all()
        shared = conn.execute(text(
            "SELECT COUNT(*) FROM pool_assets a JOIN pool_assets b ON a.asset_id = b.asset_id AND a.plan_id < b.plan_id"
        )).scalar_one()
    assert {code for code, count in held if count > 0} == {first.plan_code, second.plan_code}
    assert shared == 0
