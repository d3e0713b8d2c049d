"""A deal's scenario grid: the waterfall per scenario, tranche metrics, identical on Dask and sequentially."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from tests.cashflow.static_deal import REP_LINE_POOL, static_deal_text
from typer.testing import CliRunner

from absflow.calendar import default_calendar
from absflow.cashflow.deal_pricing import tranche_metrics
from absflow.cashflow.runner import Scenario as RunScenario
from absflow.cashflow.runner import run_deal
from absflow.cli.main import app
from absflow.deal import parse_deal_text
from absflow.distributed.grid import DealPayload, GridSpec, deal_metrics, run_dask, run_scenario, run_sequential

STATIC = parse_deal_text(static_deal_text(REP_LINE_POOL))
REVOLVING_PATH = Path(__file__).resolve().parents[2] / "examples" / "deals" / "03_qilu_dfzq_1.yaml"


def _same(a: list[Any], b: list[Any]) -> None:
    assert [r.scenario for r in a] == [r.scenario for r in b]
    for x, y in zip(a, b, strict=True):
        assert x.metrics.keys() == y.metrics.keys()
        for key, value in x.metrics.items():
            other = y.metrics[key]
            assert value == other or (isinstance(value, float) and math.isnan(value) and math.isnan(other)), key


def test_grid_point_is_the_deal_run_under_that_scenario() -> None:
    spec = GridSpec(prepayment=(0.1,), default=(0.3,), severity=(0.8,), rate_shift=(0.01,), recovery_lag_periods=3)
    point = spec.scenarios()[0]
    scenario = run_scenario(RunScenario(name="base", delinquency_rate=0.01), point)
    assert (scenario.cpr, scenario.cdr, scenario.severity, scenario.recovery_lag_months, scenario.rate_shift,
            scenario.delinquency_rate) == (0.1, 0.3, 0.8, 3, 0.01, 0.01)
    metrics = deal_metrics(DealPayload(STATIC, default_calendar()), point)
    assert deal_metrics(DealPayload(STATIC, default_calendar()).with_periods(), point) == metrics
    run = run_deal(STATIC, default_calendar(), scenario)
    a, b = tranche_metrics(run, "A"), tranche_metrics(run, "B")
    assert metrics["A.yield"] == a.yield_rate and metrics["A.wal_years"] == a.wal_years
    assert metrics["A.modified_duration"] == a.modified_duration
    assert metrics["B.loss"] == b.loss_yuan == run.tranche_loss_fen("B") / 100
    assert metrics["B.irr"] == b.xirr
    assert a.principal_window is not None and metrics["A.window_start"] == a.principal_window[0].isoformat()
    assert "A.irr" not in metrics  # IRR is reported for subordinate tranches


def test_metrics_move_the_right_way() -> None:
    payload = DealPayload(STATIC, default_calendar())
    spec = GridSpec(default=(0.0, 0.6), severity=(1.0,), rate_shift=(0.0, 0.02), recovery_lag_periods=2)
    calm, calm_up, stressed, _ = (r.metrics for r in run_sequential(payload, spec.scenarios(), deal_metrics))
    assert calm["A.loss"] == calm["B.loss"] == 0 and calm["pool.defaults"] == 0
    assert stressed["B.loss"] > 0 and stressed["pool.loss"] > 0
    assert stressed["B.irr"] < calm["B.irr"]
    assert calm_up["B.irr"] > calm["B.irr"]  # +200 bp on the loans, A's fixed coupon unchanged: more residual
    assert calm["A.price"] == pytest.approx(100.0)  # priced at the issue price (par) by default


def test_psa_and_sda_axes_and_given_prices() -> None:
    payload = DealPayload(STATIC, default_calendar(), prices={"A": 99.0}, yields={"B": 0.08})
    spec = GridSpec(prepayment=(100.0, 300.0), default=(0.0, 400.0), severity=(0.5,), prepayment_kind="psa",
                    default_kind="sda")
    rows = [r.metrics for r in run_sequential(payload, spec.scenarios(), deal_metrics)]
    assert all(r["A.price"] == pytest.approx(99.0) for r in rows)
    assert all(r["B.yield"] == pytest.approx(0.08) for r in rows)
    assert rows[1]["pool.defaults"] > 0 == rows[0]["pool.defaults"]
    assert rows[2]["A.wal_years"] < rows[0]["A.wal_years"]  # faster prepayment shortens the senior


def test_local_cluster_equals_sequential() -> None:
    payload = DealPayload(STATIC, default_calendar())
    spec = GridSpec(prepayment=(0.0, 0.15), default=(0.0, 0.5), severity=(0.4, 1.0), rate_shift=(0.0, 0.01),
                    recovery_lag_periods=2)
    scenarios = spec.scenarios()
    seen: list[int] = []
    on_dask = run_dask(payload, scenarios, deal_metrics, workers=2, batch_size=3,
                       progress=lambda done, total: seen.append(done))
    assert seen[-1] == len(on_dask) == 16
    _same(on_dask, run_sequential(payload, scenarios, deal_metrics))


def test_scheduler_address_over_tcp_equals_sequential() -> None:
    """A real distributed scheduler reached by its tcp:// address (an in-process LocalCluster)."""
    from dask.distributed import LocalCluster

    deal = parse_deal_text(REVOLVING_PATH.read_text(encoding="utf-8"))
    payload = DealPayload(deal, default_calendar(), base=RunScenario(recovery_lag_months=1))
    spec = GridSpec(default=(0.0, 0.05), severity=(0.5, 1.0), rate_shift=(0.0, 0.01))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None,
                      silence_logs=40) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        remote = run_dask(payload, spec.scenarios(), deal_metrics, scheduler=address)
    local = run_sequential(payload, spec.scenarios(), deal_metrics)
    _same(remote, local)
    assert local[7].metrics["A.loss"] >= local[6].metrics["A.loss"] >= 0



def test_grid_command_on_a_deal(cli: CliRunner, tmp_path: Path) -> None:
    deal = tmp_path / "deal.yaml"
    deal.write_text(static_deal_text(REP_LINE_POOL), encoding="utf-8")
    out = tmp_path / "grid.xlsx"
    result = cli.invoke(app, ["cashflow", "grid", str(deal), "--cdr", "0,0.6", "--severity", "1",
                                 "--rate-shift", "0,0.01", "--lag", "2", "--price", "A=99.5", "--sequential",
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["scenarios"]
    assert len(rows) == 4 and rows[0]["A.price"] == pytest.approx(99.5)
    assert {"A.yield", "A.wal_years", "A.modified_duration", "A.loss", "A.window_start", "A.window_end",
            "B.irr", "pool.defaults"} <= set(rows[0])
    assert rows[2]["B.loss"] > 0
    header = [c.value for c in openpyxl.load_workbook(out)["grid"][1]]
    assert "A.modified_duration" in header and "B.irr" in header
    text = cli.invoke(app, ["cashflow", "grid", str(deal), "--cdr", "0,0.6", "--sequential"])
    assert text.exit_code == 0 and "2 scenarios" in text.stdout
    both = cli.invoke(app, ["cashflow", "grid", str(deal), "--synthetic", "10", "--sequential"])
    assert both.exit_code == 2
    bad = cli.invoke(app, ["cashflow", "grid", str(deal), "--yield", "Z=0.05", "--sequential", "--json"])
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["errors"][0]["code"] == "unknown_tranche"
