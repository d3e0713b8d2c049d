"""`absflow cashflow repline` and `grid` end to end (CliRunner, SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from absflow.cashflow.projection import level_payment
from absflow.cli.main import app

KEYS = ["period", "begin_balance", "scheduled_principal", "prepayment", "default", "loss", "recovery", "interest",
        "net_interest", "end_balance"]


def test_repline_json_has_exactly_the_keys_and_adds_up(cli: CliRunner) -> None:
    out = cli.invoke(app, ["cashflow", "repline", "--balance", "100000", "--rate", "0.095", "--term", "360",
                              "--net-rate", "0.09", "--psa", "150", "--sda", "100", "--severity", "0.35",
                              "--lag", "12", "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert list(body) == ["periods", "wal_years", "cumulative_default", "cumulative_loss"]
    periods = body["periods"]
    assert len(periods) == 372
    assert all(list(p) == KEYS for p in periods)
    assert all(isinstance(p[k], (int, float)) for p in periods for k in KEYS)
    first = periods[0]
    assert first["begin_balance"] == 100000.0
    # SF-4 month 1 scaled to 100,000 (to the fen, after 100% SDA month-1 defaults of 1.67)
    assert first["default"] == pytest.approx(1.67, abs=0.01)
    assert first["net_interest"] == pytest.approx(749.99, abs=0.01)
    principal = sum(p["scheduled_principal"] + p["prepayment"] + p["default"] for p in periods)
    assert round(principal, 2) == 100000.0
    assert round(sum(p["loss"] + p["recovery"] for p in periods), 2) == round(sum(p["default"] for p in periods), 2)
    assert body["cumulative_loss"] == pytest.approx(0.35 * body["cumulative_default"], rel=1e-12)
    assert 0 < body["wal_years"] < 30


def test_repline_level_payment_and_table(cli: CliRunner) -> None:
    out = cli.invoke(app, ["cashflow", "repline", "--balance", "100000", "--rate", "0.095", "--term", "360",
                              "--json"])
    periods = json.loads(out.stdout)["periods"]
    assert periods[0]["scheduled_principal"] + periods[0]["interest"] == pytest.approx(840.85, abs=0.011)
    assert round(level_payment(100000, 0.095, 360), 2) == 840.85
    shown = cli.invoke(app, ["cashflow", "repline", "--balance", "1000", "--rate", "0.1", "--term", "3",
                                "--cpr", "0.1"])
    assert shown.exit_code == 0, shown.output
    assert "WAL 0.16" in shown.stdout and "1,000.00" in shown.stdout


def test_repline_bad_options_exit_2_with_every_problem(cli: CliRunner) -> None:
    out = cli.invoke(app, ["cashflow", "repline", "--balance", "-5", "--rate", "0.1", "--term", "0",
                              "--cpr", "6", "--psa", "100", "--severity", "1.5", "--json"])
    assert out.exit_code == 2
    fields = sorted(e["field"] for e in json.loads(out.stdout)["errors"])
    assert fields == ["--balance", "--cpr", "--cpr/--psa", "--severity", "--term"]


def test_grid_sequential_writes_csv_json_xlsx(cli: CliRunner, tmp_path: Path) -> None:
    for suffix in ("csv", "json", "xlsx"):
        target = tmp_path / f"grid.{suffix}"
        out = cli.invoke(app, ["cashflow", "grid", "--synthetic", "50", "--cpr", "0,0.1", "--cdr", "0:0.04:0.02",
                                  "--severity", "0.5", "--sequential", "--out", str(target), "--json"])
        assert out.exit_code == 0, out.output
        assert target.stat().st_size > 0
    rows = json.loads((tmp_path / "grid.json").read_text())["scenarios"]
    assert len(rows) == 6
    assert [(r["prepayment"], r["default"]) for r in rows] == [
        (0.0, 0.0), (0.0, 0.02), (0.0, 0.04), (0.1, 0.0), (0.1, 0.02), (0.1, 0.04)]
    assert rows[0]["cumulative_loss"] == 0
    assert rows[2]["cumulative_loss"] > rows[1]["cumulative_loss"] > 0
    assert (tmp_path / "grid.csv").read_text().splitlines()[0].startswith("index,prepayment,default")
