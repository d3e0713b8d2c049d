"""Tranche metrics and breakeven on a seed-001 deal (齐鲁资管-东方证券1号, base scenario)."""

from __future__ import annotations

import importlib.util
import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from absflow.calendar import default_calendar
from absflow.cashflow.runner import Scenario, run_deal
from absflow.cli.main import app
from absflow.deal import parse_deal_text

pytestmark = pytest.mark.skipif(importlib.util.find_spec("absflow.cashflow.pricing") is None,
                                reason="needs the cash-flow pricing functions")

PATH = Path(__file__).resolve().parents[2] / "examples" / "deals" / "03_qilu_dfzq_1.yaml"
DEAL = parse_deal_text(PATH.read_text(encoding="utf-8"))


def test_senior_bullet_metrics() -> None:
    from absflow.cashflow.deal_pricing import tranche_metrics

    run = run_deal(DEAL, default_calendar(), Scenario())
    at_par = tranche_metrics(run, "A")
    assert at_par.price == pytest.approx(100.0, abs=1e-9)
    # one bullet on 2017-12-01, 548 days after settlement on 2016-06-01
    assert at_par.wal_years == pytest.approx(548 / 365, abs=1e-12)
    assert at_par.principal_window == (date(2017, 12, 1), date(2017, 12, 1))
    assert at_par.loss_yuan == 0.0
    # coupons of 3.35% p.a. paid semi-annually: annually-compounded yield a little above 3.35%
    assert 0.0335 < at_par.yield_rate < 0.0340
    assert 0 < at_par.modified_duration < at_par.macaulay_duration < at_par.wal_years
    again = tranche_metrics(run, "A", yield_rate=at_par.yield_rate)
    assert again.price == pytest.approx(100.0, abs=1e-8)
    cheaper = tranche_metrics(run, "A", price=99.0)
    assert cheaper.yield_rate > at_par.yield_rate


def test_subordinate_xirr() -> None:
    from absflow.cashflow.deal_pricing import tranche_metrics

    run = run_deal(DEAL, default_calendar(), Scenario())
    sub = tranche_metrics(run, "B")
    assert sub.xirr is not None and sub.xirr > 0.10  # residual well above its 50,000,000.00 in the base case


def test_senior_breakeven_default_multiple() -> None:
    from absflow.cashflow.deal_pricing import BreakevenVariable, breakeven_for_tranche
    from absflow.cashflow.pricing import BreakevenStatus

    found = breakeven_for_tranche(DEAL, default_calendar(), "A", scenario=Scenario(cdr=0.02, severity=1.0),
                                  variable=BreakevenVariable.DEFAULT_MULTIPLE, high=50.0, xtol=1e-3)
    assert found.status is BreakevenStatus.FOUND
    assert found.loss_at_value_yuan <= 0.005
    just_above = run_deal(DEAL, default_calendar(), Scenario(cdr=0.02, severity=1.0,
                                                               default_multiple=found.value + 0.01))
    assert just_above.tranche_loss_fen("A") > 0



def test_price_and_breakeven_commands(cli: CliRunner) -> None:
    out = cli.invoke(app, ["cashflow", "price", str(PATH), "--price", "A=99.5", "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert [t["tranche"] for t in body["tranches"]] == ["A", "B"]
    assert body["tranches"][0]["price"] == pytest.approx(99.5)
    bad = cli.invoke(app, ["cashflow", "price", str(PATH), "--yield", "Z=0.05", "--json"])
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["errors"][0]["code"] == "unknown_tranche"
    be = cli.invoke(app, ["cashflow", "breakeven", str(PATH), "--tranche", "A", "--over", "severity", "--json"])
    assert be.exit_code == 0, be.output
    result = json.loads(be.stdout)
    assert result["over"] == "severity" and result["status"] in ("found", "never_breaks")
