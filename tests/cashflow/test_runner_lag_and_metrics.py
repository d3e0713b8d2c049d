"""The revolving pool honours the recovery lag; trigger metrics come from the pool model; breakeven's no-loss answer."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from tests.cashflow.static_deal import REP_LINE_POOL, static_deal_text
from typer.testing import CliRunner

from absflow.calendar import default_calendar
from absflow.cashflow.runner import Scenario, _AggregatePool, run_deal
from absflow.cli.main import app
from absflow.deal import parse_deal_text
from absflow.deal.model import DealStatus

DEALS = Path(__file__).resolve().parents[2] / "examples" / "deals"
QILU = parse_deal_text((DEALS / "03_qilu_dfzq_1.yaml").read_text(encoding="utf-8"))


def _keep(principal: float, interest: float) -> float:
    return 0.0


def test_recoveries_arrive_lag_months_after_the_default() -> None:
    first_default = 1_000_000.0 * 0.001  # on 2026-01-31 (the first day after 30 January)
    pool = _AggregatePool(balance=1_000_000.0, rate=0.0, daily_repay=0.0, daily_default=0.001, severity=0.4,
                          recovery_lag_months=1)
    _, _, defaults, received, _ = pool.run_days(date(2026, 1, 30), 28, _keep)  # 31 January … 27 February
    assert received == 0.0 and defaults > 0
    # the 31 January default is due a month later: 28 February, the last day of that month
    _, _, _, on_28_feb, _ = pool.run_days(date(2026, 2, 27), 1, _keep)
    assert on_28_feb == pytest.approx(0.6 * first_default, rel=1e-12)
    _, _, _, on_1_mar, _ = pool.run_days(date(2026, 2, 28), 1, _keep)  # the 1 February default
    assert on_1_mar == pytest.approx(0.6 * first_default * (1 - 0.001), rel=1e-12)
    assert sum(pool.pending.values()) > 0  # February's later defaults are still to come


def test_no_lag_recovers_the_same_day() -> None:
    pool = _AggregatePool(balance=1_000.0, rate=0.0, daily_repay=0.0, daily_default=0.01, severity=0.25)
    _, _, defaults, recoveries, _ = pool.run_days(date(2026, 3, 1), 10, _keep)
    assert recoveries == pytest.approx(0.75 * defaults, rel=1e-12)


def test_revolving_deal_with_a_lag_recovers_later_and_conserves_cash() -> None:
    now = run_deal(QILU, default_calendar(), Scenario(cdr=0.004, severity=0.5))
    later = run_deal(QILU, default_calendar(), Scenario(cdr=0.004, severity=0.5, recovery_lag_months=4))
    rec_now = [r.pool.recoveries_fen for r in now.periods]
    rec_later = [r.pool.recoveries_fen for r in later.periods]
    assert sum(rec_now) > sum(rec_later) > 0  # the last four months' defaults are not recovered inside the deal
    assert rec_later[0] < rec_now[0]
    for r in later.periods:
        assert r.cash_in_fen == r.cash_out_fen + sum(r.accounts_end_fen.values()) - sum(r.accounts_begin_fen.values())


def test_fund_idle_rate_is_the_cash_that_found_no_assets() -> None:
    base = run_deal(QILU, default_calendar(), Scenario())
    # every reinvestable yuan buys assets on revolving days; the interim window's cash is set aside, not idle
    assert all(r.pool.fund_idle_rate == 0 for r in base.periods)
    assert not any(t.breached for r in base.periods for t in r.triggers if t.trigger_id == "idle_funds")
    idle = run_deal(QILU, default_calendar(), Scenario(unreinvested_share=0.1))
    first = idle.periods[0]
    # 10% of six months' reinvestable collections (30% of the pool a month) wait for the payment date
    assert first.revolving_allowed and first.pool.purchases_fen < base.periods[0].pool.purchases_fen
    assert Decimal("0.05") < first.pool.fund_idle_rate < Decimal("0.20")
    assert [t.breached for t in first.triggers if t.trigger_id == "idle_funds"] == [False]
    lots = run_deal(QILU, default_calendar(), Scenario(unreinvested_share=0.5))
    assert lots.periods[0].pool.fund_idle_rate > Decimal("0.20")  # the 20% trigger is breached: revolving stops
    assert [t.breached for t in lots.periods[0].triggers if t.trigger_id == "idle_funds"] == [True]
    assert not lots.periods[1].revolving_allowed
    for run in (idle, lots):
        for r in run.periods:
            assert r.cash_in_fen == r.cash_out_fen + sum(r.accounts_end_fen.values()) - sum(
                r.accounts_begin_fen.values())
        assert run.tranche_loss_fen("A") == 0


def test_static_pool_delinquency_comes_from_the_scenario() -> None:
    deal = parse_deal_text(static_deal_text(REP_LINE_POOL))
    run = run_deal(deal, default_calendar(), Scenario(delinquency_rate=0.03))
    first = run.periods[0].pool
    assert first.delinquent_fen == pytest.approx(0.03 * first.end_balance_fen, abs=1)
    assert run.periods[0].status is DealStatus.AMORTIZING



def test_breakeven_says_when_no_loss_ever_occurs(cli: CliRunner, tmp_path: Path) -> None:
    deal = tmp_path / "deal.yaml"
    deal.write_text(static_deal_text(REP_LINE_POOL), encoding="utf-8")
    no_severity = tmp_path / "s0.yaml"
    no_severity.write_text("cdr: 0.2\nseverity: 0\n", encoding="utf-8")
    result = cli.invoke(app, ["cashflow", "breakeven", str(deal), "--tranche", "A", "--scenario",
                                 str(no_severity), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["status"] == "never_breaks" and body["value"] is None
    assert (body["low"], body["high"]) == (0.0, 100.0) and body["loss_at_value"] == 0
    assert "no breakeven" in body["message"]
    text = cli.invoke(app, ["cashflow", "breakeven", str(deal), "--tranche", "A", "--scenario", str(no_severity)])
    assert text.exit_code == 0 and "no breakeven" in text.stdout
    # severity mode: with no defaults no severity loses anything either
    result = cli.invoke(app, ["cashflow", "breakeven", str(deal), "--tranche", "B", "--over", "severity",
                                 "--json"])
    assert json.loads(result.stdout)["status"] == "never_breaks"
    # and with defaults the subordinate's severity breakeven is found inside [0, 1]
    stressed = tmp_path / "s1.yaml"
    stressed.write_text("cdr: 0.3\n", encoding="utf-8")
    found = json.loads(cli.invoke(app, ["cashflow", "breakeven", str(deal), "--tranche", "B", "--over",
                                           "severity", "--scenario", str(stressed), "--json"]).stdout)
    assert found["status"] == "found" and 0 < found["value"] < 1 and found["loss_at_value"] <= 0.005
